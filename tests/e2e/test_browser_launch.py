"""A real Chromium walks the LTI 1.3 launch the way a person does, through the development
platform's course page: the tool in an iframe, and in a new window.

Screenshots of what each person sees go to ``test-results/e2e/``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Frame,
    FrameLocator,
    Page,
    Request,
    expect,
)

from tests.e2e.conftest import ACTION_TIMEOUT_MS, VIEWPORT, CrossSiteService, DemoService

pytestmark = pytest.mark.e2e

expect.set_options(timeout=ACTION_TIMEOUT_MS)


@dataclass(frozen=True)
class Persona:
    key: str
    given_name: str
    role_label: str


PERSONAS = (
    Persona("learner", "Lena", "Learner"),
    Persona("manager", "Marco", "Manager"),
    Persona("trainer", "Tara", "Trainer"),
    Persona("administrator", "Ada", "Administrator"),
)
SESSION_COOKIE = "academy_session"
TOOL_FRAME = "iframe[name=tool-frame]"


@contextmanager
def explained(page: Page, what: str) -> Iterator[list[str]]:
    """On a failed assertion, say what the browser's console reported (CSP refusals, failed
    requests) and where the tool frame ended up: that is usually the cause."""
    console: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        console.append(f"{message.type}: {message.text}")

    def on_failed(request: Request) -> None:
        console.append(f"request failed: {request.url} {request.failure}")

    page.on("console", on_console)
    page.on("requestfailed", on_failed)
    try:
        yield console
    except AssertionError as error:
        frame = page.frame(name="tool-frame")
        where = frame.url if frame else "(no tool frame)"
        details = "\n  ".join(console) or "(nothing)"
        raise AssertionError(
            f"{what}: {error}\nTool frame at: {where}\nBrowser console:\n  {details}"
        ) from error
    finally:
        page.remove_listener("console", on_console)
        page.remove_listener("requestfailed", on_failed)


def launch_in_course_page(page: Page, persona: Persona) -> FrameLocator:
    page.get_by_role("button", name=f"Launch as {persona.key} in the course page").click()
    return page.frame_locator(TOOL_FRAME)


def expect_dashboard(view: Page | FrameLocator, persona: Persona) -> None:
    """What the person sees: their own name, and their role in the course."""
    expect(view.get_by_role("heading", level=1)).to_have_text(f"Welcome, {persona.given_name}")
    expect(view.locator(".role-chip")).to_have_text(persona.role_label)
    expect(view.get_by_role("link", name="My dashboard")).to_be_visible()


def tool_frame(page: Page) -> Frame:
    frame = page.frame(name="tool-frame")
    assert frame is not None, "the course page has no tool frame"
    return frame


def open_dev_platform(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Customer Experience Quality (demo course)"
    )
    expect(page.locator(TOOL_FRAME)).to_be_visible()


def test_demo_launch_each_role(browser, demo_server: DemoService, results_dir: Path) -> None:
    """``scripts/run-demo`` as a newcomer runs it: home page -> development platform -> each
    persona in the course page's iframe and in a new window."""
    base = demo_server.base_url
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(base + "/")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Better customer conversations, measured"
        )
        page.get_by_role("link", name="Try a launch from the development platform").click()
        expect(page).to_have_url(base + "/dev-platform/")
        open_dev_platform(page, page.url)

        for persona in PERSONAS:
            with explained(page, f"{persona.key} in the course page"):
                frame = launch_in_course_page(page, persona)
                expect_dashboard(frame, persona)
                assert tool_frame(page).url == base + "/dashboard"
            page.screenshot(
                path=results_dir / f"demo-{persona.key}-course-page.png", full_page=True
            )

            with explained(page, f"{persona.key} in a new window"):
                with context.expect_page() as opened:
                    page.get_by_role(
                        "button", name=f"Launch as {persona.key} in a new window"
                    ).click()
                popup = opened.value
                expect_dashboard(popup, persona)
                expect(popup).to_have_url(base + "/dashboard")
            popup.screenshot(path=results_dir / f"demo-{persona.key}-new-window.png")
            popup.close()
    finally:
        context.close()


def test_cross_site_https_iframe_launch(
    chromium_profile, https_server: CrossSiteService, results_dir: Path
) -> None:
    """LMS on https://localhost, tool on https://127.0.0.1: the tool runs in a third-party
    iframe and its cookies must be ``SameSite=None; Secure`` to survive the launch."""
    context: BrowserContext = chromium_profile(third_party_cookies=True)
    page = context.pages[0] if context.pages else context.new_page()
    open_dev_platform(page, https_server.platform_base + "/dev-platform/")

    for persona in PERSONAS:
        with explained(page, f"{persona.key} in the cross-site course page"):
            frame = launch_in_course_page(page, persona)
            expect_dashboard(frame, persona)
            assert tool_frame(page).url == https_server.tool_base + "/dashboard"
        page.screenshot(path=results_dir / f"https-{persona.key}-course-page.png", full_page=True)

    # The browser let the framed tool keep its cookies (else the test proves nothing).
    assert tool_frame(page).evaluate("document.hasStorageAccess()") is True

    tool_cookies = {c["name"]: c for c in context.cookies(https_server.tool_base)}
    assert SESSION_COOKIE in tool_cookies, f"no session cookie on the tool: {tool_cookies}"
    session = tool_cookies[SESSION_COOKIE]
    assert session["sameSite"] == "None"
    assert session["secure"] is True
    assert session["httpOnly"] is True
    assert session["domain"] == "127.0.0.1"
    # So must every other cookie of the launch (pylti1p3's state cookie).
    for cookie in tool_cookies.values():
        assert (cookie["sameSite"], cookie["secure"]) == ("None", True), cookie
    platform_cookies = [c["name"] for c in context.cookies(https_server.platform_base)]
    assert SESSION_COOKIE not in platform_cookies, "the LMS site must not get the tool's session"


def test_blocked_third_party_cookies_offers_new_window(
    chromium_profile, https_server: CrossSiteService, results_dir: Path
) -> None:
    """With third-party cookies blocked the iframe launch cannot work; the tool must say so and
    offer a new window, where the launch completes, instead of looping silently."""
    context: BrowserContext = chromium_profile(third_party_cookies=False)
    page = context.pages[0] if context.pages else context.new_page()
    logins: list[str] = []
    context.on(
        "request",
        lambda r: logins.append(r.url) if "/lms/login" in r.url else None,
    )
    open_dev_platform(page, https_server.platform_base + "/dev-platform/")
    persona = PERSONAS[0]

    with explained(page, "blocked third-party cookies in the course page"):
        frame = launch_in_course_page(page, persona)
        expect(frame.get_by_role("heading", level=1)).to_have_text(
            "Open the activity in a new window"
        )
        new_window = frame.get_by_role("link", name="Open in a new window")
        expect(new_window).to_be_visible()
        expect(frame.get_by_role("heading", name="Opening the activity…")).to_be_hidden()

    # The browser really blocks the framed tool's cookies; the page did not just guess.
    framed = tool_frame(page)
    assert framed.evaluate("document.hasStorageAccess()") is False
    assert framed.url.startswith(https_server.tool_base + "/lms/login?")
    # It stays put: one login request, no reload loop.
    time.sleep(1)
    assert len(logins) == 1, f"the tool frame kept reloading the login: {logins}"
    assert framed.url.startswith(https_server.tool_base + "/lms/login?")

    with explained(page, "the new window offered after blocked cookies"):
        with context.expect_page() as opened:
            new_window.click()
        popup = opened.value
        expect_dashboard(popup, persona)
        expect(popup).to_have_url(https_server.tool_base + "/dashboard")
    popup.screenshot(path=results_dir / "blocked-cookies-new-window.png")
    # The course page is still there, as the message promised. (Screenshot it only now: a
    # full-page screenshot resizes the viewport, after which Chromium intermittently drops the
    # next click into the cross-site iframe.)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Customer Experience Quality (demo course)"
    )
    expect(frame.get_by_role("heading", level=1)).to_have_text("Open the activity in a new window")
    page.screenshot(path=results_dir / "blocked-cookies-course-page.png", full_page=True)
