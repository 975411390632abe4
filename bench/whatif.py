"""Prototype fixes for the launch hotspots, applied by monkeypatching: NOT the product.

They exist to estimate what each proposed change to the product would save before anyone
writes it properly. ``bench/profile_launch.py --what-if …`` applies them in-process;
``bench/launch.py --what-if …`` serves ``whatif_wsgi:app`` (the product app with the same
patches) from gunicorn. Results measured with any of these are labelled as such.

    registry-cache keep each platform and deployment registration per process for 60 s
                   (detached rows) instead of one SELECT per request for the platform and
                   one per launch for the deployment; the cookie-check request then needs
                   no database at all
    jwks-memo      keep the platform's parsed public key per process (by platform, kid) for
                   60 s instead of reading and parsing the cached JWKS row on every launch
    no-pre-ping    no pool pre-ping (use pool_recycle instead): one round trip less per
                   connection checkout, i.e. per request

Adopted by the product meanwhile (so no longer here): one platform lookup per request,
cached frame-ancestor origins (and no CSP on redirects), INSERT … ON CONFLICT for lti_state,
no resource-link write when nothing changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

FIXES: dict[str, Callable[[Any], None]] = {}
TTL = 60.0


def fix(name: str) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    def register(function: Callable[[Any], None]) -> Callable[[Any], None]:
        FIXES[name] = function
        return function

    return register


@fix("jwks-memo")
def _jwks_memo(app: Any) -> None:
    from lms.launch import ToolMessageLaunch

    original = ToolMessageLaunch._platform_public_key
    memo: dict[tuple[int, str, str], tuple[float, Any]] = {}

    def platform_public_key(self: Any, kid: str, alg: str) -> Any:
        key = (self._conf.platform.id, kid, alg)
        hit = memo.get(key)
        if hit is not None and time.monotonic() - hit[0] < TTL:
            return hit[1]
        public = original(self, kid, alg)
        memo[key] = (time.monotonic(), public)
        return public

    ToolMessageLaunch._platform_public_key = platform_public_key  # type: ignore[method-assign]


@fix("registry-cache")
def _registry_cache(app: Any) -> None:
    from lms.tool_config import DatabaseToolConf

    lookup, find_deployment = DatabaseToolConf._lookup, DatabaseToolConf.find_deployment_by_params
    platforms: dict[tuple[str, str | None], tuple[float, Any]] = {}
    deployments: dict[tuple[int, str], tuple[float, Any]] = {}

    def cached_lookup(self: Any, iss: str, client_id: str | None) -> Any:
        hit = platforms.get((iss, client_id))
        if hit is not None and time.monotonic() - hit[0] < TTL:
            return hit[1]
        platform = lookup(self, iss, client_id)
        if platform is not None:
            self._session.expunge(platform)  # a detached row: only its columns are read
        platforms[(iss, client_id)] = (time.monotonic(), platform)
        return platform

    def cached_deployment(self: Any, iss: str, deployment_id: str, client_id: str) -> Any:
        platform = self.platform or self.find_platform(iss, client_id)
        if platform is None or not isinstance(deployment_id, str):
            return None
        hit = deployments.get((platform.id, deployment_id))
        if hit is not None and time.monotonic() - hit[0] < TTL:
            self.deployment = hit[1]
            return hit[2]
        found = find_deployment(self, iss, deployment_id, client_id)
        if self.deployment is not None:
            self._session.expunge(self.deployment)
            deployments[(platform.id, deployment_id)] = (time.monotonic(), self.deployment, found)
        return found

    DatabaseToolConf._lookup = cached_lookup  # type: ignore[method-assign]
    DatabaseToolConf.find_deployment_by_params = cached_deployment  # type: ignore[method-assign]


@fix("no-pre-ping")
def _no_pre_ping(app: Any) -> None:
    from core.db import db

    with app.app_context():
        db.engine.pool._pre_ping = False


def apply(app: Any, names: list[str]) -> None:
    unknown = [name for name in names if name not in FIXES]
    if unknown:
        raise SystemExit(f"unknown --what-if fix: {', '.join(unknown)} (known: {', '.join(FIXES)})")
    for name in names:
        FIXES[name](app)


def parse(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    return list(FIXES) if names == ["all"] else names
