"""Steps the browser tests share: explaining a failure, a browser context, the top
navigation, the accessibility basics every form page must pass, and the steps of the main
journeys (a course to its certificate, a scenario to its grade, a badge, the impact report).

A journey step takes ``tool``: where the tool's pages show. That is a ``Page`` when the LMS
opens the tool in a window of its own, or the course page's iframe (a ``Frame``) when it
embeds the tool; the step clicks, types and checks the same things in both. Screenshots,
downloads and the keyboard belong to the window (``window_of``). A step that reaches a moment
worth a screenshot calls ``snap`` with a short name; the test decides what to save.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Frame,
    FrameLocator,
    Locator,
    Page,
    Request,
    expect,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from assessments.library import builtin_rubric, scenarios
from courses.pack import load_directory
from lms.devplatform.service import DEMO_CONTEXT, PERSONAS
from tests.e2e.conftest import ACTION_TIMEOUT_MS, ROOT, VIEWPORT

expect.set_options(timeout=ACTION_TIMEOUT_MS)

Tool = Page | Frame
Snap = Callable[[str], None]
TOOL_FRAME = "iframe[name=tool-frame]"
LEARNER = PERSONAS["learner"]
MANAGER = PERSONAS["manager"]
TRAINER = PERSONAS["trainer"]
SLOW_WRITE_S = 60  # another process (the grade worker) writes it; generous for a loaded machine


def no_snap(moment: str) -> None:
    """For a caller that takes no screenshot at this step."""


@contextmanager
def explained(page: Page, what: str) -> Iterator[None]:
    """On a failure, say where the window (and the tool frame in it) was and what the
    browser's console reported."""
    console: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        console.append(f"{message.type}: {message.text}")

    def on_failed(request: Request) -> None:
        console.append(f"request failed: {request.url} {request.failure}")

    page.on("console", on_console)
    page.on("requestfailed", on_failed)
    try:
        yield
    except AssertionError as error:
        details = "\n  ".join(console) or "(nothing)"
        frame = page.frame(name="tool-frame")
        where = f"\nTool frame at: {frame.url}" if frame else ""
        raise AssertionError(
            f"{what}: {error}\nWindow at: {page.url}{where}\nBrowser console:\n  {details}"
        ) from error
    finally:
        page.remove_listener("console", on_console)
        page.remove_listener("requestfailed", on_failed)


def new_context(browser: Browser, **options: Any) -> BrowserContext:
    context = browser.new_context(viewport=VIEWPORT, **options)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    return context


def window_of(tool: Tool) -> Page:
    """The browser window (tab) the tool shows in."""
    return tool if isinstance(tool, Page) else tool.page


def expect_url(tool: Tool, url: str | re.Pattern[str]) -> None:
    """The tool's page is at ``url`` (a string matches whole), waiting for it to get there."""
    if isinstance(tool, Page):
        expect(tool).to_have_url(url)
        return
    pattern = url if isinstance(url, re.Pattern) else re.compile(re.escape(url) + r"\Z")
    try:
        tool.wait_for_url(pattern, wait_until="commit")
    except PlaywrightTimeoutError:
        raise AssertionError(f"the tool frame is at {tool.url}, not at {url}") from None
    frame_settled(tool)  # a click comes next, usually


NEXT_PAINT = "() => new Promise(ok => requestAnimationFrame(() => requestAnimationFrame(ok)))"


def frame_settled(tool: Tool) -> None:
    """In the LMS's frame, wait until the page has loaded and the LMS has fitted the frame to
    it (``lti.frameResize`` on load): the top page can scroll as the frame changes height,
    and a click aimed before that lands beside its button (seen as a lost "Mark as done").
    A window of its own is never resized."""
    if isinstance(tool, Page):
        return
    tool.wait_for_load_state("load")
    tool.page.evaluate(NEXT_PAINT)  # after the resize message the load sent


def top_nav(view: Page | Frame | FrameLocator, name: str) -> Locator:
    return view.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def assert_controls_labelled(page: Page | Frame, scope: str = "main form") -> None:
    """Every visible control has a <label> the browser associates with it, and that label is
    visible with text (not only a placeholder or aria-label)."""
    problems = page.evaluate(
        """(scope) => [...document.querySelectorAll(
                `${scope} input, ${scope} select, ${scope} textarea`)]
            .filter(el => el.type !== 'hidden')
            .filter(el => el.labels.length === 0
                || ![...el.labels].some(l => l.checkVisibility() && l.innerText.trim()))
            .map(el => el.outerHTML)""",
        scope,
    )
    assert problems == [], f"form controls without a visible label: {problems}"


def h1(view: Page | Frame | FrameLocator) -> Locator:
    return view.get_by_role("heading", level=1)


def reload_until_text(page: Page, locator: Locator, text: str | re.Pattern[str]) -> None:
    """Reload the page until ``locator`` shows ``text`` (another process writes it)."""
    deadline = time.monotonic() + SLOW_WRITE_S
    while True:
        try:
            expect(locator).to_have_text(text, timeout=1_500)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.reload()


def download(tool: Tool, link: Locator) -> tuple[str, bytes]:
    """Click a download link as a person does: (the file's suggested name, its bytes)."""
    with window_of(tool).expect_download() as downloading:
        link.click()
    done = downloading.value
    return done.suggested_filename, Path(done.path()).read_bytes()


def pdf_text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF"), pdf[:20]
    from pypdf import PdfReader

    return "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)


# -- the development platform's course page ---------------------------------------------------


def open_course_page(context: BrowserContext, platform_base: str) -> Page:
    """The development platform's course page (in the profile's first tab while it is blank)."""
    page = context.pages[0] if context.pages and context.pages[0].url == "about:blank" else None
    page = page or context.new_page()
    page.goto(platform_base + "/dev-platform/")
    expect(h1(page)).to_have_text(DEMO_CONTEXT["title"])
    return page


def launch_in_new_window(course_page: Page, persona_key: str, tool_base: str) -> Page:
    with course_page.context.expect_page() as opened:
        course_page.get_by_role("button", name=f"Launch as {persona_key} in a new window").click()
    page = opened.value
    expect(page).to_have_url(tool_base + "/dashboard")
    return page


def tool_frame(course_page: Page) -> Frame:
    frame = course_page.frame(name="tool-frame")
    assert frame is not None, "the course page has no tool frame"
    return frame


def launch_in_course_page(course_page: Page, persona_key: str, tool_base: str) -> Frame:
    """Launch in the course page's iframe; the tool's dashboard shows there."""
    launch = course_page.get_by_role("button", name=f"Launch as {persona_key} in the course page")
    launch.click()
    try:
        expect_url(tool_frame(course_page), tool_base + "/dashboard")
    except AssertionError:
        # Seen once in CI: the server's log shows the launch answered and the dashboard and
        # its images served into the frame, yet Playwright still reported the frame at the
        # platform's auth page (the frame had moved to another site's process, and its new
        # document was never reported). Launching again is what a person would do; a launch
        # that really fails fails again.
        launch.click()
        expect_url(tool_frame(course_page), tool_base + "/dashboard")
    frame = tool_frame(course_page)
    persona = PERSONAS[persona_key]
    expect(h1(frame)).to_have_text(f"Welcome, {persona.given_name}")
    return frame


# -- a course, from joining the programme to a verified certificate --------------------------

COURSE_DIR = ROOT / "courses" / "content" / "net-promoter-score"
CERTIFICATE_URL = re.compile(r"https?://[^\s/]+/certificates/[A-Za-z0-9_-]{16}")


@cache
def demo_course() -> dict[str, Any]:
    """The course the journeys take, from its own content pack (the answers are in it)."""
    return load_directory(COURSE_DIR).document


def number(value: float) -> str:
    """As a person types it: 30000, -5, 26.79."""
    return f"{value:g}"


def answer_question(question: dict[str, Any], fieldset: Locator) -> None:
    if question["type"] == "numeric":
        fieldset.get_by_label("Your answer").fill(number(question["answer"]))
        return
    for option in question["options"]:
        if option["correct"]:
            control = fieldset.get_by_label(option["text"], exact=True)
            control.check()
            expect(control).to_be_checked()


def take_check(tool: Tool, module: dict[str, Any], *, first: bool) -> None:
    """Answer a module's knowledge check; its feedback stays on screen."""
    expect(h1(tool)).to_have_text("Knowledge check")
    expect(tool.locator(".eyebrow")).to_have_text(module["title"])
    questions = module["check"]["questions"]
    fieldsets = tool.locator("form.check-form fieldset.question")
    expect(fieldsets).to_have_count(len(questions))
    if first:
        assert_controls_labelled(tool, "main")
        # A label click reaches its control (what a screen reader or a mouse user relies on).
        index, choice = next((i, q) for i, q in enumerate(questions) if q["type"] == "single")
        wrong = next(o for o in choice["options"] if not o["correct"])
        fieldsets.nth(index).get_by_text(wrong["text"], exact=True).click()
        expect(fieldsets.nth(index).get_by_label(wrong["text"], exact=True)).to_be_checked()
    for index, question in enumerate(questions):
        answer_question(question, fieldsets.nth(index))
    tool.get_by_role("button", name="Check my answers").click()

    points = number(sum(q["points"] for q in questions))
    result = tool.locator("section.result-card")
    expect(result.get_by_role("heading", level=2)).to_have_text(
        f"Passed: {points} of {points} (100%)"
    )
    expect(tool.locator(".feedback-list > li.feedback.right")).to_have_count(len(questions))
    expect(tool.get_by_role("button", name="Check my answers")).to_have_count(0)


def expect_invited_to_join(tool: Tool) -> None:
    """The learner's dashboard before joining: said plainly, with the choice to join."""
    expect(h1(tool)).to_have_text(f"Welcome, {LEARNER.given_name}")
    expect(tool.get_by_text("Nothing is tracked until you choose to join")).to_be_visible()
    expect(tool.get_by_role("button", name="Join the programme")).to_be_visible()


def open_course(tool: Tool, course: dict[str, Any]) -> Locator:
    """Courses in the top navigation, then the course; returns its "Your progress" region."""
    top_nav(tool, "Courses").click()
    expect(h1(tool)).to_have_text("Courses")
    tool.get_by_role("link", name=course["title"], exact=True).click()
    expect(h1(tool)).to_have_text(course["title"])
    return tool.get_by_role("region", name="Your progress")


def join_on_course_page(tool: Tool, course: dict[str, Any], base: str) -> Locator:
    """Join the programme from a course's page, which then offers to start the course."""
    status = tool.get_by_role("region", name="Your progress")
    expect(status.get_by_role("heading", level=2)).to_have_text(
        "Join the programme to take this course"
    )
    expect(status.get_by_role("button", name="Start this course")).to_have_count(0)
    frame_settled(tool)
    status.get_by_role("button", name="Join the programme").click()
    expect_url(tool, f"{base}/courses/{course['slug']}/")
    expect(tool.locator(".flash-success")).to_have_text(
        "Welcome to the programme. Pick a course to start."
    )
    expect(status.get_by_role("button", name="Start this course")).to_be_visible()
    return status


def take_course(tool: Tool, course: dict[str, Any], base: str, snap: Snap = no_snap) -> None:
    """Start the course and work through every lesson, example and knowledge check.
    Snaps "lesson" on the first lesson and "check" on the first check's feedback."""
    frame_settled(tool)
    tool.get_by_role("region", name="Your progress").get_by_role(
        "button", name="Start this course"
    ).click()
    for m_index, module in enumerate(course["modules"]):
        for i_index, item in enumerate([*module["lessons"], module["example"]]):
            expect(h1(tool)).to_have_text(item["title"])
            if m_index == i_index == 0:
                snap("lesson")
            frame_settled(tool)
            tool.get_by_role("button", name=re.compile(r"^Mark as done and continue")).click()
        expect_url(tool, f"{base}/courses/{course['slug']}/m/{module['slug']}/check")
        take_check(tool, module, first=m_index == 0)
        if m_index == 0:
            snap("check")
        frame_settled(tool)
        tool.get_by_role("link", name=re.compile(r"^Continue: ")).click()


def pass_exercise(tool: Tool, course: dict[str, Any], base: str, snap: Snap = no_snap) -> None:
    """Fill in the final exercise and pass it (snaps "exercise"), then back to the course."""
    exercise = course["exercise"]
    expect_url(tool, f"{base}/courses/{course['slug']}/exercise")
    expect(h1(tool)).to_have_text(exercise["title"])
    for field in exercise["fields"]:
        label = f"{field['label']} ({field['unit']})" if field.get("unit") else field["label"]
        tool.get_by_label(label, exact=True).fill(number(field["answer"]))
    tool.get_by_role("button", name="Check my answers").click()
    expect(tool.locator(".flash-success")).to_have_text("Exercise passed.")
    expect(tool.locator("section.result-card").get_by_role("heading")).to_have_text("Passed: 100%")
    snap("exercise")
    tool.get_by_role("link", name="Back to the course").click()


def expect_course_completed(tool: Tool, course: dict[str, Any]) -> Locator:
    """The course page says it is done, every item ticked; returns "Your progress"."""
    expect(h1(tool)).to_have_text(course["title"])
    status = tool.get_by_role("region", name="Your progress")
    expect(status.get_by_role("heading", level=2)).to_have_text("You completed this course")
    expect(status).to_contain_text("with a score of 100%")
    expect(tool.locator(".badge.ok")).to_have_count(
        sum(len(m["lessons"]) + 2 for m in course["modules"]) + 1
    )
    return status


def download_certificate(tool: Tool, course: dict[str, Any]) -> tuple[str, bytes]:
    """From the completed course page: the certificate's code (from its verification link)
    and the downloaded PDF."""
    status = tool.get_by_role("region", name="Your progress")
    href = status.get_by_role("link", name="Its public verification page").get_attribute("href")
    assert href and href.startswith("/certificates/"), href
    name, pdf = download(tool, status.get_by_role("link", name="Download your certificate (PDF)"))
    assert name == f"certificate-{course['slug']}.pdf", name
    return href.rsplit("/", 1)[-1], pdf


def certificate_url(pdf: bytes, course: dict[str, Any]) -> str:
    """The certificate names the learner and the course, and prints its verification link."""
    text = pdf_text(pdf)
    assert LEARNER.name in text, text
    assert course["title"] in text, text
    # The link is printed in a narrow column and may wrap; read it without line breaks.
    found = CERTIFICATE_URL.search(re.sub(r"\s+", "", text))
    assert found, f"no /certificates/<code> link in the certificate:\n{text}"
    return found.group(0)


def verify_certificate(visitor: Page, url: str, course: dict[str, Any]) -> None:
    """Anyone with the link sees that the certificate is genuine, whose and for what."""
    response = visitor.goto(url)
    assert response is not None and response.status == 200
    expect(h1(visitor)).to_have_text("This certificate is genuine")
    details = visitor.locator("section.verified")
    expect(details.locator("dt", has_text="Name").locator("+ dd")).to_have_text(LEARNER.name)
    expect(details.locator("dt", has_text="Course").locator("+ dd")).to_contain_text(
        f"{course['title']} (version {course['version']})"
    )
    # No navigation for a visitor who is not signed in.
    expect(visitor.get_by_role("navigation", name="Main")).to_have_count(0)


# -- a scenario assessment, from placement to the gradebook ----------------------------------

SCENARIO = scenarios()["angry-double-charge"]
TARGET = f"scenario:{SCENARIO.id}"
ACTIVITY = f"Scenario: {SCENARIO.title}"
RUBRIC = builtin_rubric()
# What a careful agent writes, one reply per customer message of the scenario.
REPLIES = (
    "I'm so sorry, that's a horrible thing to find in your banking app. I can hear how angry "
    "you are, and being overdrawn just before your rent is due is really worrying. The double "
    "payment is our mistake, not yours, and I'm going to put it right with you now.",
    "You're right, this is far more than an inconvenience: that was your rent money. So what "
    "you need is the £42.99 back before Friday and the overdraft fee covered, is that right? "
    "What I can do is refund the duplicate payment now and pay the fee your bank charges.",
    "I completely understand, waiting isn't fair when the mistake was ours. In other words: I "
    "have asked for an urgent refund, which usually arrives in one or two days, and I'll add a "
    "£10 credit too. Could you send me the bank's fee letter so I can pay it straight away?",
    "That's a fair question. The duplicate came from a retry on our side, and it has been "
    "switched off for your account. Next month you'll see exactly one payment on the 1st, and "
    "I'll email you to confirm. Is there anything else I can help you with today?",
)


def placed_row(course_page: Page) -> Locator:
    """The newest row of the course's activity table that opens our scenario."""
    return course_page.get_by_role("row").filter(has_text=TARGET).last


def weighted_score(levels: dict[str, int]) -> float:
    """The rubric's score in percent (level 1 counts 0, level 4 counts 100), weights applied."""
    criteria = RUBRIC["criteria"]
    total = sum(c["weight"] for c in criteria)
    points = sum(c["weight"] * (levels[c["id"]] - 1) / 3 for c in criteria)
    return round(100 * points / total, 1)


def place_scenario(course_page: Page, platform_base: str, snap: Snap = no_snap) -> None:
    """The trainer adds the scenario with the tool's picker (deep linking) in the course page;
    the platform lists it as graded (a gradebook column). Snaps "picker" before adding."""
    course_page.get_by_role("button", name="Add an activity as Tara Trainer").click()
    picker = tool_frame(course_page)
    expect(h1(picker)).to_have_text("Add CX Quality Academy activities")
    picker.get_by_label("Search").fill("Charged twice")
    picker.get_by_role("button", name="Search").click()
    expect(picker.get_by_text("1 activity matching “Charged twice”")).to_be_visible()
    choice = picker.get_by_label(ACTIVITY)
    expect(picker.locator(".pick")).to_contain_text("Graded · 100 points")
    frame_settled(picker)  # the search reloaded the picker: the LMS fits the frame to it
    choice.check()
    expect(choice).to_be_checked()
    snap("picker")
    picker.get_by_role("button", name="Add to course").click()

    # The platform verified the signed answer and lists the activity, with a column.
    expect(course_page).to_have_url(platform_base + "/dev-platform/")
    row = placed_row(course_page)
    expect(row).to_be_visible()
    expect(row.get_by_role("cell").first).to_have_text(f"{ACTIVITY} graded")
    expect(row.locator(".badge.ok")).to_have_text("graded")


def take_scenario(course_page: Page, snap: Snap = no_snap) -> bool:
    """The learner launches the placed scenario in the course page, joins the programme if
    she has not yet (and is brought back), and answers every customer message. Returns
    whether she joined here. Snaps "sent" when the conversation went for grading."""
    placed_row(course_page).get_by_role("button", name="As learner").click()
    tool = tool_frame(course_page)
    expect(h1(tool)).to_have_text(SCENARIO.title)
    expect(tool.locator(".lead")).to_have_text(SCENARIO.customer)
    start = tool.get_by_role("button", name="Start", exact=True)
    join_link = tool.get_by_role("link", name="Join it")
    joined_here = False
    # When several tests share a server, another may have joined already.
    expect(start.or_(join_link)).to_be_visible()
    if join_link.is_visible():
        join_link.click()
        expect(h1(tool)).to_have_text("The CX quality training programme")
        tool.get_by_role("button", name="Join the programme").click()
        joined_here = True
        # Back on the scenario, now with Start.
        expect(h1(tool)).to_have_text(SCENARIO.title)
        expect(tool.locator(".flash-success")).to_have_text(
            "Welcome to the programme. Pick a course to start."
        )
    expect(tool.get_by_text(f"You will read {len(SCENARIO.turns)} messages")).to_be_visible()
    start.click()

    expect(h1(tool)).to_have_text(SCENARIO.title)
    customer = tool.locator("ol.conversation > li.bubble-customer")
    agent = tool.locator("ol.conversation > li.bubble-agent")
    box = tool.get_by_label("Your reply to the customer")
    for index, (message, answer) in enumerate(zip(SCENARIO.turns, REPLIES, strict=True)):
        expect(customer).to_have_count(index + 1)
        expect(customer.nth(index).locator("p")).to_have_text(message)
        expect(box).to_be_empty()
        frame_settled(tool)  # each reply reloads the page, and the LMS fits the frame again
        box.fill(answer)
        tool.get_by_role("button", name="Send reply").click()
        expect(agent).to_have_count(index + 1)
        expect(agent.nth(index).locator("p")).to_have_text(answer)

    expect(tool.locator(".flash-success")).to_have_text(
        "Sent for grading. You will see your result here."
    )
    expect(tool.locator(".hint")).to_contain_text("Sent for grading on")
    expect(tool.get_by_label("Your reply to the customer")).to_have_count(0)
    expect(customer).to_have_count(len(SCENARIO.turns))
    snap("sent")
    return joined_here


def gradebook_row(page: Page, *texts: str) -> Locator:
    rows = page.locator("table tbody tr").filter(has_text=ACTIVITY)
    for text in texts:
        rows = rows.filter(has_text=text)
    return rows


GRADED_AT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def expect_gradebook_pending(course_page: Page) -> None:
    """The platform's gradebook (opened from the course page) shows the learner's work as
    waiting for a trainer; it reloads until the score arrives."""
    course_page.get_by_role("link", name="gradebook").click()
    expect(h1(course_page)).to_have_text("Gradebook")
    pending = gradebook_row(course_page, LEARNER.sub).last
    reload_until_text(course_page, pending.locator("td").nth(3), "PendingManual")
    expect(pending.locator("td")).to_have_text(
        [
            ACTIVITY,
            LEARNER.sub,
            "—",
            "PendingManual",
            "Waiting for a trainer to grade it.",
            GRADED_AT,
        ]
    )


def expect_gradebook_score(course_page: Page, score: float, comment: str) -> None:
    """The platform's gradebook shows the learner's score and the trainer's comment."""
    course_page.get_by_role("link", name="gradebook").click()
    expect(h1(course_page)).to_have_text("Gradebook")
    graded = gradebook_row(course_page, LEARNER.sub, comment)
    reload_until_text(course_page, graded.locator("td").nth(2), f"{score:.1f} / 100")
    expect(graded).to_have_count(1)
    expect(graded.locator("td")).to_have_text(
        [ACTIVITY, LEARNER.sub, f"{score:.1f} / 100", "FullyGraded", comment, GRADED_AT]
    )
    # The pending row was replaced: one current score per column and person.
    expect(gradebook_row(course_page, LEARNER.sub, "PendingManual")).to_have_count(0)


def open_grading(tool: Tool, snap: Snap = no_snap) -> None:
    """Assessments -> Grading queue (snaps "queue") -> Grade the learner's scenario: the
    conversation with its evidence highlighted."""
    top_nav(tool, "Assessments").click()
    expect(h1(tool)).to_have_text("Skills of great service, assessed")
    frame_settled(tool)
    tool.get_by_role("link", name="Grading queue").click()
    expect(h1(tool)).to_have_text("Grading queue")
    waiting = tool.locator("table tbody tr").filter(has_text=LEARNER.name)
    waiting = waiting.filter(has_text=SCENARIO.title).last
    expect(waiting.locator("td").nth(2)).to_have_text("Scenario")
    snap("queue")
    frame_settled(tool)
    waiting.get_by_role("link", name=f"Grade {LEARNER.name}: {SCENARIO.title}").click()

    expect(h1(tool)).to_have_text(SCENARIO.title)
    expect(tool.locator(".eyebrow")).to_have_text(f"{LEARNER.name} · Chat")
    conversation = tool.get_by_role("list", name="Conversation")
    expect(conversation.locator("li.bubble-agent")).to_have_count(len(REPLIES))
    marks = conversation.locator("mark.evidence")
    expect(marks.first).to_be_visible()
    # Each highlight carries its note for screen readers and on hover.
    expect(marks.first).to_have_attribute("title", re.compile(r"^[A-Z][a-z ]+: .+"))


def suggested_levels(tool: Tool) -> dict[str, int]:
    """Each criterion shows its suggested level with a reason, pre-selected for the trainer to
    confirm or change; returns them."""
    levels: dict[str, int] = {}
    for criterion in RUBRIC["criteria"]:
        group = tool.get_by_role("group", name=criterion["name"], exact=True)
        suggestion = group.locator(".suggestion")
        expect(suggestion).to_contain_text(re.compile(r"Suggested: [1-4] — \S"))
        found = re.search(r"Suggested: ([1-4])", suggestion.inner_text())
        assert found, suggestion.inner_text()
        suggested = int(found.group(1))
        expect(group.get_by_role("radio", checked=True)).to_have_count(1)
        expect(group.get_by_role("radio", checked=True)).to_have_value(str(suggested))
        levels[criterion["id"]] = suggested
    return levels


def change_level_with_keyboard(tool: Tool, levels: dict[str, int]) -> None:
    """The keyboard shortcut: focus a radio of a criterion (Empathy), press a digit."""
    empathy = tool.get_by_role("group", name="Empathy", exact=True)
    before = levels["empathy"]
    chosen = 3 if before == 4 else 4
    empathy.get_by_role("radio", checked=True).focus()
    window_of(tool).keyboard.press(str(chosen))
    target = empathy.get_by_role("radio", name=re.compile(rf"^{chosen} · "))
    expect(target).to_be_checked()
    expect(target).to_be_focused()
    expect(empathy.get_by_role("radio", name=re.compile(rf"^{before} · "))).not_to_be_checked()
    levels["empathy"] = chosen


def write_grade_comment(tool: Tool, comment: str) -> None:
    tool.get_by_label(f"Comment for {LEARNER.name}").fill(comment)


def save_grade(tool: Tool) -> None:
    tool.get_by_role("button", name="Save the grade and open the next").click()
    expect(tool.locator(".flash-success")).to_have_text(f"Graded {LEARNER.name}: {SCENARIO.title}.")


def read_result(tool: Tool, score: float, levels: dict[str, int], comment: str) -> None:
    """The learner goes to Skill assessments (breadcrumb) and opens her graded scenario: her
    result, the trainer's comment and the level of each skill."""
    tool.get_by_role("navigation", name="Breadcrumb").get_by_role(
        "link", name="Skill assessments"
    ).click()
    expect(h1(tool)).to_have_text("Skills of great service, assessed")
    mine = tool.locator("section.card").filter(
        has=tool.get_by_role("heading", level=2, name="Your assessments")
    )
    entry = mine.locator("tbody tr").filter(has_text=SCENARIO.title).first
    expect(entry.locator("td")).to_have_text([SCENARIO.title, "Graded", f"{score:.0f}%"])
    frame_settled(tool)  # the page came from a click: the LMS may still be fitting the frame
    entry.get_by_role("link", name=SCENARIO.title).click()

    result = tool.locator("section.result-card")
    expect(result.get_by_role("heading", level=2)).to_have_text(f"Your result: {score:.0f}%")
    expect(result).to_contain_text(f"Your trainer's comment: {comment}")
    rows = result.locator("tbody tr")
    expect(rows).to_have_count(len(RUBRIC["criteria"]))
    for index, criterion in enumerate(RUBRIC["criteria"]):
        level = str(levels[criterion["id"]])
        expect(rows.nth(index).locator("td")).to_have_text(
            [criterion["name"], f"{level} · {RUBRIC['levels'][level]}", criterion["levels"][level]]
        )
    expect(result.get_by_role("columnheader")).to_have_text(
        ["Skill", "Level", "What this level means"]
    )
    expect(tool.get_by_label("Your reply to the customer")).to_have_count(0)


def leave_programme(tool: Tool) -> None:
    top_nav(tool, "My dashboard").click()
    tool.wait_for_url(re.compile(r"/dashboard\Z"), wait_until="commit")
    frame_settled(tool)
    tool.get_by_role("link", name="Your programme membership").click()
    expect(h1(tool)).to_have_text("The CX quality training programme")
    frame_settled(tool)
    tool.get_by_role("button", name="Leave the programme").click()
    expect(tool.locator(".flash-success")).to_contain_text("You have left the programme.")


# -- recognition: a manager's badge, and the learner who receives it ---------------------------

VERIFY_PATH = re.compile(r"^/badges/verify/[0-9a-f-]{36}$")


def award_items(view: Tool, message: str) -> Locator:
    """The award-list entries that carry this message (the wall may hold others)."""
    return view.locator("ul.award-list > li").filter(has_text=message)


def join_from_dashboard(tool: Tool) -> bool:
    """The learner joins the programme from her dashboard unless she has already; returns
    whether she joined here."""
    expect(h1(tool)).to_have_text(f"Welcome, {LEARNER.given_name}")
    join = tool.get_by_role("button", name="Join the programme")
    joined = tool.get_by_role("link", name="Your programme membership")
    # When several tests share a server, another may have joined already.
    expect(join.or_(joined)).to_be_visible()
    joined_here = join.is_visible()
    if joined_here:
        frame_settled(tool)
        join.click()
        expect(tool.locator(".flash-success")).to_have_text(
            "Welcome to the programme. Pick a course to start."
        )
    expect(joined).to_be_visible()
    expect(tool.get_by_role("button", name="Join the programme")).to_have_count(0)
    return joined_here


def open_award_form(tool: Tool, base: str) -> None:
    """Wall in the top navigation, then "Recognise someone": a labelled form that offers the
    learner."""
    top_nav(tool, "Wall").click()
    expect_url(tool, base + "/recognition/wall")
    expect(h1(tool)).to_have_text("Recognition wall")
    tool.get_by_role("link", name="Recognise someone").click()
    expect(h1(tool)).to_have_text("Recognise someone in your team")
    assert_controls_labelled(tool)
    expect(tool.get_by_label("Who").locator("option", has_text=LEARNER.name)).to_have_count(1)
    expect(tool.get_by_label("Your message")).to_have_attribute("aria-describedby", "message-hint")


def award_badge(tool: Tool, badge: str, message: str, base: str) -> Locator:
    """Award ``badge`` to the learner with ``message``: the wall shows it; returns its entry."""
    tool.get_by_label("Who").select_option(label=LEARNER.name)
    tool.get_by_label("Badge", exact=True).select_option(label=badge)
    tool.get_by_label("Your message").fill(message)
    tool.get_by_role("button", name="Award the badge").click()

    expect_url(tool, base + "/recognition/wall")
    expect(tool.locator(".flash-success")).to_have_text(f"You recognised {LEARNER.name}: {badge}.")
    card = award_items(tool, message)
    expect(card).to_have_count(1)
    expect(card.get_by_role("heading", level=3)).to_have_text(f"{LEARNER.name} · {badge}")
    expect(card.locator("blockquote.award-message")).to_have_text(f"“{message}”")
    expect(card).to_contain_text(f"From {MANAGER.name}")
    return card


def open_my_badges(tool: Tool, badge: str, message: str, base: str) -> tuple[Locator, str]:
    """Badges in the top navigation: the badge, the manager's message and who gave it;
    returns the award's entry and the path of its public verification page."""
    top_nav(tool, "Badges").click()
    expect_url(tool, base + "/recognition/")
    expect(h1(tool)).to_have_text("Your badges")
    mine = award_items(tool, message)
    expect(mine).to_have_count(1)
    expect(mine.get_by_role("heading", level=3)).to_have_text(badge)
    expect(mine.locator("blockquote.award-message")).to_have_text(f"“{message}”")
    expect(mine.locator(".award-card p.muted")).to_contain_text(f"From {MANAGER.name}")
    href = mine.get_by_role("link", name="Public verification page").get_attribute("href")
    assert href and VERIFY_PATH.match(href), href
    return mine, href


# -- training impact: a survey import, the impact page and its PDF -----------------------------

IMPACT_TITLE = "Did training move CSAT?"
COMPARISON_PANEL = "Trained teams against teams not (yet) trained"


def open_import_form(tool: Tool, base: str) -> None:
    """Impact in the top navigation, then "Import survey results"."""
    top_nav(tool, "Impact").click()
    expect_url(tool, base + "/insights/")
    expect(h1(tool)).to_have_text(IMPACT_TITLE)
    tool.get_by_role("link", name="Import survey results").click()
    expect_url(tool, base + "/insights/import")
    expect(h1(tool)).to_have_text("Import survey results")
    assert_controls_labelled(tool)


def upload_survey(tool: Tool, path: Path, id_column: str = "response_id") -> None:
    """Fill the import form (CSAT, the default columns, ids mapped) and submit it."""
    tool.get_by_label("CSV file").set_input_files(path)
    tool.get_by_label("Metric").select_option("csat")
    expect(tool.get_by_label("Team column")).to_have_value("team")
    expect(tool.get_by_label("Date column")).to_have_value("date")
    expect(tool.get_by_label("Score column")).to_have_value("score")
    tool.get_by_label("Response id column (optional)").fill(id_column)
    tool.get_by_role("button", name="Import", exact=True).click()


def expect_imported(tool: Tool, base: str, count: int) -> None:
    """The import went through: back on the impact page, which says how many it took."""
    expect_url(tool, base + "/insights/?metric=csat")
    expect(tool.locator(".flash-success")).to_have_text(
        f"Imported {count} responses (0 already there, 0 bad rows skipped)."
    )
    expect(h1(tool)).to_have_text(IMPACT_TITLE)


def comparison_panel(tool: Tool) -> Locator:
    panel = tool.locator("section.card").filter(
        has=tool.get_by_role("heading", name=COMPARISON_PANEL)
    )
    expect(panel).to_have_count(1)
    return panel


def prepare_report_pdf(tool: Tool) -> Locator:
    """Ask for the report as a PDF: a page shows the worker's progress (and reloads itself);
    returns its download link, which shows once the worker is done."""
    tool.get_by_role("button", name="Prepare this report as a PDF").click()
    expect(h1(tool)).to_have_text("Training impact report (CSAT)")
    return tool.get_by_role("link", name=re.compile(r"^Download training-"))


def download_report_pdf(tool: Tool, link: Locator) -> str:
    """Download the report: a real PDF with the title and the method notes; returns its text
    (without line breaks, which may fall anywhere)."""
    name, pdf = download(tool, link)
    assert re.fullmatch(r"training-impact-csat-\d{4}-\d{2}-\d{2}\.pdf", name), name
    text = pdf_text(pdf)
    assert "Training impact on CSAT" in text, text
    assert "Method" in text, text
    return re.sub(r"\s+", " ", text)
