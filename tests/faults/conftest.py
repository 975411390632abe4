"""Fixtures shared by the fault tests: a course whose gradebook is a ``FakeLms`` and real
``flask lms worker`` processes on the test database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, update

from core.db import db, utcnow
from lms import grades
from lms.models import GradeDelivery, Platform, ResourceLink
from people.models import User
from tests.conftest import Live
from tests.faults.fake_lms import FakeLms
from tests.processes import FLASK, Service, service_env, start


@dataclass
class Course:
    """Learners of one activity whose scores go to ``lms`` (which starts down: not listening)."""

    app: Flask
    lms: FakeLms
    link_id: int
    users: dict[str, int] = field(default_factory=dict)  # LTI user id (sub) -> user id

    def add_learners(self, *subs: str) -> None:
        with self.app.app_context():
            link = db.session.get(ResourceLink, self.link_id)
            for sub in subs:
                user = User(platform_id=link.platform_id, sub=sub, name=sub.title())
                db.session.add(user)
                db.session.flush()
                self.users[sub] = user.id
            db.session.commit()
            db.session.remove()

    def enqueue(self, sub: str, score: float) -> int:
        with self.app.app_context():
            row = grades.enqueue_score(
                db.session,
                user_id=self.users[sub],
                resource_link_id=self.link_id,
                score_given=score,
                score_maximum=10.0,
            )
            db.session.commit()
            delivery_id = row.id
            db.session.remove()
        return delivery_id

    def deliveries(self) -> dict[str, GradeDelivery]:
        """The outbox by LTI user id (one score each in these tests)."""
        with self.app.app_context():
            rows = db.session.scalars(select(GradeDelivery).order_by(GradeDelivery.id)).all()
            db.session.expunge_all()
            db.session.remove()
        return {row.lti_user_id: row for row in rows}

    def end_leases(self) -> int:
        """What 60 seconds of waiting would do to the leases of claimed rows."""
        with self.app.app_context():
            ended = db.session.execute(
                update(GradeDelivery)
                .where(GradeDelivery.status == grades.SENDING)
                .values(lease_until=utcnow() - timedelta(seconds=1))
            ).rowcount
            db.session.commit()
            db.session.remove()
        return ended


@pytest.fixture
def course(app: Flask, lti) -> Iterator[Course]:  # type: ignore[no-untyped-def]
    """A real launch creates the platform, deployment and activity; then the activity's
    gradebook and the platform's token endpoint are moved to a ``FakeLms``."""
    assert lti.launch("learner").status_code == 303
    lms = FakeLms()
    with app.app_context():
        link = db.session.scalar(select(ResourceLink))
        link.ags_lineitem_url = f"{lms.base}/lineitems/7/lineitem?type_id=1"
        db.session.get(Platform, link.platform_id).auth_token_url = f"{lms.base}/token"
        db.session.commit()
        link_id = link.id
        db.session.remove()
    yield Course(app, lms, link_id)
    lms.down()


@pytest.fixture
def start_worker(live: Live, tmp_path: Path) -> Iterator[Callable[[str], Service]]:
    """``flask lms worker`` processes on the test database, as an operator runs them."""
    started: list[Service] = []
    env = service_env(
        APP_ENV="testing",
        DATABASE_URL=live.database_url,
        INSTANCE_PATH=str(live.instance_path),
        PUBLIC_BASE_URL=live.tool_base,
        LOG_LEVEL="INFO",
    )

    def start_one(name: str) -> Service:
        command = [FLASK, "lms", "worker", "--poll", "0.2"]
        service = start(name, command, env, tmp_path / f"{name}.log")
        started.append(service)
        return service

    yield start_one
    for service in started:
        service.stop()
