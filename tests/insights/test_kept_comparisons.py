"""The agents' comparison the worker keeps: stored as versioned JSON (never pickled) that reads
back as the same report, treated as absent when old or unreadable, and stale as soon as what
it covers changes, in its own LMS only."""

from __future__ import annotations

import json
import pickle
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from core.db import db
from core.jobs import Job
from insights.agents import AGENTS_JOB, KEPT_FORMAT, KEPT_VERSION, AgentComparison, pack, unpack
from insights.effects import ExposurePoint, Impact, Panel, impact
from insights.simulate import Organisation, simulate
from people.models import Team, User
from tests.courses.flow import browser, finish_basics, get, join, rows, start, text
from tests.insights.test_pages import run_jobs, upload, upload_rows_naming_agents

WAITING = "being compared in the background"
COMPARED = "At least two trained agents"  # one agent completed: compared, too few for a number


def simulated_impact() -> Impact:
    """A result with every part filled in: estimate, weeks, pre-trend, durability and the
    correlation across teams."""
    sim = simulate(Organisation(teams=16, effect=0.05), "csat", seed=5)
    panel = Panel.from_rows(sim.metric, sim.rows, period_days=7)
    return impact(sim.metric, panel, sim.trained_on, sim.exposure, window_days=28)


def test_a_kept_comparison_reads_back_as_the_computed_one():
    computed = simulated_impact()
    assert computed.did and computed.weeks and computed.pre_trend and computed.pearson
    assert computed.durability.early is not None and computed.teams[0].trained_on is not None
    names = {7: "Lena Learner", 12: "Nick Not"}
    data = pack(AgentComparison(computed, names))
    document = json.loads(data)  # plain JSON, named and versioned
    assert (document["format"], document["version"]) == (KEPT_FORMAT, KEPT_VERSION)
    assert document["result"]["did"]["effect"] == computed.did.effect
    kept = unpack(data)
    assert kept == AgentComparison(computed, names)
    assert isinstance(kept.result.exposure_points[0], ExposurePoint)
    assert isinstance(kept.result.teams[0].trained_on, date)
    assert unpack(pack(AgentComparison(None))) == AgentComparison(None)


def _with(document: dict, path: list[str | int], value: object) -> bytes:
    changed = json.loads(json.dumps(document))
    part = changed
    for step in path[:-1]:
        part = part[step]
    part[path[-1]] = value
    return json.dumps(changed).encode()


def test_an_old_or_tampered_comparison_is_absent_not_an_error():
    comparison = AgentComparison(simulated_impact(), {7: "Lena Learner"})
    document = json.loads(pack(comparison))
    refused = {
        "pickled, as kept before": pickle.dumps(comparison),
        "not JSON": b"\x00\xff not json",
        "another version": _with(document, ["version"], KEPT_VERSION + 1),
        "another format": _with(document, ["format"], "something else"),
        "text for a number": _with(document, ["result", "did", "effect"], "1e9"),
        "a field missing": json.dumps(
            {**document, "result": {k: v for k, v in document["result"].items() if k != "did"}}
        ).encode(),
        "a field too many": _with(document, ["result", "did", "extra"], 1),
        "a bad date": _with(document, ["result", "teams", "trained_on", 0], "31/12/2026"),
        "columns of two lengths": _with(document, ["result", "teams", "before"], [1.0]),
        "a bool for a count": _with(document, ["result", "teams", "after_n", 0], True),
        "a name not text": _with(document, ["names", "7"], 7),
        "not an object": b"[1, 2, 3]",
    }
    for why, data in refused.items():
        assert unpack(data) is None, why


@pytest.fixture
def kept(app, lti, packs):
    """Lena (who completed the basics course) and Nick (who did not) named in 100 survey rows
    of two teams (two imports), more than the page compares at once (10 here): the worker
    compared them and kept the result, which the page shows."""
    rows_naming_agents(app, lti)
    app.config["INSIGHTS_AGENTS_INLINE_RESPONSES"] = 10
    try:
        assert WAITING in text(get(lti, "/insights/?metric=csat&agents=1"))
        assert run_jobs(app) == 1
        assert shows_kept(app, lti)
        yield
    finally:
        del app.config["INSIGHTS_AGENTS_INLINE_RESPONSES"]


def rows_naming_agents(app, lti) -> None:
    """Lena and Nick in 80 rows of the first team (CXQ101), and Nick in 20 of a second team of
    the deployment (CXQ202)."""
    from tests.security.conftest import launch_as

    upload_rows_naming_agents(app, lti)
    launch_as(app, lti, "learner", sub="not-1", name="Nick Not", context="course-b")
    lines = [b"id,team,agent,date,score"] + [
        f"s{n},CXQ202,not-1,{date.today() - timedelta(days=n)},{1 + n % 5}".encode()
        for n in range(20)
    ]
    assert upload(app, lti, b"\n".join(lines) + b"\n", agent_column="agent").status_code == 302


def shows_kept(app, who) -> bool:
    """The page shows a kept comparison of Lena against Nick (the agents' table has Lena's
    row) and starts no job."""
    jobs = agent_jobs(app)
    page = text(get(who, "/insights/?metric=csat&agents=1"))
    table = get(who, "/insights/agents.csv?metric=csat")
    return (
        WAITING not in page
        and COMPARED in page
        and table.status_code == 200
        and f"Lena Learner,{date.today()}," in table.text
        and agent_jobs(app) == jobs
    )


def agent_jobs(app) -> int:
    return len(rows(app, Job, Job.kind == AGENTS_JOB))


def test_a_tampered_kept_row_is_compared_again(app, lti, kept):
    with app.app_context():
        db.session.execute(update(Job).where(Job.kind == AGENTS_JOB).values(result=b"\x80junk"))
        db.session.commit()
        db.session.remove()
    page = get(lti, "/insights/?metric=csat&agents=1")
    assert page.status_code == 200 and WAITING in text(page)
    assert agent_jobs(app) == 2
    run_jobs(app)
    assert shows_kept(app, lti)


def test_a_team_moved_to_another_deployment_makes_the_kept_comparison_stale(app, lti, kept):
    """Survey rows go with their team: moved to another deployment, the second team's rows
    are no longer this deployment's, so its page must not show what was kept; it compares
    again."""
    from lms.models import Deployment
    from tests.security.conftest import OTHER_DEPLOYMENT, add_other_deployment

    add_other_deployment(app)
    with app.app_context():
        other = db.session.scalar(
            select(Deployment.id).where(Deployment.deployment_id == OTHER_DEPLOYMENT)
        )
        db.session.execute(update(Team).where(Team.label == "CXQ202").values(deployment_id=other))
        db.session.commit()
        db.session.remove()
    assert WAITING in text(get(lti, "/insights/?metric=csat&agents=1"))
    assert get(lti, "/insights/agents.csv?metric=csat").status_code == 404  # nothing stale
    assert agent_jobs(app) == 2
    assert run_jobs(app) == 1
    assert shows_kept(app, lti)


def test_a_completion_brought_in_makes_the_kept_comparison_stale(app, lti, kept):
    """Nick's training from before the tool, imported as past training, changes who
    completed."""
    from courses.models import PastTraining

    with app.app_context():
        nick = db.session.scalar(select(User).where(User.sub == "not-1"))
        db.session.add(
            PastTraining(
                platform_id=nick.platform_id,
                user_id=nick.id,
                training_key="course:basics",
                training_name="Basics",
                completed_on=date.today() - timedelta(days=5),
                source="test",
            )
        )
        db.session.commit()
        db.session.remove()
    assert WAITING in text(get(lti, "/insights/?metric=csat&agents=1"))


def test_another_lms_neither_staleness_nor_sight_of_the_kept_comparison(app, lti, kept):
    """LMS B's people complete courses, import surveys and are erased: LMS A's kept comparison
    stays; and LMS B's trainer never sees it."""
    from insights import forget_agent
    from tests.tenants import launch_from_lms_b

    learner_b = launch_from_lms_b(app, browser(app, lti), "learner", sub="b-lena")
    join(learner_b)
    start(learner_b, "basics")
    finish_basics(learner_b)
    trainer_b = launch_from_lms_b(app, browser(app, lti), "trainer", sub="b-tara")
    survey = [b"id,team,agent,date,score"] + [
        f"b{n},B-COURSE,b-lena,{date.today() - timedelta(days=n % 20)},{1 + n % 5}".encode()
        for n in range(40)
    ]
    imported = upload(app, trainer_b, b"\n".join(survey) + b"\n", agent_column="agent")
    assert imported.status_code == 302
    assert shows_kept(app, lti)
    # LMS B's own agents (its Lena among them) are compared for LMS B, not shown from LMS A's.
    assert WAITING in text(get(trainer_b, "/insights/?metric=csat&agents=1"))
    with app.app_context():
        b_lena = db.session.scalar(select(User.id).where(User.sub == "b-lena"))
        forget_agent(db.session, b_lena)
        db.session.commit()
        db.session.remove()
    assert shows_kept(app, lti)


def test_moves_between_teams_and_archived_teams_keep_it_as_they_change_nothing_it_reads(
    app, lti, kept
):
    """Survey rows keep the team they were answered for and an agent's training date is their
    own: Nick leaving the second team and the team archived leave the comparison as it was,
    so the kept one stays (no job), and it equals one computed afresh."""
    from core.db import utcnow
    from insights.agents import kept_comparison
    from insights.report import ReportQuery, chosen_courses, compare_agents
    from people.models import Membership

    with app.app_context():
        second = db.session.scalar(select(Team.id).where(Team.label == "CXQ202"))
        db.session.execute(
            update(Membership)
            .where(Membership.team_id == second)
            .values(active=False, left_on=date.today() - timedelta(days=3))
        )
        db.session.execute(update(Team).where(Team.id == second).values(archived_at=utcnow()))
        db.session.commit()
        db.session.remove()
    assert shows_kept(app, lti)
    with app.app_context():
        trainer = db.session.scalar(select(User).where(User.sub == "dev-trainer-1"))
        job = db.session.scalar(select(Job).where(Job.kind == AGENTS_JOB))
        query = ReportQuery(metric="csat", agents=True)
        chosen = chosen_courses(db.session, trainer.platform_id, query)
        deployment_id = job.params["key"]["deployment_id"]
        afresh = compare_agents(db.session, trainer.platform_id, query, chosen, deployment_id)
        key, stamp = job.params["key"], job.params["stamp"]
        assert afresh.result is not None and afresh.result.teams
        assert kept_comparison(db.session, trainer.platform_id, key, stamp) == afresh
        db.session.remove()
