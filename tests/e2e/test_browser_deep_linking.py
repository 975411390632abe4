"""In the demo, a trainer adds activities through the tool's picker (deep linking) in the
course page's iframe, and the placed activity opens its page; also with the LMS on another
site over HTTPS, in a browser that blocks third-party cookies and in one that allows them."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import CrossSiteService, DemoService
from tests.e2e.steps import frame_settled

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
        frame_settled(page.frame(name="tool-frame"))  # the LMS fits the frame to the results
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


@pytest.mark.parametrize(
    "third_party_cookies", [False, True], ids=["third-party-cookies-blocked", "allowed"]
)
def test_cross_site_deep_linking_completes_inside_the_frame(
    chromium_profile, https_server: CrossSiteService, results_dir: Path, third_party_cookies: bool
) -> None:
    """The picker's session (the stored request, the CSRF token) lives in partitioned
    cookies, so the choice returns to the LMS from inside its frame, as Moodle's "Select
    content" dialog needs; no new window opens."""
    context: BrowserContext = chromium_profile(third_party_cookies=third_party_cookies)
    page = context.pages[0] if context.pages else context.new_page()
    windows: list[Page] = []
    context.on("page", lambda window: windows.append(window))
    page.goto(https_server.platform_base + "/dev-platform/")
    page.get_by_role("button", name="Add an activity as Tara Trainer").click()
    frame = page.frame_locator("iframe[name=tool-frame]")
    expect(frame.get_by_role("heading", level=1)).to_have_text("Add CX Quality Academy activities")
    frame.get_by_label("Search").fill("gradebook")
    frame.get_by_role("button", name="Search").click()  # a GET in the frame, same session
    expect(frame.get_by_text("1 activity matching “gradebook”")).to_be_visible()
    frame_settled(page.frame(name="tool-frame"))  # the LMS fits the frame to the results
    frame.get_by_label("Grade deliveries").check()
    placed_before = page.get_by_role("row").filter(has_text="grade-deliveries").count()
    frame.get_by_role("button", name="Add to course").click()  # the POST, CSRF-checked

    # The platform verified the signed answer and shows the new activity in the course.
    rows = page.get_by_role("row").filter(has_text="grade-deliveries")
    expect(rows).to_have_count(placed_before + 1)
    rows.last.get_by_role("button", name="As trainer").click()
    expect(frame.get_by_role("heading", level=1)).to_have_text(
        "Grade deliveries to the LMS gradebook"
    )
    assert windows == [], "a new window opened although partitioned cookies were available"
    tool = page.frame(name="tool-frame")
    assert tool is not None
    assert tool.evaluate("document.hasStorageAccess()") is third_party_cookies
    page.screenshot(path=results_dir / f"deep-linking-cross-site-{third_party_cookies=}.png")


def test_deep_linking_finished_in_a_new_window_is_answered_from_the_frame(
    chromium_profile, https_server: CrossSiteService, results_dir: Path
) -> None:
    """Where the browser keeps no cookie of the tool in the frame and refuses storage access,
    the trainer picks in a new window (the last resort). The choice is not posted to the LMS
    from that window (Moodle's "Select content" dialog would fail: its return page calls its
    parent frame) but handed to the tool's page still in the course page's frame, which posts
    it from there; the new window says so."""
    context: BrowserContext = chromium_profile(
        third_party_cookies=False,
        no_cookies_in=(https_server.tool_base, https_server.platform_base),
    )
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(https_server.platform_base + "/dev-platform/")
    rows = page.get_by_role("row").filter(has_text="grade-deliveries")
    placed_before = rows.count()
    page.get_by_role("button", name="Add an activity as Tara Trainer").click()
    frame = page.frame_locator("iframe[name=tool-frame]")
    expect(frame.get_by_role("heading", level=1)).to_have_text(
        "Allow this activity inside your course page"
    )
    frame.get_by_role("button", name="Continue").click()  # storage access: refused here
    with context.expect_page() as opened:
        frame.get_by_role("button", name="Open in a new window").click()
    window = opened.value
    expect(window.get_by_role("heading", level=1)).to_have_text("Add CX Quality Academy activities")
    window.get_by_label("Search").fill("gradebook")
    window.get_by_role("button", name="Search").click()
    window.get_by_label("Grade deliveries").check()
    window.get_by_role("button", name="Add to course").click()  # the POST, CSRF-checked

    expect(window.get_by_role("heading", level=1)).to_have_text(
        "Your choice is back in your course"
    )
    # The platform got the signed answer from its own frame and lists the new activity.
    expect(rows).to_have_count(placed_before + 1)
    expect(page).to_have_url(https_server.platform_base + "/dev-platform/")
    window.screenshot(path=results_dir / "deep-linking-new-window-handed-back.png")
