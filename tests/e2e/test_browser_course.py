"""A learner takes a whole course in a real Chromium against ``scripts/run-demo``: launch from
the development platform -> join the programme -> every lesson, example and knowledge check ->
the final exercise -> download the certificate -> a stranger verifies it.

The answers come from the course's own content pack, read here with ``courses.pack``; the
browser only does what a person does (clicks, ticks, types). Screenshots of the check page with
its feedback and of the completed course page go to ``test-results/e2e/``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from courses.pack import load_directory
from lms.devplatform.service import PERSONAS
from tests.e2e.conftest import ACTION_TIMEOUT_MS, ROOT, VIEWPORT, DemoService
from tests.e2e.steps import assert_controls_labelled, explained

pytestmark = pytest.mark.e2e

expect.set_options(timeout=ACTION_TIMEOUT_MS)

COURSE_DIR = ROOT / "courses" / "content" / "net-promoter-score"
LEARNER = PERSONAS["learner"]
CERTIFICATE_URL = re.compile(r"https?://[^\s/]+/certificates/[A-Za-z0-9_-]{16}")


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


def take_check(page: Page, module: dict[str, Any], *, first: bool, results_dir: Path) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text("Knowledge check")
    expect(page.locator(".eyebrow")).to_have_text(module["title"])
    questions = module["check"]["questions"]
    fieldsets = page.locator("form.check-form fieldset.question")
    expect(fieldsets).to_have_count(len(questions))
    if first:
        assert_controls_labelled(page, "main")
        # A label click reaches its control (what a screen reader or a mouse user relies on).
        index, choice = next((i, q) for i, q in enumerate(questions) if q["type"] == "single")
        wrong = next(o for o in choice["options"] if not o["correct"])
        fieldsets.nth(index).get_by_text(wrong["text"], exact=True).click()
        expect(fieldsets.nth(index).get_by_label(wrong["text"], exact=True)).to_be_checked()
    for index, question in enumerate(questions):
        answer_question(question, fieldsets.nth(index))
    page.get_by_role("button", name="Check my answers").click()

    points = number(sum(q["points"] for q in questions))
    result = page.locator("section.result-card")
    expect(result.get_by_role("heading", level=2)).to_have_text(
        f"Passed: {points} of {points} (100%)"
    )
    expect(page.locator(".feedback-list > li.feedback.right")).to_have_count(len(questions))
    expect(page.get_by_role("button", name="Check my answers")).to_have_count(0)
    if first:
        page.screenshot(path=results_dir / "course-check-feedback.png", full_page=True)


def test_learner_completes_a_course_and_a_stranger_verifies_the_certificate(
    browser, demo_server: DemoService, results_dir: Path
) -> None:
    pack = load_directory(COURSE_DIR)
    course = pack.document
    base = demo_server.base_url

    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        platform = context.new_page()
        platform.goto(base + "/dev-platform/")
        expect(platform.get_by_role("heading", level=1)).to_have_text(
            "Customer Experience Quality (demo course)"
        )
        with context.expect_page() as opened:
            platform.get_by_role("button", name="Launch as learner in a new window").click()
        page = opened.value

        with explained(page, "launch and join the programme"):
            expect(page).to_have_url(base + "/dashboard")
            expect(page.get_by_role("heading", level=1)).to_have_text(
                f"Welcome, {LEARNER.given_name}"
            )
            # Not in the programme yet: said plainly, with the choice to join.
            expect(page.get_by_text("Nothing is tracked until you choose to join")).to_be_visible()
            expect(page.get_by_role("button", name="Join the programme")).to_be_visible()

            page.get_by_role("navigation", name="Main").get_by_role("link", name="Courses").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Courses")
            page.get_by_role("link", name=course["title"], exact=True).click()
            expect(page.get_by_role("heading", level=1)).to_have_text(course["title"])
            status = page.get_by_role("region", name="Your progress")
            expect(status.get_by_role("heading", level=2)).to_have_text(
                "Join the programme to take this course"
            )
            expect(status.get_by_role("button", name="Start this course")).to_have_count(0)

            status.get_by_role("button", name="Join the programme").click()
            expect(page).to_have_url(f"{base}/courses/{course['slug']}/")
            expect(page.locator(".flash-success")).to_have_text(
                "Welcome to the programme. Pick a course to start."
            )
            status.get_by_role("button", name="Start this course").click()

        for m_index, module in enumerate(course["modules"]):
            pages = [*module["lessons"], module["example"]]
            for item in pages:
                with explained(page, f"module {module['slug']}: {item['title']}"):
                    expect(page.get_by_role("heading", level=1)).to_have_text(item["title"])
                    page.get_by_role(
                        "button", name=re.compile(r"^Mark as done and continue")
                    ).click()
            with explained(page, f"module {module['slug']}: knowledge check"):
                expect(page).to_have_url(
                    f"{base}/courses/{course['slug']}/m/{module['slug']}/check"
                )
                take_check(page, module, first=m_index == 0, results_dir=results_dir)
                page.get_by_role("link", name=re.compile(r"^Continue: ")).click()

        exercise = course["exercise"]
        with explained(page, "final exercise"):
            expect(page).to_have_url(f"{base}/courses/{course['slug']}/exercise")
            expect(page.get_by_role("heading", level=1)).to_have_text(exercise["title"])
            for field in exercise["fields"]:
                label = (
                    f"{field['label']} ({field['unit']})" if field.get("unit") else field["label"]
                )
                page.get_by_label(label, exact=True).fill(number(field["answer"]))
            page.get_by_role("button", name="Check my answers").click()
            expect(page.locator(".flash-success")).to_have_text("Exercise passed.")
            expect(page.locator("section.result-card").get_by_role("heading")).to_have_text(
                "Passed: 100%"
            )
            page.get_by_role("link", name="Back to the course").click()

        with explained(page, "the completed course page"):
            expect(page.get_by_role("heading", level=1)).to_have_text(course["title"])
            status = page.get_by_role("region", name="Your progress")
            expect(status.get_by_role("heading", level=2)).to_have_text("You completed this course")
            expect(status).to_contain_text("with a score of 100%")
            expect(page.locator(".badge.ok")).to_have_count(
                sum(len(m["lessons"]) + 2 for m in course["modules"]) + 1
            )
            page.screenshot(path=results_dir / "course-completed.png", full_page=True)
            verify_link = status.get_by_role("link", name="Its public verification page")
            href = verify_link.get_attribute("href")
            assert href and href.startswith("/certificates/"), href
            code = href.rsplit("/", 1)[-1]

            with page.expect_download() as downloading:
                status.get_by_role("link", name="Download your certificate (PDF)").click()
            download = downloading.value
            assert download.suggested_filename == f"certificate-{course['slug']}.pdf"
            pdf = Path(download.path()).read_bytes()

        assert pdf.startswith(b"%PDF"), pdf[:20]
        from pypdf import PdfReader

        text = "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)
        assert LEARNER.name in text, text
        assert course["title"] in text, text
        # The link is printed in a narrow column and may wrap; read it without line breaks.
        found = CERTIFICATE_URL.search(re.sub(r"\s+", "", text))
        assert found, f"no /certificates/<code> link in the certificate:\n{text}"
        url = found.group(0)
        assert url == f"{base}/certificates/{code}", (url, code)
    finally:
        context.close()

    # A stranger: a fresh browser context, no cookies, no launch.
    stranger = browser.new_context(viewport=VIEWPORT)
    stranger.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        assert stranger.cookies() == []
        visitor = stranger.new_page()
        response = visitor.goto(url)
        assert response is not None and response.status == 200
        expect(visitor.get_by_role("heading", level=1)).to_have_text("This certificate is genuine")
        details = visitor.locator("section.verified")
        expect(details.locator("dt", has_text="Name").locator("+ dd")).to_have_text(LEARNER.name)
        expect(details.locator("dt", has_text="Course").locator("+ dd")).to_contain_text(
            f"{course['title']} (version {course['version']})"
        )
        # No navigation for a visitor who is not signed in.
        expect(visitor.get_by_role("navigation", name="Main")).to_have_count(0)
    finally:
        stranger.close()
