"""The smoke test's own PostgreSQL database, made once per test file."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.conftest import PG_URL


@pytest.fixture(scope="module")
def bench_database() -> Iterator[str | None]:
    """A PostgreSQL database of the smoke test's own (None without PostgreSQL)."""
    if PG_URL is None:
        yield None
        return
    name = f"bench_smoke_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}", query=""))
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
