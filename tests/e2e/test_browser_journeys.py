"""The main journeys in a real Chromium, inside the LMS: the development platform's course page
on ``https://localhost:PORT`` embeds the tool from ``https://127.0.0.1:PORT`` in its iframe. That
is another site, as Moodle or Canvas and the tool are in real life, so the tool runs as a
third-party frame. Every journey runs twice: each person has a Chromium profile that blocks
third-party cookies (Debian Chromium's default, Safari's and many managed Chromes'), where the
tool lives on partitioned cookies (CHIPS), and one that allows them. In both the whole journey
stays inside the LMS's frame: no step may need the tool in a window of its own.

(a) Lena (learner) is invited to join, joins from a course page, takes every lesson and check,
    passes the exercise, downloads her certificate; a stranger verifies it.
(b) Tara (trainer) places a scenario (deep linking), Lena answers it, Tara grades it from the
    queue with the suggestions and their evidence, the score reaches the LMS gradebook and
    Lena reads her result.
(c) Marco (manager) awards Lena a badge; Lena sees it with his message.
(d) Tara imports a survey file of trained and untrained teams, sees the effect of training
    and downloads the report as a PDF.

Every step runs through the tool's own pages in the iframe (clicks, typing, file choosers and
downloads), and at each one the test checks that the iframe holds the tool's origin while the
top page is the platform's, that the browser runs the frame in the cookie mode asked for, and
saves a screenshot of what the person sees:
``test-results/e2e/journey-<journey>-<blocked|allowed>-<n>-<step>.png``. The steps are shared
with the same-site tests (``tests/e2e/steps.py``). No grade worker runs beside this server:
where the service's worker would deliver a score or draw a PDF, the test runs
``flask lms worker --once``.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Frame,
    Locator,
    Page,
    Request,
    expect,
)
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.conftest import CrossSiteService
from tests.e2e.steps import (
    LEARNER,
    MANAGER,
    TOOL_FRAME,
    award_badge,
    certificate_url,
    change_level_with_keyboard,
    comparison_panel,
    demo_course,
    download_certificate,
    download_report_pdf,
    expect_course_completed,
    expect_gradebook_score,
    expect_imported,
    expect_invited_to_join,
    explained,
    join_from_dashboard,
    join_on_course_page,
    launch_in_course_page,
    leave_programme,
    new_context,
    open_award_form,
    open_course,
    open_course_page,
    open_grading,
    open_import_form,
    open_my_badges,
    pass_exercise,
    place_scenario,
    prepare_report_pdf,
    read_result,
    save_grade,
    suggested_levels,
    take_course,
    take_scenario,
    tool_frame,
    upload_survey,
    verify_certificate,
    weighted_score,
    write_grade_comment,
)

pytestmark = pytest.mark.e2e

NEXT_PAINT = "() => new Promise(ok => requestAnimationFrame(() => requestAnimationFrame(ok)))"
READ_TOP_LOCATION = """() => {
    try { return window.top.location.href; } catch (error) { return error.name; }
}"""


@dataclass
class Journey:
    """One journey's screenshots, numbered in order, and the checks made at each of them."""

    name: str
    service: CrossSiteService
    results_dir: Path
    third_party_cookies: bool
    taken: list[Path] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"journey-{self.name}-{'allowed' if self.third_party_cookies else 'blocked'}-"

    def expect_in_lms(self, lms: Page) -> Frame:
        """The top page is the platform's; its iframe holds the tool's page, from the tool's
        origin, which the browser keeps apart from the LMS page; and the frame has its
        unpartitioned cookies exactly when the profile allows third-party cookies (else a
        journey meant to run on partitioned cookies could pass on the others)."""
        frame = tool_frame(lms)
        assert lms.evaluate("location.origin") == self.service.platform_base
        assert lms.url.startswith(self.service.platform_base + "/dev-platform/"), lms.url
        assert frame.parent_frame == lms.main_frame
        assert frame.evaluate("location.origin") == self.service.tool_base, frame.url
        assert frame.url.startswith(self.service.tool_base + "/"), frame.url
        assert frame.evaluate(READ_TOP_LOCATION) == "SecurityError"
        assert frame.evaluate("document.hasStorageAccess()") is self.third_party_cookies
        return frame

    def shot(
        self, lms: Page, step: str, show: Locator | None = None, *, framed: bool = True
    ) -> None:
        """Check the frame's origin and screenshot the window with the whole iframe in view,
        scrolled inside to ``show`` (``framed=False``: a page of the platform's own). Not a
        full-page screenshot: that resizes the viewport, after which Chromium intermittently
        drops the next click into a cross-site iframe."""
        if framed:
            frame = self.expect_in_lms(lms)
            if show is not None:
                show.scroll_into_view_if_needed()
            lms.locator(TOOL_FRAME).evaluate("frame => frame.scrollIntoView({block: 'center'})")
            # Chromium does not paint a cross-site frame while it is out of view: wait until
            # it has drawn again.
            frame.evaluate(NEXT_PAINT)
            lms.evaluate(NEXT_PAINT)
        path = self.results_dir / f"{self.prefix}{len(self.taken) + 1}-{step}.png"
        lms.screenshot(path=path)
        self.taken.append(path)


@pytest.fixture(params=[False, True], ids=["third-party-cookies-blocked", "allowed"])
def third_party_cookies(request: pytest.FixtureRequest) -> bool:
    """The browser mode of a journey's every person (one server and its data for both)."""
    return bool(request.param)


@pytest.fixture
def journey(  # type: ignore[no-untyped-def]
    https_server: CrossSiteService, results_dir: Path, third_party_cookies: bool
):
    def start(name: str) -> Journey:
        story = Journey(name, https_server, results_dir, third_party_cookies)
        for old in results_dir.glob(f"{story.prefix}*.png"):
            old.unlink()
        return story

    return start


@dataclass
class People:
    """Each person on their own computer: a Chromium profile in the journey's cookie mode.
    Every profile is watched for the tool loading as a page of its own (a top-level
    navigation to the tool's site): the fallback a journey must never need while
    partitioned cookies are there."""

    open_profile: Callable[..., BrowserContext]
    third_party_cookies: bool
    tool_base: str
    tool_windows: list[str] = field(default_factory=list)

    def __call__(self) -> BrowserContext:
        context = self.open_profile(third_party_cookies=self.third_party_cookies)
        context.on("request", self._watch)
        return context

    def _watch(self, request: Request) -> None:
        if not request.is_navigation_request() or not request.url.startswith(self.tool_base):
            return
        # A request of a service worker has no frame; the tool registers none.
        with contextlib.suppress(PlaywrightError):
            if request.frame.parent_frame is None:
                self.tool_windows.append(request.url)

    def expect_no_new_window(self) -> None:
        assert self.tool_windows == [], f"the tool needed a window of its own: {self.tool_windows}"


@pytest.fixture
def person(  # type: ignore[no-untyped-def]
    chromium_profile, https_server: CrossSiteService, third_party_cookies: bool
) -> People:
    return People(chromium_profile, third_party_cookies, https_server.tool_base + "/")


@contextlib.contextmanager
def left_again(joined: list[Page]) -> Iterator[None]:
    """Leave Lena as the journey found her if it made her join (the learner journey expects
    a learner who has not joined yet): ``joined`` gets her course page when she joins."""
    try:
        yield
    except BaseException:
        if joined:
            with contextlib.suppress(Exception):  # the journey's own failure says more
                leave_programme(tool_frame(joined[0]))
        raise
    if joined:
        with explained(joined[0], "the learner leaves the programme again"):
            leave_programme(tool_frame(joined[0]))


# -- (a) learner: opt in, a whole course, the certificate ------------------------------------

FORGET_LEARNER = """
import sys
from sqlalchemy import select
from core import create_app
from core.db import db
from lms.devplatform.service import current_setup
from people.models import User
from people.privacy import erase_person, request_erasure
app = create_app()
with app.app_context():
    platform_id = current_setup(db.session).platform_id
    user = db.session.scalar(
        select(User).where(User.platform_id == platform_id, User.sub == sys.argv[1])
    )
    if user is not None:
        erase_person(db.session, request_erasure(db.session, user))
    db.session.commit()
"""


def test_learner_opts_in_takes_a_course_and_gets_a_verified_certificate(
    person: People, journey, https_server: CrossSiteService, browser: Browser
) -> None:
    course = demo_course()
    tool_base = https_server.tool_base
    # The journey starts from a learner new to the tool: the one an earlier run (the other
    # cookie mode, on this server) took through the course asked to be forgotten, and was.
    https_server.python(FORGET_LEARNER, LEARNER.sub)
    story = journey("learner")
    lena_ctx: BrowserContext = person()

    lms = open_course_page(lena_ctx, https_server.platform_base)
    with explained(lms, "the learner launches and is invited to join"):
        lena = launch_in_course_page(lms, "learner", tool_base)
        expect_invited_to_join(lena)
        story.shot(lms, "invited")

    with explained(lms, "the learner joins from a course's page"):
        open_course(lena, course)
        status = join_on_course_page(lena, course, tool_base)
        story.shot(lms, "opt-in", show=status)

    def snap(moment: str) -> None:
        if moment == "lesson":
            story.shot(lms, "lesson")
        elif moment == "check":
            story.shot(lms, "check-feedback", show=lena.locator("section.result-card"))
        elif moment == "exercise":
            story.shot(lms, "exercise-passed", show=lena.locator("section.result-card"))

    with explained(lms, "every lesson, example and knowledge check"):
        take_course(lena, course, tool_base, snap)
    with explained(lms, "the final exercise"):
        pass_exercise(lena, course, tool_base, snap)

    with explained(lms, "the certificate, downloaded in the course page"):
        status = expect_course_completed(lena, course)
        story.shot(lms, "certificate", show=status)
        code, pdf = download_certificate(lena, course)
    url = certificate_url(pdf, course)
    # The certificate links to the tool's own site, not to the LMS that embedded it.
    assert url == f"{tool_base}/certificates/{code}", (url, code)

    # A stranger opens the link: a fresh browser context, no cookies, no launch.
    stranger = new_context(browser, ignore_https_errors=True)
    try:
        assert stranger.cookies() == []
        visitor = stranger.new_page()
        with explained(visitor, "a stranger verifies the certificate"):
            verify_certificate(visitor, url, course)
        story.shot(visitor, "verified", framed=False)
    finally:
        stranger.close()
    assert len(story.taken) == 7
    person.expect_no_new_window()


# -- (b) trainer: a scenario graded with the suggestions, to the gradebook -------------------


def test_trainer_grades_a_scenario_with_suggestions_and_the_score_reaches_the_gradebook(
    person: People, journey, https_server: CrossSiteService
) -> None:
    platform_base, tool_base = https_server.platform_base, https_server.tool_base
    story = journey("trainer")
    comment = f"Warm, clear and honest all the way through. ({secrets.token_hex(3)})"
    tara_ctx: BrowserContext = person()
    lena_ctx: BrowserContext = person()
    joined: list[Page] = []

    tara_lms = open_course_page(tara_ctx, platform_base)
    with explained(tara_lms, "the trainer places the scenario with the tool's picker"):
        place_scenario(tara_lms, platform_base, lambda _: story.shot(tara_lms, "place-activity"))

    lena_lms = open_course_page(lena_ctx, platform_base)
    with left_again(joined):
        with explained(lena_lms, "the learner answers the scenario"):
            if take_scenario(lena_lms, lambda _: story.shot(lena_lms, "learner-answers")):
                joined.append(lena_lms)

        with explained(tara_lms, "the trainer grades with the suggestions"):
            tara = launch_in_course_page(tara_lms, "trainer", tool_base)
            open_grading(tara, lambda _: story.shot(tara_lms, "grading-queue"))
            levels = suggested_levels(tara)
            # Each suggestion comes with its evidence, highlighted in the conversation.
            evidence = tara.get_by_role("list", name="Conversation").locator("mark.evidence")
            expect(evidence.first).to_be_visible()
            story.shot(tara_lms, "suggestions", show=evidence.first)
            change_level_with_keyboard(tara, levels)
            write_grade_comment(tara, comment)
            story.shot(
                tara_lms,
                "levels-and-comment",
                show=tara.get_by_role("button", name="Save the grade and open the next"),
            )
            save_grade(tara)
            story.shot(tara_lms, "grade-saved")
        score = weighted_score(levels)

        # The grade worker sends the score to the LMS (run once here: none runs beside it).
        https_server.flask("lms", "worker", "--once")
        with explained(tara_lms, "the score reaches the LMS gradebook"):
            expect_gradebook_score(tara_lms, score, comment)
            story.shot(tara_lms, "gradebook", framed=False)

        with explained(lena_lms, "the learner reads her result"):
            read_result(tool_frame(lena_lms), score, levels, comment)
            story.shot(
                lena_lms, "learner-result", show=tool_frame(lena_lms).locator("section.result-card")
            )
    assert len(story.taken) == 8
    person.expect_no_new_window()


# -- (c) manager: a badge, and the learner who receives it ----------------------------------


def test_manager_awards_a_badge_and_the_learner_sees_it(
    person: People, journey, https_server: CrossSiteService
) -> None:
    platform_base, tool_base = https_server.platform_base, https_server.tool_base
    story = journey("manager")
    message = f"You stayed with Mrs Osei until her refund was through ({secrets.token_hex(3)})."
    lena_ctx: BrowserContext = person()
    marco_ctx: BrowserContext = person()
    joined: list[Page] = []

    lena_lms = open_course_page(lena_ctx, platform_base)
    with left_again(joined):
        with explained(lena_lms, "the learner is in the programme"):
            lena = launch_in_course_page(lena_lms, "learner", tool_base)
            if join_from_dashboard(lena):
                joined.append(lena_lms)
            story.shot(lena_lms, "learner-joined")

        marco_lms = open_course_page(marco_ctx, platform_base)
        with explained(marco_lms, "the manager awards a badge"):
            marco = launch_in_course_page(marco_lms, "manager", tool_base)
            expect(marco.locator(".role-chip")).to_have_text("Manager")
            open_award_form(marco, tool_base)
            story.shot(marco_lms, "award-form")
            card = award_badge(marco, "Customer hero", message, tool_base)
            story.shot(marco_lms, "wall", show=card)

        with explained(lena_lms, "the learner sees the badge"):
            entry, _ = open_my_badges(lena, "Customer hero", message, tool_base)
            expect(entry).to_contain_text(f"From {MANAGER.name}")
            story.shot(lena_lms, "learner-badge", show=entry)
    assert len(story.taken) == 4
    person.expect_no_new_window()


# -- (d) trainer: the training-impact report ------------------------------------------------

SEED_TEAMS = """
import json, sys
from datetime import UTC, datetime, time, timedelta
from sqlalchemy import select
from core import create_app
from core.db import db
from courses.models import Course, CourseResult, Enrolment
from lms.devplatform.service import current_setup
from lms.models import Deployment
from people.models import Membership, Team, User

plan = json.loads(sys.argv[1])
app = create_app()
with app.app_context():
    session = db.session
    platform_id = current_setup(session).platform_id
    deployment = session.scalar(select(Deployment).where(Deployment.platform_id == platform_id))
    course = session.scalar(select(Course).where(Course.slug == plan["course"]))
    today = datetime.now(UTC).date()
    now = datetime.now(UTC)

    def add(row):
        session.add(row)
        session.flush()
        return row

    for spec in plan["teams"]:
        team = add(Team(platform_id=platform_id, deployment_id=deployment.id,
                        external_id=spec["id"], title=spec["title"], label=""))
        for m in range(plan["team_size"]):
            user = add(User(platform_id=platform_id, sub=f"{spec['id']}-{m}",
                            name=f"{spec['title']} agent {m + 1}",
                            email=f"{spec['id']}-{m}@example.test", opted_in_at=now))
            add(Membership(user_id=user.id, team_id=team.id, lms_role="learner"))
            if spec["trained_days_ago"] is None or m >= plan["team_size"] // 2:
                continue
            day = today - timedelta(days=spec["trained_days_ago"])
            when = datetime.combine(day, time(12), UTC)
            enrolment = add(Enrolment(user_id=user.id, course_id=course.id,
                                      platform_id=platform_id, deployment_id=deployment.id,
                                      team_id=team.id, started_at=when, last_activity_at=when,
                                      completed_at=when))
            add(CourseResult(enrolment_id=enrolment.id, user_id=user.id, course_id=course.id,
                             version=course.version, score_percent=90.0, completed_at=when,
                             certificate_code=f"{spec['id']}-{m}"[-32:],
                             learner_name=user.name, course_title=course.title))
    session.commit()
"""
SURVEY_DAYS = 120
PER_DAY = 3
TEAM_SIZE = 4  # half of each trained team completed the course on its training day
# Each team: the day it trained (days ago, or None), and how many of its 21 answers a week
# were satisfied (4 or 5) before and after. Every week alike, so the groups move alike before
# training (the pre-trend check passes) and each trained team gains its own few points.
TEAMS = (
    ("North", 62, 12, 17),
    ("South", 58, 11, 15),
    ("East", 66, 13, 19),
    ("West", 54, 12, 16),
    ("Harbour", None, 12, 12),
    ("Hillside", None, 11, 11),
    ("Riverside", None, 13, 13),
)
EFFECT = re.compile(r"^Effect ([+-]\d+\.\d), 95% interval ([+-]\d+\.\d) to ([+-]\d+\.\d)$")


def seed_teams(service: CrossSiteService, run: str) -> list[dict[str, Any]]:
    """Teams of the LMS with their people, half of each trained team having completed a
    course on its training day (the history a real deployment has; not part of the demo)."""
    teams = [
        {
            "id": f"team-{run}-{n}",
            "title": title,
            "trained_days_ago": days,
            "satisfied": (before, after),
        }
        for n, (title, days, before, after) in enumerate(TEAMS)
    ]
    plan = {"course": demo_course()["slug"], "team_size": TEAM_SIZE, "teams": teams}
    service.python(SEED_TEAMS, json.dumps(plan))
    return teams


def survey_csv(teams: list[dict[str, Any]], run: str) -> tuple[str, int]:
    """CSAT answers of every team, ``PER_DAY`` a day over the last ``SURVEY_DAYS`` days, the
    satisfied ones spread evenly over each week. Returns the file's text and its row count."""
    today = datetime.now(UTC).date()
    lines = ["response_id,team,date,score"]
    for team in teams:
        trained, (before, after) = team["trained_days_ago"], team["satisfied"]
        for ago in range(SURVEY_DAYS, 0, -1):
            weekly = after if trained is not None and ago < trained else before
            day = (SURVEY_DAYS - ago) % 7
            satisfied = (day + 1) * weekly // 7 - day * weekly // 7  # of today's PER_DAY
            for k in range(PER_DAY):
                score = (5, 4)[k % 2] if k < satisfied else (3, 2, 1)[k % 3]
                when = f"{today - timedelta(days=ago)} {9 + 3 * k:02d}:15"
                lines.append(f"{run}-{len(lines)},{team['id']},{when},{score}")
    return "\n".join(lines) + "\n", len(lines) - 1


def test_trainer_imports_a_survey_and_reads_the_effect_of_training_in_the_pdf(
    person: People, journey, https_server: CrossSiteService, tmp_path: Path
) -> None:
    tool_base = https_server.tool_base
    story = journey("impact")
    run = uuid.uuid4().hex[:8]
    teams = seed_teams(https_server, run)
    text, rows = survey_csv(teams, run)
    survey = tmp_path / "csat-survey.csv"
    survey.write_text(text, encoding="utf-8")
    tara_ctx: BrowserContext = person()

    lms = open_course_page(tara_ctx, https_server.platform_base)
    with explained(lms, "the trainer opens the import form"):
        tara = launch_in_course_page(lms, "trainer", tool_base)
        expect(tara.locator(".role-chip")).to_have_text("Trainer")
        open_import_form(tara, tool_base)
        tara.get_by_label("CSV file").set_input_files(survey)
        story.shot(lms, "import-form")

    with explained(lms, "the survey is imported and shows an effect"):
        upload_survey(tara, survey)
        expect_imported(tara, tool_base, rows)
        panel = comparison_panel(tara)
        chart = panel.get_by_role("img", name=EFFECT)
        expect(chart).to_be_visible()
        found = EFFECT.match(chart.get_attribute("aria-label") or "")
        assert found, chart.get_attribute("aria-label")
        effect, low, high = (float(x) for x in found.groups())
        # Trained teams rose by about 25 points, the others did not: an effect, all of its
        # interval above zero.
        assert 10 < effect < 40, effect
        assert 0 < low < effect < high, (low, effect, high)
        expect(panel).to_contain_text(f"a difference of {found.group(1)}")
        # No warning (the groups moved alike before training) and nothing said to be missing.
        expect(panel.locator("p.hint")).to_have_count(0)
        story.shot(lms, "effect", show=panel)

    with explained(lms, "the report as a PDF"):
        download_link = prepare_report_pdf(tara)
        expect(tara.get_by_role("progressbar", name="Progress")).to_be_visible()
        story.shot(lms, "report-waiting")
        https_server.flask("lms", "worker", "--once")  # the service's worker draws the PDF
        expect(download_link).to_be_visible()  # the page reloads itself every two seconds
        story.shot(lms, "report-ready")
        pdf_text = download_report_pdf(tara, download_link)
    assert f"a difference of {found.group(1)}" in pdf_text, pdf_text
    assert len(story.taken) == 4
    person.expect_no_new_window()
