"""``flask insights impact``: the page's report in a terminal, or one JSON object to script."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from core.db import db
from courses.models import Course, CourseResult, Enrolment
from insights.effects import EPOCH, Panel, impact
from insights.models import TeamWeeklyRollup
from insights.simulate import Organisation, simulate
from lms.models import Deployment
from people.models import Membership, Team, User

KEYS = {
    "metric",
    "estimate",
    "ci_low",
    "ci_high",
    "trained_teams",
    "comparison_teams",
    "pre_trend_p",
    "durability",
    "durability_reason",
    "refused",
}


@pytest.fixture
def organisation(app, lti, packs):
    """A simulated organisation of 16 teams in the database: weekly CSAT roll-ups, two people
    per team, and for trained teams both people completing "basics" on the training date."""
    lti.launch_and_follow("trainer")
    sim = simulate(Organisation(teams=16, effect=0.05), "csat", seed=5)
    with app.app_context():
        deployment = db.session.scalar(select(Deployment))
        course = db.session.scalar(select(Course).where(Course.slug == "basics"))
        ids = {}
        for number in range(16):
            team = Team(
                platform_id=deployment.platform_id,
                deployment_id=deployment.id,
                external_id=f"sim-{number}",
                title=f"Team {number}",
            )
            db.session.add(team)
            db.session.flush()
            ids[number] = team.id
            for person in range(2):
                user = User(
                    platform_id=deployment.platform_id,
                    sub=f"sim-{number}-{person}",
                    name=f"Agent {number}.{person}",
                )
                db.session.add(user)
                db.session.flush()
                db.session.add(Membership(user_id=user.id, team_id=team.id, lms_role="learner"))
                if number in sim.trained_on:
                    when = datetime.combine(sim.trained_on[number], datetime.min.time(), UTC)
                    enrolment = Enrolment(
                        user_id=user.id,
                        course_id=course.id,
                        platform_id=deployment.platform_id,
                        deployment_id=deployment.id,
                        team_id=team.id,
                        started_at=when,
                    )
                    db.session.add(enrolment)
                    db.session.flush()
                    db.session.add(
                        CourseResult(
                            enrolment_id=enrolment.id,
                            user_id=user.id,
                            course_id=course.id,
                            version="1",
                            score_percent=90.0,
                            completed_at=when,
                            certificate_code=f"sim-{number}-{person}",
                            learner_name="Agent",
                            course_title=course.title,
                        )
                    )
        for row in sim.rows:
            team, day, *counts = (int(v) for v in row)
            db.session.add(
                TeamWeeklyRollup(
                    team_id=ids[team],
                    metric="csat",
                    week=EPOCH + timedelta(days=day),
                    platform_id=deployment.platform_id,
                    **dict(
                        zip(
                            (
                                "responses",
                                "score_sum",
                                "top_two_box",
                                "promoters",
                                "passives",
                                "detractors",
                            ),
                            counts,
                            strict=True,
                        )
                    ),
                )
            )
        db.session.commit()
        platform_id = deployment.platform_id
        db.session.remove()
    return platform_id, sim, ids


def test_json_gives_the_estimate_the_page_gives(app, lti, runner, organisation):
    platform_id, sim, _ = organisation
    args = ["insights", "impact", "--platform-id", str(platform_id), "--metric", "csat"]
    done = runner.invoke(args=[*args, "--json", "--courses", "basics"])
    assert done.exit_code == 0, done.output
    out = json.loads(done.output)
    assert out.keys() >= KEYS
    # Independently: the same analysis straight from the simulated rows.
    expected = impact("csat", Panel.from_rows("csat", sim.rows, 7), sim.trained_on, {})
    assert out["estimate"] == pytest.approx(expected.did.effect, abs=1e-9)
    assert (out["ci_low"], out["ci_high"]) == pytest.approx(
        (expected.did.low, expected.did.high), abs=1e-9
    )
    assert out["trained_teams"] == expected.did.trained == len(sim.trained_on)
    assert out["comparison_teams"] == expected.did.comparison
    assert out["refused"] is None and out["durability"] in ("held", "faded", "unclear")
    assert out["durability_reason"] == expected.durability.reason
    # The page shows the same estimate; the text output the same sentence.
    page = lti.client.get(lti.tool_base + "/insights/?metric=csat&course=basics")
    assert f"<strong>{out['estimate']:+.1f}</strong>" in page.text
    text = runner.invoke(args=args)
    assert f"a difference of {out['estimate']:+.2f}" in text.output
    assert "Did it last?" in text.output and "Week by week:" in text.output
    # The mean score, a ramp-up and "first person completed" are options too.
    options = ["--json", "--csat-as", "mean", "--ramp-up-days", "14", "--share", "first"]
    mean = json.loads(runner.invoke(args=[*args, *options]).output)
    assert mean["measure"] == "csat_mean" and mean["ramp_up_days"] == 14 and mean["share"] == 0
    assert abs(mean["estimate"]) < 1  # points on the 1-5 scale
    # The page's CSVs follow the choice (the summary table is the JSON's numbers).
    csv = lti.client.get(
        lti.tool_base + "/insights/summary.csv?metric=csat&csat_as=mean&ramp=14"
        "&share=0&course=basics"
    )
    assert "training-impact-csat-mean-summary-" in csv.headers["Content-Disposition"]
    assert f"estimate,{mean['estimate']}" in csv.text and "measure,csat_mean" in csv.text


def test_too_few_data_give_no_estimate_and_say_why(app, lti, runner, packs):
    lti.launch_and_follow("learner")
    with app.app_context():
        platform_id = db.session.scalar(select(Deployment.platform_id))
        db.session.remove()
    args = ["insights", "impact", "--platform-id", str(platform_id), "--metric", "nps"]
    out = json.loads(runner.invoke(args=[*args, "--json"]).output)
    assert out.keys() >= KEYS
    assert out["estimate"] is None and out["ci_low"] is None and out["ci_high"] is None
    assert "At least two trained teams" in out["refused"]
    assert out["trained_teams"] == 0 and out["durability"] == "unclear"
    assert "No NPS results yet." in runner.invoke(args=args).output
    wrong = runner.invoke(args=[*args, "--courses", "basics,nope"])
    assert wrong.exit_code != 0 and "No course nope" in wrong.output
    missing = runner.invoke(
        args=["insights", "impact", "--platform-id", "999999", "--metric", "csat"]
    )
    assert missing.exit_code != 0 and "No platform 999999" in missing.output


def test_the_page_takes_the_new_options():
    from werkzeug.datastructures import MultiDict

    from insights.report import ReportQuery

    query = ReportQuery.from_args(MultiDict({"share": "0", "csat_as": "mean", "ramp": "14"}))
    assert (query.share, query.csat_as, query.ramp) == (0, "mean", 14)
    again = ReportQuery.from_args(MultiDict(query.as_args()))
    assert (again.share, again.csat_as, again.ramp) == (0, "mean", 14)
    odd = ReportQuery.from_args(MultiDict({"csat_as": "median", "ramp": "5"}))
    assert (odd.csat_as, odd.ramp) == ("top2", 0)
    assert date(2025, 1, 6).weekday() == 0  # the simulator's weeks start on Mondays
