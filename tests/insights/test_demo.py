"""The demo organisation ``flask demo load`` brings: a newcomer's first launch shows teams,
people and managers, an impact estimate with its interval, and a manager's weekly trend; a
second load changes nothing."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import func, select

from core.db import db
from insights.demo import TEAMS, load_organisation
from insights.report import ReportQuery, build_report, impact_summary
from lms.devplatform import service as devplatform
from people.models import ORGANISATION, Membership, Team, User
from tests.courses.flow import browser, get, text


def _load(app: Flask) -> list[str]:
    """What ``flask demo load`` runs, with the small survey volume; the development platform
    is registered by the test fixture already (at its own addresses)."""
    lines = []
    with app.app_context():
        for loader in app.extensions["demo_loaders"]:
            if loader is devplatform.load_demo:
                continue
            if loader.__module__ == "insights.demo":
                lines.append(load_organisation(db.session, app.config["SECRET_KEY"], small=True))
            else:
                lines.append(loader(app))
        db.session.remove()
    return lines


def _row_counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        counts = {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }
        db.session.remove()
    return counts


def test_the_demo_organisation_shows_an_estimate_a_trend_and_loads_once(app, lti):
    lines = _load(app)
    assert lines[-1].startswith("Demo organisation: 123 people"), lines[-1]

    with app.app_context():
        session = db.session
        teams = dict(
            session.execute(select(Team.title, Team.id).where(Team.source == ORGANISATION)).all()
        )
        assert set(TEAMS) <= set(teams) and len(TEAMS) >= 12
        platform_id = session.scalar(select(Team.platform_id).where(Team.id == teams[TEAMS[0]]))
        people = session.scalar(
            select(func.count(func.distinct(Membership.user_id)))
            .join(Team, Team.id == Membership.team_id)
            .where(Team.source == ORGANISATION, Membership.active.is_(True))
        )
        assert people >= 100

        def member(email: str, team: str, *, leads: bool) -> bool:
            return (
                session.scalar(
                    select(Membership.id)
                    .join(User, User.id == Membership.user_id)
                    .where(
                        User.email == email,
                        Membership.team_id == teams[team],
                        Membership.leads.is_(leads),
                    )
                )
                is not None
            )

        lena, marco = devplatform.PERSONAS["learner"], devplatform.PERSONAS["manager"]
        assert member(lena.email, "Billing North", leads=False)
        assert member(marco.email, "Billing North", leads=True)
        assert member(marco.email, "Billing South", leads=True)

        summary = impact_summary(build_report(session, platform_id, ReportQuery(metric="csat")))
        assert summary["refused"] is None, summary["refused"]
        assert isinstance(summary["estimate"], float)
        assert summary["ci_low"] < summary["estimate"] < summary["ci_high"]
        assert summary["trained_teams"] >= 2 and summary["comparison_teams"] >= 2
        db.session.remove()

    trainer = browser(app, lti)
    trainer.launch_and_follow("trainer")
    impact = text(get(trainer, "/insights/?metric=csat"))
    assert re.search(r"a difference of [+-]\d+\.\d \(95% CI [+-]\d+\.\d to [+-]\d+\.\d\)", impact)
    cohort = text(get(trainer, "/courses/cohort?course=net-promoter-score"))
    assert "Started the course" in cohort and "Completed the course" in cohort

    manager = browser(app, lti)
    page = text(manager.launch_and_follow("manager"))
    assert "Billing North: customer results" in page
    assert "Billing South: customer results" in page
    assert "CSAT by week" in page and "The team counted as trained on" in page

    before = _row_counts(app)
    again = _load(app)
    assert again[-1] == "Demo organisation: already loaded (nothing changed)"
    assert _row_counts(app) == before
