"""In the demo, a trainer adds activities through the tool's picker (deep linking) in the
course page's iframe, and the placed activity opens its page."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DemoService

pytestmark = pytest.mark.e2e


def test_trainer_places_an_activity_and_launches_it(
    browser, demo_server: DemoService, results_dir: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto(demo_server.base_url + "/dev-platform/")
        page.get_by_role("button", name="Add an activity as Tara Trainer").click()
        frame = page.frame_locator("iframe[name=tool-frame]")
        expect(frame.get_by_role("heading", level=1)).to_have_text(
            "Add CX Quality Academy activities"
        )
        frame.get_by_label("Search").fill("gradebook")
        frame.get_by_role("button", name="Search").click()
        expect(frame.get_by_text("1 activity matching “gradebook”")).to_be_visible()
        frame.get_by_label("Grade deliveries").check()
        page.screenshot(path=results_dir / "deep-linking-picker.png", full_page=True)
        frame.get_by_role("button", name="Add to course").click()

        # The platform verified the signed answer and shows the new activity in the course.
        row = page.get_by_role("row").filter(has_text="grade-deliveries").last
        expect(row).to_be_visible()
        row.get_by_role("button", name="As trainer").click()
        expect(frame.get_by_role("heading", level=1)).to_have_text(
            "Grade deliveries to the LMS gradebook"
        )
        page.screenshot(path=results_dir / "deep-linking-launched.png", full_page=True)
    finally:
        context.close()
