"""The demo organisation: what ``scripts/run-demo`` (``flask demo load``) loads so a newcomer
sees the product working on an organisation's data at first launch.

A contact centre of 14 agent teams (8 agents each), their managers and a quality team, on
the development platform's LMS. Everything goes through the product's own services, so the
demo exercises what users do: the roster file (``people.roster.import_roster``), the LMS
course's member list (``lms.roster.apply_members``, as a roster sync), launches
(``lms.services.complete_launch``), past training from a file
(``courses.completions.import_completions``), six months of survey exports
(``insights.importer.import_survey``), courses taken in the tool (``courses.services``),
graded conversations and a calibration session (``assessments.scenarios``, ``.calibration``)
and badges (``recognition.services``). Scores the tool sends to the LMS wait in the grade
outbox; the grade worker of ``scripts/run-demo`` delivers them to the development platform's
gradebook.

The survey data are drawn with a fixed seed: a seasonal trend every team shares, each team's
own level and week-to-week noise, and half the teams trained at staggered dates with a modest
planted effect afterwards (``EFFECT``), so the Training impact page shows an estimate near it.
The six months end yesterday, so the demo looks current whenever it is loaded.

Loading is one transaction and happens once: a second load finds the demo's survey imports
and says so, changing nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assessments.calibration import calibration_grade, close_calibration, start_calibration
from assessments.errors import AssessmentError
from assessments.grading import grade
from assessments.library import scenarios
from assessments.models import Assessment
from assessments.scenarios import reply, start_scenario
from core.auth import Role, Viewer
from core.db import db, utcnow
from core.questions import NONCE_FIELD, Seal, correct_ids, kind_of
from courses.completions import import_completions
from courses.services import (
    CourseError,
    course_by_slug,
    find_enrolment,
    mark_done,
    outline_of,
    start_course,
    submit_check,
    submit_exercise,
)
from insights.importer import Mapping, import_survey
from insights.models import SurveyImport
from insights.simulate import SCALES
from lms.devplatform import service as devplatform
from lms.launch import ValidatedLaunch
from lms.models import Deployment, Platform
from lms.roster import apply_members
from lms.services import complete_launch
from lms.tool_config import DeploymentRef, PlatformRef
from people.models import User
from people.roster import import_roster
from people.services import ContextClaims, set_programme_consent, upsert_context_team
from recognition.models import Award
from recognition.services import RecognitionError, award_kudos, revoke, visible_badges

SEED = 20260101
DAYS = 182  # six months of survey answers, ending yesterday
TEAMS = (
    "Billing North",
    "Billing South",
    "Broadband East",
    "Broadband West",
    "Mobile Sales",
    "Mobile Care",
    "Energy Moves",
    "Energy Meters",
    "Payments",
    "Retentions",
    "Complaints",
    "Tech Support",
    "Chat and Social",
    "Business Accounts",
)
AGENTS_PER_TEAM = 8
# Every other team is trained (Billing North, Lena's and Marco's, first); the training days
# are spread over the middle of the six months, so each has a before and an after.
TRAINED = tuple(range(0, len(TEAMS), 2))
TRAINING_DAYS = (70, 84, 98, 112, 126, 140, 154)  # days after the first survey day
EFFECT = 0.06  # the chance of a good answer rises by this much after training (+6 CSAT points)
# Responses per team and day, per metric: the full demo and the test's small one.
RATES = {"csat": 12.0, "nps": 5.0, "ces": 4.0}
SMALL_RATES = {"csat": 3.0, "nps": 1.5, "ces": 1.5}
SOURCE = "demo organisation"
# How many modules each learner in the tool gets through; past the last, they finish.
REACH = (9, 2, 9, 1, 4, 9, 3, 0, 9)
SURVEY_FILE = "demo-organisation-{metric}.csv"
CATALOGUE_COURSE = "net-promoter-score"  # in the tool, and in the past training file
OUTSIDE_TRAINING = ("Customer empathy workshop", "Classroom, CX Academy Ltd")

GIVEN = (
    "Omar",
    "Ines",
    "Sam",
    "Priya",
    "Jonas",
    "Mei",
    "Tomas",
    "Aisha",
    "Lucas",
    "Noor",
    "Pavel",
    "Rosa",
    "Kwame",
    "Hana",
    "Felix",
    "Yara",
    "Dmitri",
    "Leila",
    "Mateo",
    "Sofia",
    "Ravi",
    "Elena",
    "Kofi",
    "Zara",
    "Henrik",
    "Amina",
    "Bruno",
    "Chiara",
    "Idris",
    "Julia",
    "Kenji",
    "Lina",
)
FAMILY = (
    "Petrov",
    "Santos",
    "Novak",
    "Okafor",
    "Larsen",
    "Moreau",
    "Haddad",
    "Kowalski",
    "Rossi",
    "Nakamura",
    "Dubois",
    "Silva",
    "Mensah",
    "Fischer",
    "Varga",
    "Costa",
    "Lindqvist",
    "Ahmed",
)
MANAGERS = (
    ("Marco", "Manager"),
    ("Nadia", "Brooks"),
    ("Owen", "Clarke"),
    ("Paula", "Reyes"),
    ("Rahul", "Mehta"),
    ("Selma", "Berg"),
    ("Victor", "Adeyemi"),
)
HEAD = ("Olivia", "Hart")  # head of operations: leads the team leaders and the quality team
GRADERS = (("Quinn", "Walsh"), ("Grace", "Oduya"))  # trainers beside Tara

REPLIES = (
    "I'm so sorry, I can hear how frustrating this has been. So the problem is that it happened "
    "again this month, is that right?",
    "You're right, and I understand why you're upset. What I can do right now is fix it and "
    "make sure you are not out of pocket.",
    "I completely understand the worry. Let me explain another way: I'll sort it today and email "
    "you the confirmation so you have it in writing.",
    "That's done now, and I've added a note so it won't happen again. Does that help? Is there "
    "anything else I can do for you?",
    "Thank you for bearing with me while I checked. I'll call you back on Friday to make sure "
    "everything is as it should be.",
    "Of course, happy to go through it again step by step. Take your time.",
)
KUDOS = (
    "You untangled the double-billing mix-up for the Hansens and called them back as promised. "
    "Thank you!",
    "Three customers in a row named you in their survey comments this week. Brilliant work.",
    "You stayed calm with a very upset caller and found the real problem. That is great service.",
    "You covered the late shift twice this week so the team could take the course. Thank you!",
)


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    team: str
    manager: str = ""  # the manager's e-mail
    role: str = ""  # roster role: manager, trainer, or empty for an agent
    sub: str = ""  # the development platform's user id

    @property
    def given_name(self) -> str:
        return self.name.split()[0]

    @property
    def family_name(self) -> str:
        return self.name.split()[-1]

    @property
    def lti_role(self) -> str:
        return {"manager": "Mentor", "trainer": "Instructor"}.get(self.role, "Learner")


@dataclass
class Organisation:
    people: list[Person] = field(default_factory=list)
    agents: dict[str, list[Person]] = field(default_factory=dict)  # by team

    def by_email(self, email: str) -> Person:
        return next(p for p in self.people if p.email == email)


def organisation() -> Organisation:
    """The demo's people, the same every time. The development platform's personas are part
    of it: Lena an agent of Billing North, Marco the manager of Billing North and South, Tara
    a trainer; the platform's six demo learners are agents of Billing North."""
    rng = np.random.default_rng(SEED)
    personas = devplatform.PERSONAS
    org = Organisation()
    head = _person(HEAD, "Team leaders", role="manager", sub="dev-user-head")
    org.people.append(head)
    managers = []
    for index, names in enumerate(MANAGERS):
        if index == 0:
            marco = personas["manager"]
            managers.append(
                Person(marco.email, marco.name, "Team leaders", head.email, "manager", marco.sub)
            )
        else:
            managers.append(
                _person(names, "Team leaders", head.email, "manager", f"dev-user-manager-{index}")
            )
    org.people += managers
    tara = personas["trainer"]
    org.people.append(
        Person(tara.email, tara.name, "Quality and training", head.email, "trainer", tara.sub)
    )
    for index, names in enumerate(GRADERS, start=1):
        org.people.append(
            _person(
                names, "Quality and training", head.email, "trainer", f"dev-user-trainer-{index}"
            )
        )
    # The platform's own demo learners, then generated names (no two alike).
    known = [(m["name"], m["email"], m["user_id"]) for m in devplatform.DEMO_ROSTER]
    pairs = [(g, f) for g in GIVEN for f in FAMILY]
    chosen = rng.permutation(len(pairs))
    generated = iter(pairs[i] for i in chosen)
    serial = 0
    for team_index, team in enumerate(TEAMS):
        manager = managers[team_index // 2].email
        members: list[Person] = []
        if team_index == 0:
            lena = personas["learner"]
            members.append(Person(lena.email, lena.name, team, manager, "", lena.sub))
        while len(members) < AGENTS_PER_TEAM:
            if team_index < 2 and known:
                name, email, sub = known.pop(0)
            else:
                given, family = next(generated)
                serial += 1
                name, sub = f"{given} {family}", f"dev-user-{serial}"
                email = f"{given}.{family}@example.com".lower()
            members.append(Person(email, name, team, manager, "", sub))
        org.agents[team] = members
        org.people += members
    return org


def _person(
    names: tuple[str, str], team: str, manager: str = "", role: str = "", sub: str = ""
) -> Person:
    given, family = names
    return Person(
        f"{given}.{family}@example.com".lower(), f"{given} {family}", team, manager, role, sub
    )


def roster_file(org: Organisation) -> bytes:
    """The organisation's roster as its HR system would export it, LMS user ids included."""
    lines = ["email,name,team,manager,role,lms_user_id"]
    lines += [f"{p.email},{p.name},{p.team},{p.manager},{p.role},{p.sub}" for p in org.people]
    return ("\r\n".join(lines) + "\r\n").encode()


# -- the numbers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What is drawn for the survey files and the past training: per trained team, each
    agent's completion day and the day half the team had completed (the analysis's date)."""

    first_day: date
    completions: dict[str, list[tuple[Person, date, str]]]  # team -> (agent, day, training)
    trained_on: dict[str, date]


def plan(org: Organisation, today: date) -> Plan:
    rng = np.random.default_rng(SEED + 1)
    first_day = today - timedelta(days=DAYS)
    completions: dict[str, list[tuple[Person, date, str]]] = {}
    trained_on: dict[str, date] = {}
    for order, team_index in enumerate(TRAINED):
        team = TEAMS[team_index]
        # Alternate the product's course and the classroom workshop between trained teams.
        training = CATALOGUE_COURSE if order % 2 == 0 else OUTSIDE_TRAINING[0]
        centre = first_day + timedelta(days=TRAINING_DAYS[order])
        agents = list(org.agents[team])
        rng.shuffle(agents)
        taken = agents[:6]  # six of eight: 75% of the team
        days = [centre + timedelta(days=int(d)) for d in rng.integers(-9, 10, len(taken))]
        completions[team] = list(zip(taken, days, [training] * len(taken), strict=True))
        needed = math.ceil(AGENTS_PER_TEAM / 2)
        trained_on[team] = sorted(days)[needed - 1]
    # A couple of people of untrained teams went to the workshop on their own (exposure below
    # half, so their teams stay comparison teams).
    for team_index in range(1, len(TEAMS), 2):
        team = TEAMS[team_index]
        agent = org.agents[team][int(rng.integers(1, AGENTS_PER_TEAM))]
        day = first_day + timedelta(days=int(rng.integers(30, DAYS - 10)))
        completions.setdefault(team, []).append((agent, day, OUTSIDE_TRAINING[0]))
    return Plan(first_day, completions, trained_on)


def completions_file(training: Plan) -> bytes:
    lines = ["email,course,completed on,score,provider"]
    rng = np.random.default_rng(SEED + 2)
    for rows in training.completions.values():
        for agent, day, name in rows:
            provider = OUTSIDE_TRAINING[1] if name == OUTSIDE_TRAINING[0] else ""
            score = int(rng.integers(68, 100))
            lines.append(f"{agent.email},{name},{day.isoformat()},{score},{provider}")
    return ("\r\n".join(lines) + "\r\n").encode()


def survey_file(org: Organisation, training: Plan, metric: str, rate: float) -> bytes:
    """One metric's survey export: each answer a row with its team, time, score, the agent
    who took the contact, the channel and the survey tool's response id. Drawn a team at a
    time with NumPy: the full demo's 45,000 rows take a fraction of a second."""
    rng = np.random.default_rng(SEED + sum(map(ord, metric)))
    good, bad = (np.cumsum(p) for p in SCALES[metric])
    good[-1] = bad[-1] = 1.0  # so rounding never leaves a draw past the last score
    days = [training.first_day + timedelta(days=d) for d in range(DAYS)]
    day_text = [f"{day.isoformat()} " for day in days]
    day_numbers = np.arange(DAYS)
    # Shared by every team: a seasonal swing and a slow drift.
    shared = 0.035 * np.sin(2 * np.pi * (day_numbers / 365.0 + 0.15)) + 0.0001 * day_numbers
    weekday = np.array([1.0, 1.05, 1.0, 0.95, 0.9, 0.55, 0.4])[[d.weekday() for d in days]]
    channels = ("phone", "phone", "chat", "email")
    lines = ["team,date,score,agent,channel,response_id"]
    for team_index, team in enumerate(TEAMS):
        level = 0.70 + rng.normal(0, 0.04)
        # Week-to-week shocks that carry over (a team has good and bad spells).
        shocks = np.zeros(DAYS // 7 + 1)
        for w in range(1, len(shocks)):
            shocks[w] = 0.5 * shocks[w - 1] + rng.normal(0, 0.02)
        q = level + shared + shocks[day_numbers // 7]
        trained = training.trained_on.get(team) if team_index in TRAINED else None
        if trained is not None:
            q = q + EFFECT * (day_numbers >= (trained - training.first_day).days)
        agents = [a.email for a in org.agents[team]]
        skill = rng.normal(0, 0.04, len(agents))
        counts = rng.poisson(rate * weekday)
        day_of = np.repeat(day_numbers, counts)
        n = len(day_of)
        who = rng.integers(0, len(agents), n)
        is_good = rng.random(n) < np.clip(q[day_of] + skill[who], 0.02, 0.98)
        # A score from the good or the bad distribution, by its cumulative probabilities.
        u = rng.random(n)
        score = np.where(
            is_good, np.searchsorted(good, u, side="right"), np.searchsorted(bad, u, side="right")
        )
        seconds = rng.integers(8 * 3600, 20 * 3600, n)
        via = rng.integers(0, len(channels), n)
        # The k-th answer of its day, for the response id.
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        nth = np.arange(n) - starts
        for i in range(n):
            d, s = int(day_of[i]), int(seconds[i])
            lines.append(
                f"{team},{day_text[d]}{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d},"
                f"{score[i]},{agents[who[i]]},{channels[via[i]]},"
                f"{metric}-{team_index:02d}-{d:03d}-{nth[i]:02d}"
            )
    return ("\n".join(lines) + "\n").encode()


# -- loading ---------------------------------------------------------------------------------


class DemoRefused(RuntimeError):
    """A service refused the demo's own data: a bug in the demo, said plainly."""


def load_demo(app: Flask) -> str:
    """The ``flask demo load`` step (registered by ``insights``): the full organisation."""
    return load_organisation(db.session, app.config["SECRET_KEY"])


def load_organisation(session: Session, secret: str, *, small: bool = False) -> str:
    """Load the demo organisation into the development platform's LMS, once, in one
    transaction. ``small``: a fifth of the survey answers (for tests); everything else alike."""
    setup = devplatform.current_setup(session)
    if setup is None:
        return "Demo organisation: skipped (the development platform is not enabled)"
    platform = session.get(Platform, setup.platform_id)
    deployment = session.scalar(
        select(Deployment).where(
            Deployment.platform_id == setup.platform_id,
            Deployment.deployment_id == devplatform.DEPLOYMENT_ID,
        )
    )
    if platform is None or deployment is None:
        return "Demo organisation: skipped (the development platform is not registered)"
    loaded = session.scalar(
        select(func.count())
        .select_from(SurveyImport)
        .where(
            SurveyImport.platform_id == platform.id,
            SurveyImport.filename.like(SURVEY_FILE.format(metric="%")),
        )
    )
    if loaded:
        return "Demo organisation: already loaded (nothing changed)"
    try:
        summary = _load(session, setup, platform, deployment, secret, small)
    except (DemoRefused, CourseError, AssessmentError, RecognitionError) as refused:
        # A database where people already used the development platform (an older demo)
        # may refuse a step, e.g. an exercise Lena passed herself. The rest of the demo
        # still works; say what happened rather than stopping scripts/run-demo.
        session.rollback()
        return (
            f"Demo organisation: not loaded ({refused}). It loads into a fresh database: "
            "remove the instance folder's database and run scripts/run-demo again."
        )
    except Exception:
        session.rollback()
        raise
    session.commit()
    return summary


def _load(
    session: Session,
    setup: devplatform.DevPlatformSetup,
    platform: Platform,
    deployment: Deployment,
    secret: str,
    small: bool,
) -> str:
    today = utcnow().date()
    org = organisation()
    training = plan(org, today)

    # 1. The roster file: teams, people, managers. Dated before the survey months, so every
    #    answer falls while its agent was in the team.
    roster = import_roster(
        session,
        platform_id=platform.id,
        deployment_id=deployment.id,
        data=roster_file(org),
        effective=training.first_day - timedelta(days=30),
    )
    _require(roster.ok, "roster", roster.refused, roster.problems)

    # 2. The demo course (CXQ101) in the LMS has the whole organisation as members; the tool
    #    learns them as a roster sync does (NRPS), so Cohort results lists everyone.
    setup.roster = [
        {
            "status": "Active",
            "roles": [p.lti_role],
            "user_id": p.sub,
            "name": p.name,
            "given_name": p.given_name,
            "family_name": p.family_name,
            "email": p.email,
        }
        for p in org.people
        if p.sub not in {persona.sub for persona in devplatform.PERSONAS.values()}
    ]
    context = devplatform.DEMO_CONTEXT
    course_team = upsert_context_team(
        session,
        platform.id,
        deployment.id,
        ContextClaims(id=context["id"], title=context["title"], label=context["label"]),
    )
    session.flush()
    apply_members(session, course_team, devplatform.members(setup))

    # 3. Past training, brought in from the training records (dates of the last months).
    past = import_completions(
        session,
        platform_id=platform.id,
        data=completions_file(training),
        source=SOURCE,
        date_format="iso",
    )
    _require(past.ok, "past training", past.refused, past.problems)

    # 4. Six months of CSAT, NPS and CES answers, as the survey tool exports them.
    rates = SMALL_RATES if small else RATES
    mapping = Mapping(
        team="team",
        date="date",
        score="score",
        agent="agent",
        channel="channel",
        source_id="response_id",
        date_format="iso",
    )
    answers = 0
    for metric, rate in rates.items():
        report = import_survey(
            session,
            platform_id=platform.id,
            creator_id=None,
            filename=SURVEY_FILE.format(metric=metric),
            data=survey_file(org, training, metric, rate),
            mapping=mapping,
            metric=metric,
        )
        _require(report.ok, f"{metric} survey", report.refused, report.bad)
        answers += report.imported

    # 5. People who use the tool: they launch from the demo course and join the programme.
    launcher = _Launcher(session, setup, platform, deployment)
    users = {
        p.email: session.scalar(
            select(User).where(User.platform_id == platform.id, User.sub == p.sub)
        )
        for p in org.people
    }
    trainers = [p for p in org.people if p.role == "trainer"]
    active = _active_learners(org)
    viewers = {
        p.email: launcher.launch(p)
        for p in [*active, *trainers, org.by_email(devplatform.PERSONAS["manager"].email)]
    }
    for person in active:
        set_programme_consent(
            session,
            users[person.email],
            opted_in=True,
            source="welcome page",
            team_id=course_team.id,
        )

    # 6. Courses in the tool: some finished (the LMS gets the score), some under way.
    finished, started = _courses(session, secret, active, users, viewers)

    # 7. Graded conversations from three graders, one waiting; one calibration session.
    graded, waiting = _assessments(session, active, trainers, users, viewers)

    # 8. Marco recognises people of his teams; Tara withdraws one award given by mistake.
    awards = _recognition(session, org, users, viewers)

    session.flush()
    return (
        f"Demo organisation: {roster.summary()}; {past.summary()}; {answers} survey answers "
        f"over {DAYS} days; {finished} courses finished and {started} under way in the tool; "
        f"{graded} conversations graded ({waiting} waiting); {awards} badges awarded, 1 "
        "withdrawn"
    )


def _require(ok: bool, what: str, refused: str, problems: Sequence[object]) -> None:
    if not ok:
        listed = "; ".join(str(p) for p in list(problems)[:5])
        raise DemoRefused(f"The demo's {what} was refused: {refused} {listed}")


class _Launcher:
    """Launches from the demo course, as the development platform signs them: the claims
    are the platform's own, validated launches go through the tool's launch service."""

    def __init__(
        self,
        session: Session,
        setup: devplatform.DevPlatformSetup,
        platform: Platform,
        deployment: Deployment,
    ) -> None:
        self.session, self.setup = session, setup
        self.platform, self.deployment = PlatformRef.of(platform), DeploymentRef.of(deployment)
        self.lineitem = devplatform.demo_lineitem(session).id

    def launch(self, person: Person) -> Viewer:
        persona = {"Mentor": "manager", "Instructor": "trainer"}.get(person.lti_role, "learner")
        claims = devplatform.launch_claims(
            self.setup, devplatform.PERSONAS[persona], "demo", lineitem_id=self.lineitem
        )
        claims.update(
            sub=person.sub,
            name=person.name,
            given_name=person.given_name,
            family_name=person.family_name,
            email=person.email,
        )
        launch = ValidatedLaunch(self.platform, self.deployment, claims, f"demo-{person.sub}")
        return complete_launch(self.session, launch).viewer


def _active_learners(org: Organisation) -> list[Person]:
    """Who uses the tool: Lena and the Billing teams' agents, and two agents of each other
    trained team (their teams counted as trained already, so what they do today does not
    move a team's training date)."""
    chosen = list(org.agents[TEAMS[0]]) + list(org.agents[TEAMS[1]][:4])
    for team_index in TRAINED[1:4]:
        chosen += org.agents[TEAMS[team_index]][:2]
    return chosen


def _answered(questions: list[dict], secret: str, wrong: str = "") -> dict[str, list[str]]:
    """A check's form as a learner fills it in on the page (under a fresh seal), every answer
    right except the question ``wrong``."""
    seal = Seal.new(secret)
    form: dict[str, list[str]] = {NONCE_FIELD: [seal.nonce]}
    for question in questions:
        qid, kind = question["id"], kind_of(question).name
        if kind in ("single", "multiple"):
            keys = sorted(correct_ids(question))
            if qid == wrong:
                options = [chr(ord("a") + i) for i in range(len(question["options"]))]
                keys = [next(k for k in options if k not in keys)]
            form[seal.field(qid)] = [seal.value(qid, k) for k in keys]
        elif kind == "numeric":
            value = float(question["answer"]) + (1000 if qid == wrong else 0)
            form[seal.field(qid)] = [f"{value:g}"]
        else:  # ordering: items are authored in the right order
            count = len(question["items"])
            for i in range(count):
                position = (i + 1) % count + 1 if qid == wrong else i + 1
                form[seal.field(qid, str(i))] = [str(position)]
    return form


def _courses(
    session: Session,
    secret: str,
    active: list[Person],
    users: dict[str, User],
    viewers: dict[str, Viewer],
) -> tuple[int, int]:
    """Every active learner starts the NPS course; how far each gets varies, so Cohort results
    shows a funnel: some stop after reading, some after a check, some finish."""
    course = course_by_slug(session, CATALOGUE_COURSE, users[active[0].email].platform_id)
    if course is None:
        raise DemoRefused(f"The catalogue has no course {CATALOGUE_COURSE!r}.")
    outline = outline_of(session, course)
    modules = [m["slug"] for m in outline.modules]
    finished = started = 0
    for index, person in enumerate(active):
        user, viewer = users[person.email], viewers[person.email]
        enrolment = start_course(
            session,
            user,
            course,
            deployment_id=viewer.deployment_id,
            team_id=viewer.team_id,
            resource_link_id=viewer.resource_link_id,
        )
        # Lena (index 0) is half-way; the others stop at different places or finish.
        reach = len(modules) // 2 if index == 0 else REACH[index % len(REACH)]
        for module in modules[:reach]:
            for item in outline.module_items(module):
                if item.kind in ("lesson", "example"):
                    mark_done(session, enrolment, outline, item.key)
            questions = outline.module(module)["check"]["questions"]
            if index % 3 == 1:  # a first try with one mistake, as people do
                submit_check(
                    session,
                    enrolment,
                    outline,
                    module,
                    _answered(questions, secret, wrong=questions[0]["id"]),
                    secret=secret,
                )
            submit_check(
                session, enrolment, outline, module, _answered(questions, secret), secret=secret
            )
        if reach > len(modules):
            answers = {f["id"]: f"{f['answer']:g}" for f in outline.exercise.get("fields", [])}
            submit_exercise(session, enrolment, outline, answers)
        enrolment = find_enrolment(session, user.id, course.id)
        if enrolment is not None and enrolment.completed_at is not None:
            finished += 1
        else:
            started += 1
    return finished, started


def _assessments(
    session: Session,
    active: list[Person],
    trainers: list[Person],
    users: dict[str, User],
    viewers: dict[str, Viewer],
) -> tuple[int, int]:
    """Learners answer practice customers (scenarios); three graders grade them, with the
    engine's suggestions; two wait in the queue. One conversation is calibrated blind."""
    library = scenarios()
    chosen = sorted(library)[:6]
    graders = [users[t.email] for t in trainers]
    taken: list[Assessment] = []
    for index, person in enumerate(active[:10]):
        learner, viewer = users[person.email], viewers[person.email]
        scenario = library[chosen[index % len(chosen)]]
        assessment = start_scenario(
            session,
            learner,
            scenario.id,
            deployment_id=viewer.deployment_id,
            team_id=viewer.team_id,
            resource_link_id=viewer.resource_link_id,
        )
        for turn in range(len(scenario.turns)):
            reply(session, assessment, learner, REPLIES[turn % len(REPLIES)])
        taken.append(assessment)
    criteria = [c["id"] for c in taken[0].rubric_version.definition["criteria"]]
    graded = 0
    for index, assessment in enumerate(taken[:-2]):
        levels = {c: 2 + (index + n) % 3 for n, c in enumerate(criteria)}
        grade(
            session,
            assessment,
            graders[index % len(graders)],
            levels,
            "Good empathy early on; confirm the fix before closing.",
        )
        graded += 1
    calibration = start_calibration(session, taken[0], graders[0])
    # Three graders, blind: close on most criteria, one a level apart here and there.
    spreads = ({}, {criteria[0]: 2}, {c: 4 for c in criteria[1::2]})
    for grader, apart in zip(graders, spreads, strict=False):
        calibration_grade(session, calibration, grader, {c: apart.get(c, 3) for c in criteria})
    close_calibration(session, calibration)
    return graded, len(taken) - graded


def _recognition(
    session: Session, org: Organisation, users: dict[str, User], viewers: dict[str, Viewer]
) -> int:
    """Marco thanks people of the teams he governs (the recognition page's own call); Tara
    withdraws one that went to the wrong person."""
    marco_person = org.by_email(devplatform.PERSONAS["manager"].email)
    marco, viewer = users[marco_person.email], viewers[marco_person.email]
    badges = [b for b in visible_badges(session, marco.platform_id) if b.manager_awardable]
    if not badges:
        raise DemoRefused("No recognition badges in the catalogue.")
    recipients = [users[devplatform.PERSONAS["learner"].email]]
    recipients += [users[p.email] for p in org.agents[TEAMS[0]][1:3]]
    recipients += [users[org.agents[TEAMS[1]][0].email]]
    awards: list[Award] = []
    for index, recipient in enumerate(recipients):
        awards.append(
            award_kudos(
                session,
                manager=marco,
                team_ids=viewer.teams_governed or (),
                recipient_id=recipient.id,
                badge_id=badges[index % len(badges)].id,
                message=KUDOS[index % len(KUDOS)],
                request_id=f"demo-kudos-{index}",
            )
        )
    tara = users[devplatform.PERSONAS["trainer"].email]
    revoke(
        session,
        awards[-1],
        actor=tara,
        actor_role=Role.TRAINER,
        reason="Given for a call another agent took; Marco will thank the right person.",
    )
    return len(awards)
