"""A scenario assessment from placement to gradebook in a real Chromium against
``scripts/run-demo``: the issue's "done when" for skill assessments.

Trainer (Tara) and learner (Lena) act in separate browser contexts (separate cookies, as two
people on two computers), each starting from the development platform's course page:

1. Tara adds "Scenario: Charged twice and furious" with "Add an activity as Tara Trainer"
   (deep linking); the platform lists it as graded (a gradebook column).
2. Lena launches that activity in the course page, joins the programme if she has not yet
   (and is brought back to the scenario), starts it and answers every customer message.
   The platform's gradebook shows her work as waiting for manual grading.
3. Tara opens Assessments -> Grading queue -> Grade: the suggestions are shown and
   pre-selected, evidence is highlighted; she changes one level with the keyboard (focus a
   radio, press a digit) and saves the grade with a comment.
4. The grade worker of the demo delivers the score: the platform's gradebook shows Lena's score
   for that column (polled by reloading).
5. Lena sees "Your result" and the rubric table with the levels Tara gave.
6. Tara adds a pasted transcript of Lena's, opens it from the queue and starts a calibration
   session on it: the blind grading form, then the group's results once she saved her levels.

If the test made Lena join the programme, she leaves it again at the end: other tests on the
same server expect a learner who has not joined yet. Screenshots of the grade page, the
gradebook and the learner's result go to ``test-results/e2e/``.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import time
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    expect,
)

from assessments.library import builtin_rubric, scenarios
from lms.devplatform.service import PERSONAS
from tests.e2e.conftest import ACTION_TIMEOUT_MS, DemoService
from tests.e2e.steps import explained, new_context, top_nav

pytestmark = pytest.mark.e2e

expect.set_options(timeout=ACTION_TIMEOUT_MS)

LEARNER = PERSONAS["learner"]
TRAINER = PERSONAS["trainer"]
SCENARIO = scenarios()["angry-double-charge"]
TARGET = f"scenario:{SCENARIO.id}"
ACTIVITY = f"Scenario: {SCENARIO.title}"
RUBRIC = builtin_rubric()
TOOL_FRAME = "iframe[name=tool-frame]"
GRADEBOOK_TIMEOUT_S = 60  # the worker polls every 2 s; generous for a loaded machine
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
PASTED_TRANSCRIPT = (
    "Customer: Hi, my parcel still hasn't arrived and it's been ten days. I'm really fed up.\n"
    "Agent: I'm sorry to hear that, ten days is far too long. Could you give me the order "
    "number?\n"
    "Customer: It's 55821.\n"
    "Agent: Thank you. What I can do is send a replacement today by tracked delivery. Does that "
    "help?\n"
    "Customer: Yes, thanks.\n"
    "Agent: Of course. Is there anything else I can help with?\n"
)


def open_course_page(context: BrowserContext, base: str) -> Page:
    page = context.new_page()
    page.goto(base + "/dev-platform/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Customer Experience Quality (demo course)"
    )
    return page


def launch_in_new_window(context: BrowserContext, course_page: Page, persona_key: str) -> Page:
    with context.expect_page() as opened:
        course_page.get_by_role("button", name=f"Launch as {persona_key} in a new window").click()
    return opened.value


def placed_row(course_page: Page) -> Locator:
    """The newest row of the course's activity table that opens our scenario."""
    return course_page.get_by_role("row").filter(has_text=TARGET).last


def weighted_score(levels: dict[str, int]) -> float:
    """The rubric's score in percent (level 1 counts 0, level 4 counts 100), weights applied."""
    criteria = RUBRIC["criteria"]
    total = sum(c["weight"] for c in criteria)
    points = sum(c["weight"] * (levels[c["id"]] - 1) / 3 for c in criteria)
    return round(100 * points / total, 1)


def reload_until_text(page: Page, locator: Locator, text: str | re.Pattern[str]) -> None:
    """Reload the page until ``locator`` shows ``text`` (another process writes it)."""
    deadline = time.monotonic() + GRADEBOOK_TIMEOUT_S
    while True:
        try:
            expect(locator).to_have_text(text, timeout=1_500)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.reload()


def gradebook_row(page: Page, *texts: str) -> Locator:
    rows = page.locator("table tbody tr").filter(has_text=ACTIVITY)
    for text in texts:
        rows = rows.filter(has_text=text)
    return rows


def test_scenario_is_placed_taken_graded_and_reaches_the_gradebook(
    browser: Browser, demo_server: DemoService, results_dir: Path
) -> None:
    base = demo_server.base_url
    comment = f"Warm, clear and honest all the way through. ({secrets.token_hex(3)})"
    tara_ctx = new_context(browser)
    lena_ctx = new_context(browser)
    lena_course: Page | None = None
    joined_here = False
    left_again = False
    try:
        # 1. Tara places the scenario through the tool's picker (deep linking).
        tara_course = open_course_page(tara_ctx, base)
        with explained(tara_course, "the trainer places the scenario"):
            tara_course.get_by_role("button", name="Add an activity as Tara Trainer").click()
            picker = tara_course.frame_locator(TOOL_FRAME)
            expect(picker.get_by_role("heading", level=1)).to_have_text(
                "Add CX Quality Academy activities"
            )
            picker.get_by_label("Search").fill("Charged twice")
            picker.get_by_role("button", name="Search").click()
            expect(picker.get_by_text("1 activity matching “Charged twice”")).to_be_visible()
            choice = picker.get_by_label(ACTIVITY)
            expect(picker.locator(".pick")).to_contain_text("Graded · 100 points")
            choice.check()
            expect(choice).to_be_checked()
            picker.get_by_role("button", name="Add to course").click()

            # The platform verified the signed answer and lists the activity, with a column.
            expect(tara_course).to_have_url(base + "/dev-platform/")
            row = placed_row(tara_course)
            expect(row).to_be_visible()
            expect(row.get_by_role("cell").first).to_have_text(f"{ACTIVITY} graded")
            expect(row.locator(".badge.ok")).to_have_text("graded")

        # 2. Lena launches the placed activity in the course page and takes the scenario.
        lena_course = open_course_page(lena_ctx, base)
        with explained(lena_course, "the learner takes the scenario"):
            placed_row(lena_course).get_by_role("button", name="As learner").click()
            tool = lena_course.frame_locator(TOOL_FRAME)
            expect(tool.get_by_role("heading", level=1)).to_have_text(SCENARIO.title)
            expect(tool.locator(".lead")).to_have_text(SCENARIO.customer)
            start = tool.get_by_role("button", name="Start", exact=True)
            join_link = tool.get_by_role("link", name="Join it")
            # When the whole e2e suite runs, another test may have joined already.
            expect(start.or_(join_link)).to_be_visible()
            if join_link.is_visible():
                join_link.click()
                expect(tool.get_by_role("heading", level=1)).to_have_text(
                    "The CX quality training programme"
                )
                tool.get_by_role("button", name="Join the programme").click()
                joined_here = True
                # Back on the scenario, now with Start.
                expect(tool.get_by_role("heading", level=1)).to_have_text(SCENARIO.title)
                expect(tool.locator(".flash-success")).to_have_text(
                    "Welcome to the programme. Pick a course to start."
                )
            expect(
                tool.get_by_text(f"You will read {len(SCENARIO.turns)} messages")
            ).to_be_visible()
            start.click()

            expect(tool.get_by_role("heading", level=1)).to_have_text(SCENARIO.title)
            customer = tool.locator("ol.conversation > li.bubble-customer")
            agent = tool.locator("ol.conversation > li.bubble-agent")
            box = tool.get_by_label("Your reply to the customer")
            for index, (message, answer) in enumerate(zip(SCENARIO.turns, REPLIES, strict=True)):
                expect(customer).to_have_count(index + 1)
                expect(customer.nth(index).locator("p")).to_have_text(message)
                expect(box).to_be_empty()
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

        # The LMS already knows the work waits for a trainer.
        with explained(tara_course, "the gradebook shows the work as pending"):
            tara_course.get_by_role("link", name="gradebook").click()
            expect(tara_course.get_by_role("heading", level=1)).to_have_text("Gradebook")
            pending = gradebook_row(tara_course, LEARNER.sub).last
            reload_until_text(tara_course, pending.locator("td").nth(3), "PendingManual")
            expect(pending.locator("td")).to_have_text(
                [ACTIVITY, LEARNER.sub, "—", "PendingManual", "Waiting for a trainer to grade it.",
                 re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")]
            )  # fmt: skip

        # 3. Tara grades from the queue, with the suggestions beside the conversation.
        tara_course.go_back()
        expect(tara_course).to_have_url(base + "/dev-platform/")
        tara = launch_in_new_window(tara_ctx, tara_course, "trainer")
        with explained(tara, "the trainer grades the conversation"):
            expect(tara).to_have_url(base + "/dashboard")
            top_nav(tara, "Assessments").click()
            expect(tara.get_by_role("heading", level=1)).to_have_text(
                "Skills of great service, assessed"
            )
            tara.get_by_role("link", name="Grading queue").click()
            expect(tara.get_by_role("heading", level=1)).to_have_text("Grading queue")
            waiting = tara.locator("table tbody tr").filter(has_text=LEARNER.name)
            waiting = waiting.filter(has_text=SCENARIO.title).last
            expect(waiting.locator("td").nth(2)).to_have_text("Scenario")
            waiting.get_by_role("link", name=f"Grade {LEARNER.name}: {SCENARIO.title}").click()

            expect(tara.get_by_role("heading", level=1)).to_have_text(SCENARIO.title)
            expect(tara.locator(".eyebrow")).to_have_text(f"{LEARNER.name} · Chat")
            conversation = tara.get_by_role("list", name="Conversation")
            expect(conversation.locator("li.bubble-agent")).to_have_count(len(REPLIES))
            marks = conversation.locator("mark.evidence")
            expect(marks.first).to_be_visible()
            # Each highlight carries its note for screen readers and on hover.
            expect(marks.first).to_have_attribute("title", re.compile(r"^[A-Z][a-z ]+: .+"))

            levels: dict[str, int] = {}
            for criterion in RUBRIC["criteria"]:
                group = tara.get_by_role("group", name=criterion["name"], exact=True)
                suggestion = group.locator(".suggestion")
                expect(suggestion).to_contain_text(re.compile(r"Suggested: [1-4] — \S"))
                found = re.search(r"Suggested: ([1-4])", suggestion.inner_text())
                assert found, suggestion.inner_text()
                suggested = int(found.group(1))
                # Pre-selected, for the trainer to confirm or change.
                expect(group.get_by_role("radio", checked=True)).to_have_count(1)
                expect(group.get_by_role("radio", checked=True)).to_have_value(str(suggested))
                levels[criterion["id"]] = suggested

            # The keyboard shortcut: focus a radio of a criterion, press a digit.
            empathy = tara.get_by_role("group", name="Empathy", exact=True)
            before = levels["empathy"]
            chosen = 3 if before == 4 else 4
            empathy.get_by_role("radio", checked=True).focus()
            tara.keyboard.press(str(chosen))
            target = empathy.get_by_role("radio", name=re.compile(rf"^{chosen} · "))
            expect(target).to_be_checked()
            expect(target).to_be_focused()
            expect(
                empathy.get_by_role("radio", name=re.compile(rf"^{before} · "))
            ).not_to_be_checked()
            levels["empathy"] = chosen

            tara.get_by_label(f"Comment for {LEARNER.name}").fill(comment)
            tara.screenshot(path=results_dir / "assessment-grade.png", full_page=True)
            tara.get_by_role("button", name="Save the grade and open the next").click()
            expect(tara.locator(".flash-success")).to_have_text(
                f"Graded {LEARNER.name}: {SCENARIO.title}."
            )

        score = weighted_score(levels)

        # 4. The worker delivers the score to the platform's gradebook.
        with explained(tara_course, "the score reaches the gradebook"):
            tara_course.get_by_role("link", name="gradebook").click()
            expect(tara_course.get_by_role("heading", level=1)).to_have_text("Gradebook")
            graded = gradebook_row(tara_course, LEARNER.sub, comment)
            reload_until_text(tara_course, graded.locator("td").nth(2), f"{score:.1f} / 100")
            expect(graded).to_have_count(1)
            expect(graded.locator("td")).to_have_text(
                [ACTIVITY, LEARNER.sub, f"{score:.1f} / 100", "FullyGraded", comment,
                 re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")]
            )  # fmt: skip
            # The pending row was replaced: one current score per column and person.
            expect(gradebook_row(tara_course, LEARNER.sub, "PendingManual")).to_have_count(0)
            tara_course.screenshot(path=results_dir / "assessment-gradebook.png", full_page=True)

        # 5. Lena reads her result.
        with explained(lena_course, "the learner reads the result"):
            tool = lena_course.frame_locator(TOOL_FRAME)
            tool.get_by_role("navigation", name="Breadcrumb").get_by_role(
                "link", name="Skill assessments"
            ).click()
            expect(tool.get_by_role("heading", level=1)).to_have_text(
                "Skills of great service, assessed"
            )
            mine = tool.locator("section.card").filter(
                has=tool.get_by_role("heading", level=2, name="Your assessments")
            )
            entry = mine.locator("tbody tr").filter(has_text=SCENARIO.title).first
            expect(entry.locator("td")).to_have_text([SCENARIO.title, "Graded", f"{score:.0f}%"])
            entry.get_by_role("link", name=SCENARIO.title).click()

            result = tool.locator("section.result-card")
            expect(result.get_by_role("heading", level=2)).to_have_text(
                f"Your result: {score:.0f}%"
            )
            expect(result).to_contain_text(f"Your trainer's comment: {comment}")
            rows = result.locator("tbody tr")
            expect(rows).to_have_count(len(RUBRIC["criteria"]))
            for index, criterion in enumerate(RUBRIC["criteria"]):
                level = str(levels[criterion["id"]])
                expect(rows.nth(index).locator("td")).to_have_text(
                    [
                        criterion["name"],
                        f"{level} · {RUBRIC['levels'][level]}",
                        criterion["levels"][level],
                    ]
                )
            expect(result.get_by_role("columnheader")).to_have_text(
                ["Skill", "Level", "What this level means"]
            )
            expect(tool.get_by_label("Your reply to the customer")).to_have_count(0)
            lena_course.screenshot(
                path=results_dir / "assessment-result-in-course-page.png", full_page=True
            )
            # The same page on its own, as when the LMS opens the tool in a new window.
            frame = lena_course.frame(name="tool-frame")
            assert frame is not None
            alone = lena_ctx.new_page()
            alone.goto(frame.url)
            expect(alone.locator("section.result-card").get_by_role("heading")).to_have_text(
                f"Your result: {score:.0f}%"
            )
            alone.screenshot(path=results_dir / "assessment-learner-result.png", full_page=True)
            alone.close()

        # 6. Tara calibrates the graders on another conversation of Lena's.
        with explained(tara, "the trainer starts a calibration"):
            top_nav(tara, "Assessments").click()
            tara.get_by_role("link", name="Assess conversations").click()
            expect(tara.get_by_role("heading", level=1)).to_have_text(
                "Assess an agent's conversations"
            )
            tara.get_by_label("Whose conversations").select_option(label=LEARNER.name)
            tara.get_by_label("Channel").select_option(label="Chat")
            tara.get_by_label("Or paste a transcript").fill(PASTED_TRANSCRIPT)
            tara.get_by_role("button", name="Add to the grading queue").click()
            expect(tara.get_by_role("heading", level=1)).to_have_text("Grading queue")
            expect(tara.locator(".flash-success")).to_have_text(
                "1 conversation(s) added to the grading queue."
            )
            pasted = tara.locator("table tbody tr").filter(has_text=LEARNER.name)
            pasted = pasted.filter(has_text="Pasted transcript, ").last
            expect(pasted.locator("td").nth(2)).to_have_text("Transcript")
            pasted.get_by_role(
                "link", name=re.compile(rf"^Grade {LEARNER.name}: Pasted transcript, ")
            ).click()
            expect(tara.get_by_role("heading", level=1)).to_contain_text("Pasted transcript, ")
            tara.get_by_role("button", name="Calibrate graders on this conversation").click()

            expect(tara.get_by_role("heading", level=1)).to_have_text("Calibration session")
            expect(tara.locator(".flash-success")).to_have_text(
                "Calibration started: send this page's address to the other graders."
            )
            expect(tara).to_have_url(
                re.compile(re.escape(base) + r"/assessments/calibrations/\d+$")
            )
            form = tara.locator("form").filter(
                has=tara.get_by_role("button", name="Save my levels")
            )
            expect(form.get_by_role("heading", level=2)).to_have_text("Your levels")
            expect(form.get_by_role("group")).to_have_count(len(RUBRIC["criteria"]))
            # Blind: no suggestion is shown and nothing is pre-selected.
            expect(tara.locator(".suggestion")).to_have_count(0)
            expect(form.get_by_role("radio", checked=True)).to_have_count(0)
            expect(tara.get_by_role("list", name="Conversation").locator("li")).to_have_count(6)
            for criterion in RUBRIC["criteria"]:
                group = form.get_by_role("group", name=criterion["name"], exact=True)
                group.get_by_text("3 · Proficient").click()
                expect(group.get_by_role("radio", name=re.compile(r"^3 · "))).to_be_checked()
            tara.screenshot(path=results_dir / "assessment-calibration.png", full_page=True)
            form.get_by_role("button", name="Save my levels").click()
            expect(tara.locator(".flash-success")).to_have_text(
                "Your levels are saved. The group's results show once others have graded."
            )
            expect(tara.get_by_role("heading", name="The group (1 grader)")).to_be_visible()
            expect(
                tara.get_by_role("heading", level=2, name="Your levels (you can change them)")
            ).to_be_visible()

        # Leave Lena as this test found her (other tests expect a learner who has not joined).
        if joined_here:
            with explained(lena_course, "the learner leaves the programme again"):
                leave_programme(lena_course)
                left_again = True
    finally:
        if joined_here and not left_again and lena_course is not None:
            with contextlib.suppress(Exception):
                leave_programme(lena_course)
        tara_ctx.close()
        lena_ctx.close()


def leave_programme(course_page: Page) -> None:
    tool = course_page.frame_locator(TOOL_FRAME)
    top_nav(tool, "My dashboard").click()
    tool.get_by_role("link", name="Your programme membership").click()
    expect(tool.get_by_role("heading", level=1)).to_have_text("The CX quality training programme")
    tool.get_by_role("button", name="Leave the programme").click()
    expect(tool.locator(".flash-success")).to_contain_text("You have left the programme.")
