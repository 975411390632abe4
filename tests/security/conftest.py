"""A populated tenant and a stranger tenant, for the tests that try every route as everyone.

Tenant A is the development platform's first deployment with one course context: Lena (a
learner) has a certificate, a graded scenario she disputed, an exercise awaiting review and a
badge from her manager Marco; Tara (trainer) has grading, a calibration session and a finished
background job; Omar is a second learner of the same course. Tenant B is a second deployment of
the same platform, with its own trainer, learner and manager. Course B is another course context
of tenant A's own deployment, with its own trainer and manager: the same LMS, but not Lena's
course. Everyone is signed in as their launch leaves them (``tests.builders``): what is
under test is what each session may reach, not the launch (tests/lms, tests/tenants.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from assessments.models import CalibrationSession, Dispute, Rubric
from core.db import db
from core.jobs import Job
from courses.models import CourseAsset, CourseResult, ExerciseSubmission
from lms import keys
from lms.devplatform import service as devplatform
from lms.models import Deployment, GradeDelivery, Platform
from lms.registry import add_deployment
from people.models import ORGANISATION, Membership, Team, User
from recognition.models import Award, Badge
from tests.assessments.test_flow import SCENARIO, grade, place_scenario, take
from tests.builders import joined, kudos, launched
from tests.courses.conftest import packs  # noqa: F401 - shared fixture
from tests.courses.flow import (
    answer,
    browser,
    exercise,
    finish_basics,
    place_course,
    post,
    start,
)
from tests.courses.test_reviews import CHARTER
from tests.lti import LtiBrowser
from tests.recognition.conftest import badges  # noqa: F401 - shared fixture

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
OTHER_DEPLOYMENT = "tenant-b"
# Names that only tenant A's pages may show; a stranger's page must never contain them.
TENANT_A_NAMES = ("Lena", "Omar Second", "CXQ101", "Customer Experience Quality (demo course)")


def launch_as(
    app,
    lti: LtiBrowser,
    persona: str,
    *,
    sub: str | None = None,
    name: str | None = None,
    link: int | None = None,
    deployment: str | None = None,
    context: str | None = None,
) -> LtiBrowser:
    """A person's browser after a real launch, optionally as another person, through an
    activity link, or from another deployment (another tenant)."""
    person = browser(app, lti)
    start_url = f"{lti.platform_base}/dev-platform/start/{persona}"
    if link is not None:
        start_url += f"?link={link}"
    login_url = person.client.get(start_url).headers["Location"]
    pending = person.authorize(person.login(login_url))

    def change(claims: dict) -> dict:
        claims = dict(claims)
        if sub:
            claims["sub"] = sub
        if name:
            claims["name"], claims["given_name"] = name, name.split()[0]
        if deployment:
            claims[CLAIM + "deployment_id"] = deployment
            claims[CLAIM + "context"] = {"id": f"{deployment}-course", "title": "B course"}
        if context:
            claims[CLAIM + "context"] = {"id": context, "label": "CXQ202", "title": "Course B"}
        return claims

    if sub or name or deployment or context:
        pending = person.resign(pending, change)
    launched = person.post_launch(pending)
    assert launched.status_code == 303, launched.status_code
    return person


@dataclass
class World:
    lena: LtiBrowser
    omar: LtiBrowser
    marco: LtiBrowser
    tara: LtiBrowser
    ada: LtiBrowser
    stranger_trainer: LtiBrowser
    stranger_learner: LtiBrowser
    stranger_manager: LtiBrowser
    course_b_trainer: LtiBrowser
    course_b_manager: LtiBrowser
    ids: dict[str, object]

    def actors(self) -> dict[str, LtiBrowser | None]:
        return {
            "anonymous": None,
            "learner": self.lena,
            "other_learner": self.omar,
            "manager": self.marco,
            "trainer": self.tara,
            "administrator": self.ada,
            "stranger_learner": self.stranger_learner,
            "stranger_manager": self.stranger_manager,
            "stranger_trainer": self.stranger_trainer,
            "course_b_trainer": self.course_b_trainer,
            "course_b_manager": self.course_b_manager,
        }


def _one(app, statement):
    with app.app_context():
        found = db.session.scalars(statement).first()
        db.session.remove()
        return found


def _tool_kid(app) -> str:
    """The tool's signing key's id (made now if no page has needed it yet)."""
    with app.app_context():
        kid = keys.active_key(db.session).kid
        db.session.commit()
        db.session.remove()
        return kid


def add_other_deployment(app) -> None:
    """Tenant B: a second deployment of the development platform."""
    with app.app_context():
        platform = db.session.scalar(select(Platform).where(Platform.client_id.is_not(None)))
        add_deployment(db.session, platform, OTHER_DEPLOYMENT)
        db.session.commit()
        db.session.remove()


@pytest.fixture
def world(app, lti, packs, badges) -> World:  # noqa: F811 - fixtures above
    add_other_deployment(app)

    basics = place_course(app, "basics")
    charter = place_course(app, "charter")
    scenario = place_scenario(app, SCENARIO)

    lena = joined(launched(lti, "learner", link=basics))
    assert start(lena, "basics").status_code == 302
    finish_basics(lena)
    lena = launched(lti, "learner", link=charter)
    start(lena, "charter")
    answer(lena, "charter", "only", {"parts": ["a"]})
    sent = exercise(lena, "charter", CHARTER)
    assert sent.status_code == 302, sent.status_code
    lena = launched(lti, "learner", link=scenario)
    assessment_id = take(lena)

    omar = joined(launched(lti, "learner", sub="omar", name="Omar Second"))
    tara = launched(lti, "trainer")
    assert grade(
        tara,
        assessment_id,
        dict.fromkeys(
            ("empathy", "active_listening", "patience", "positive_language", "adaptability"), 3
        ),
    ).status_code in (302, 303)
    post(
        lena,
        f"/assessments/{assessment_id}/dispute",
        {"reason": "I named her worry about rent and fixed the setting."},
    )
    calibrated = post(tara, f"/assessments/{assessment_id}/calibrate")
    assert calibrated.status_code == 302, calibrated.status_code

    marco = launched(lti, "manager")
    ada = launched(lti, "administrator")
    lena_id = _one(app, select(User.id).where(User.sub == devplatform.PERSONAS["learner"].sub))
    kudos_given = "You stayed on the line until the refund landed. Thank you!"
    kudos_badge = kudos(marco, lena, "kudos-customer-hero", kudos_given).badge_id

    stranger_trainer = launched(
        lti, "trainer", sub="b-trainer", name="Bea Trainer", deployment=OTHER_DEPLOYMENT
    )
    stranger_learner = launched(
        lti, "learner", sub="b-learner", name="Ben Learner", deployment=OTHER_DEPLOYMENT
    )
    stranger_manager = launched(
        lti, "manager", sub="b-manager", name="Bo Manager", deployment=OTHER_DEPLOYMENT
    )
    course_b_trainer = launched(
        lti, "trainer", sub="cb-trainer", name="Cora Trainer", context="course-b"
    )
    course_b_manager = launched(
        lti, "manager", sub="cb-manager", name="Cal Manager", context="course-b"
    )

    tara_id = _one(app, select(User.id).where(User.sub == devplatform.PERSONAS["trainer"].sub))
    with app.app_context():
        tenant_a = db.session.get(User, tara_id).platform_id
        job = Job(
            kind="insights-report",
            title="Impact report",
            platform_id=tenant_a,
            user_id=tara_id,
            status="done",
            result=b"%PDF-1.7 test",
            result_name="impact.pdf",
            result_type="application/pdf",
        )
        db.session.add(job)
        db.session.commit()
        job_id = job.id
        db.session.remove()

    deployment_a = _one(
        app,
        select(Team.deployment_id)
        .join(Membership, Membership.team_id == Team.id)
        .where(Membership.user_id == tara_id),
    )
    with app.app_context():
        org_team = Team(
            platform_id=tenant_a,
            deployment_id=deployment_a,
            source=ORGANISATION,
            external_id="billing north",
            title="Billing North",
        )
        db.session.add(org_team)
        db.session.commit()
        org_team_id = org_team.id
        db.session.remove()

    asset = _one(app, select(CourseAsset))
    ids: dict[str, object] = {
        "assessment": assessment_id,
        "scenario": SCENARIO,
        "quiz": "service-skills-basics",
        "dispute": _one(app, select(Dispute.id)),
        "calibration": _one(app, select(CalibrationSession.id)),
        "rubric": _one(app, select(Rubric.id)),
        "submission": _one(
            app,
            select(ExerciseSubmission.id).where(ExerciseSubmission.status == "awaiting_review"),
        ),
        "certificate": _one(app, select(CourseResult.certificate_code)),
        "delivery": _one(app, select(GradeDelivery.id)),
        "membership": _one(app, select(Membership.id).where(Membership.user_id == lena_id)),
        "badge": kudos_badge,
        "badge_public": _one(app, select(Badge.public_id).where(Badge.id == kudos_badge)),
        "kid": _tool_kid(app),
        "award": _one(app, select(Award.public_id)),
        "job": job_id,
        "org_team": org_team_id,
        # Ada's deployment, and tenant B's of the same platform (the registration page's rule).
        "deployment_a": deployment_a,
        "deployment_b": _one(
            app, select(Deployment.id).where(Deployment.deployment_id == OTHER_DEPLOYMENT)
        ),
        "asset_version": asset.version_id if asset else 0,
        "asset_path": asset.path if asset else "none.svg",
    }
    missing = [name for name, value in ids.items() if value is None]
    assert not missing, f"the world lacks {missing}"
    return World(
        lena,
        omar,
        marco,
        tara,
        ada,
        stranger_trainer,
        stranger_learner,
        stranger_manager,
        course_b_trainer,
        course_b_manager,
        ids,
    )
