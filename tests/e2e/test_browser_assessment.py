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
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import DemoService
from tests.e2e.steps import (
    LEARNER,
    RUBRIC,
    change_level_with_keyboard,
    expect_gradebook_pending,
    expect_gradebook_score,
    explained,
    launch_in_new_window,
    leave_programme,
    new_context,
    open_course_page,
    open_grading,
    place_scenario,
    read_result,
    save_grade,
    suggested_levels,
    take_scenario,
    tool_frame,
    top_nav,
    weighted_score,
    write_grade_comment,
)

pytestmark = pytest.mark.e2e

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
            place_scenario(tara_course, base)

        # 2. Lena launches the placed activity in the course page and takes the scenario.
        lena_course = open_course_page(lena_ctx, base)
        with explained(lena_course, "the learner takes the scenario"):
            joined_here = take_scenario(lena_course)

        # The LMS already knows the work waits for a trainer.
        with explained(tara_course, "the gradebook shows the work as pending"):
            expect_gradebook_pending(tara_course)

        # 3. Tara grades from the queue, with the suggestions beside the conversation.
        tara_course.go_back()
        expect(tara_course).to_have_url(base + "/dev-platform/")
        tara = launch_in_new_window(tara_course, "trainer", base)
        with explained(tara, "the trainer grades the conversation"):
            open_grading(tara)
            levels = suggested_levels(tara)
            change_level_with_keyboard(tara, levels)
            write_grade_comment(tara, comment)
            tara.screenshot(path=results_dir / "assessment-grade.png", full_page=True)
            save_grade(tara)

        score = weighted_score(levels)

        # 4. The worker delivers the score to the platform's gradebook.
        with explained(tara_course, "the score reaches the gradebook"):
            expect_gradebook_score(tara_course, score, comment)
            tara_course.screenshot(path=results_dir / "assessment-gradebook.png", full_page=True)

        # 5. Lena reads her result.
        with explained(lena_course, "the learner reads the result"):
            read_result(tool_frame(lena_course), score, levels, comment)
            lena_course.screenshot(
                path=results_dir / "assessment-result-in-course-page.png", full_page=True
            )
            # The same page on its own, as when the LMS opens the tool in a new window.
            alone = lena_ctx.new_page()
            alone.goto(tool_frame(lena_course).url)
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
                "Your levels are saved and locked. The group's results show when the trainer "
                "closes the session."
            )
            # Blind until the session closes: locked levels, who has saved, no group results.
            locked = tara.get_by_role("heading", level=2, name="Your levels (locked)")
            expect(locked).to_be_visible()
            expect(tara.get_by_role("heading", name="Saved so far")).to_be_visible()
            expect(tara.get_by_role("heading", name=re.compile(r"^The group"))).to_have_count(0)
            tara.get_by_role("button", name="Close the session and show the results").click()
            expect(tara.get_by_role("heading", name="The group (1 grader)")).to_be_visible()

        # Leave Lena as this test found her (other tests expect a learner who has not joined).
        if joined_here:
            with explained(lena_course, "the learner leaves the programme again"):
                leave_programme(tool_frame(lena_course))
                left_again = True
    finally:
        if joined_here and not left_again and lena_course is not None:
            with contextlib.suppress(Exception):
                leave_programme(tool_frame(lena_course))
        tara_ctx.close()
        lena_ctx.close()
