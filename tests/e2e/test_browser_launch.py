"""A real Chromium walks the LTI 1.3 launch the way a person does, through the development
platform's course page: the tool in an iframe, and in a new window.

Screenshots of what each person sees go to ``test-results/e2e/``.
"""

from __future__ import annotations

import ssl
import time
import urllib.request
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
    Route,
    expect,
)

from lms.devplatform.cookies import COOKIE_PATHS
from tests.e2e.conftest import ACTION_TIMEOUT_MS, VIEWPORT, CrossSiteService, DemoService
from tests.e2e.steps import join_from_dashboard, leave_programme

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
# Over HTTPS the session cookie is partitioned and named afresh (core.security).
SESSION_COOKIE = "__Host-academy_session"
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


def open_dev_platform(page: Page, url: str, cookie_path: str | None = None) -> None:
    """The course page; with ``cookie_path``, it must say that this browser takes that path
    with the tool's cookies in its frame (``lms.devplatform.cookies.COOKIE_PATHS``)."""
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Customer Experience Quality (demo course)"
    )
    expect(page.locator(TOOL_FRAME)).to_be_visible()
    if cookie_path is not None:
        status = page.get_by_role("status", name="Third-party cookies")
        expect(status).to_have_text(COOKIE_PATHS[cookie_path])


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
        # The demo serves the platform and the tool on one site: no third-party rule applies.
        open_dev_platform(page, page.url, "same-site")

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


@pytest.mark.parametrize(
    "third_party_cookies", [False, True], ids=["third-party-cookies-blocked", "allowed"]
)
def test_framed_launch_and_its_forms_work_with_partitioned_cookies(
    chromium_profile, https_server: CrossSiteService, results_dir: Path, third_party_cookies: bool
) -> None:
    """CHIPS: the state, session and CSRF cookies are ``Partitioned``, so the launch and the
    forms after it work inside the LMS's cross-site frame whether the browser blocks
    third-party cookies (Debian Chromium's default) or not, and no new window opens. A visit
    to the tool in a window of its own has a session of its own."""
    context: BrowserContext = chromium_profile(third_party_cookies=third_party_cookies)
    page = context.pages[0] if context.pages else context.new_page()
    windows: list[Page] = []
    context.on("page", lambda window: windows.append(window))
    path = "allowed" if third_party_cookies else "partitioned"
    open_dev_platform(page, https_server.platform_base + "/dev-platform/", path)
    persona = PERSONAS[0]

    with explained(page, "a framed launch, then form posts (CSRF) in the frame"):
        frame = launch_in_course_page(page, persona)
        expect_dashboard(frame, persona)
        framed = tool_frame(page)
        assert framed.url == https_server.tool_base + "/dashboard"
        if join_from_dashboard(framed):
            leave_programme(framed)  # two more posts; and the learner as other tests expect
    assert windows == [], "a new window opened although partitioned cookies were available"
    # The browser ran it in the mode asked for: blocked, the frame has no unpartitioned
    # cookies (storage access) at all.
    assert framed.evaluate("document.hasStorageAccess()") is third_party_cookies
    page.screenshot(path=results_dir / f"chips-{third_party_cookies=}.png", full_page=True)

    framed_cookies = {c["name"]: c for c in context.cookies(https_server.tool_base)}
    session = framed_cookies[SESSION_COOKIE]
    assert (session["sameSite"], session["secure"], session["httpOnly"]) == ("None", True, True)
    assert session.get("partitionKey") == "https://localhost", session
    assert "academy_session" not in framed_cookies, "an unpartitioned session cookie was set"

    # A top-level visit: the tool's own partition, where the framed session is not.
    with explained(page, "the tool in a window of its own"):
        alone = context.new_page()
        alone.goto(https_server.tool_base + "/dashboard")
        expect(alone.get_by_role("heading", level=1)).to_have_text(
            "Please open this from your learning platform"
        )
        alone.close()
        with context.expect_page() as opened:
            page.get_by_role("button", name=f"Launch as {persona.key} in a new window").click()
        popup = opened.value
        expect_dashboard(popup, persona)
        expect(popup).to_have_url(https_server.tool_base + "/dashboard")
        popup.close()
    # The frame kept its own session beside the window's.
    with explained(page, "the framed session after the new window's"):
        frame.get_by_role("link", name="My dashboard").click()
        expect_dashboard(frame, persona)
    partitions = sorted(
        c.get("partitionKey") or ""
        for c in context.cookies(https_server.tool_base)
        if c["name"] == SESSION_COOKIE
    )
    assert partitions == ["https://127.0.0.1", "https://localhost"], partitions


def no_cookie_in_the_frame_opens_a_new_window(context: BrowserContext, frame: FrameLocator) -> Page:
    """Where the browser keeps no cookie of the tool in the frame: the launch, confirmed by
    the platform's storage, asks for the browser's permission (Storage Access API, after a
    click on Continue); refused, it offers a new window, which finishes the same launch."""
    expect(frame.get_by_role("heading", level=1)).to_have_text(
        "Allow this activity inside your course page"
    )
    frame.get_by_role("button", name="Continue").click()
    expect(frame.get_by_role("heading", level=1)).to_have_text("Open the activity in a new window")
    with context.expect_page() as opened:
        frame.get_by_role("button", name="Open in a new window").click()
    expect(frame.get_by_role("heading", level=1)).to_have_text(
        "The activity is open in a new window"
    )
    return opened.value


def test_no_cookies_in_the_frame_asks_for_storage_access_then_offers_a_new_window(
    chromium_profile, https_server: CrossSiteService, results_dir: Path
) -> None:
    """Where the browser keeps no cookie of the tool in the LMS's frame, partitioned or not
    (Safari; a site rule here), the login still goes on, its state and nonce kept in the
    course page (platform storage); the launch page then asks the browser for its cookies
    after a click and, refused (as this rule refuses), opens the same launch in a new window,
    where it completes without a second login, instead of looping silently."""
    context: BrowserContext = chromium_profile(
        third_party_cookies=False,
        no_cookies_in=(https_server.tool_base, https_server.platform_base),
    )
    page = context.pages[0] if context.pages else context.new_page()
    logins: list[str] = []
    context.on(
        "request",
        lambda r: logins.append(r.url) if "/lms/login" in r.url else None,
    )
    open_dev_platform(page, https_server.platform_base + "/dev-platform/", "no-cookie")
    persona = PERSONAS[0]

    with explained(page, "no cookie of the tool in the course page's frame"):
        frame = launch_in_course_page(page, persona)
        popup = no_cookie_in_the_frame_opens_a_new_window(context, frame)
        expect_dashboard(popup, persona)
        expect(popup).to_have_url(https_server.tool_base + "/dashboard")

    # The browser really blocks the framed tool's cookies; the page did not just guess.
    framed = tool_frame(page)
    assert framed.evaluate("document.hasStorageAccess()") is False
    assert framed.url == https_server.tool_base + "/lms/launch"
    # One login (the new window did not need its own), and no reload loop.
    time.sleep(1)
    assert len(logins) == 1, f"the tool frame kept reloading the login: {logins}"
    popup.screenshot(path=results_dir / "blocked-cookies-new-window.png")
    # The course page is still there, as the message promised. (Screenshot it only now: a
    # full-page screenshot resizes the viewport, after which Chromium intermittently drops the
    # next click into the cross-site iframe.)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Customer Experience Quality (demo course)"
    )
    page.screenshot(path=results_dir / "blocked-cookies-course-page.png", full_page=True)


def test_the_demo_course_page_on_another_site_name_puts_the_tool_in_a_cross_site_frame(
    browser, demo_server: DemoService, results_dir: Path
) -> None:
    """The development platform's switch for a newcomer: the same course page under the other
    loopback name is another site than the tool's, so the frame is cross-site. Over the
    demo's plain HTTP there are no partitioned cookies, and the page says what follows: the
    tool's cookie check offers a new window, where the launch completes. (The platform's
    storage is not used: the course page under this name is not the origin the platform is
    registered with, so the tool's login does not talk to it.)"""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    try:
        open_dev_platform(page, demo_server.base_url + "/dev-platform/", "same-site")
        other = demo_server.base_url.replace("127.0.0.1", "localhost") + "/dev-platform/"
        link = page.get_by_role("link", name="Open this course page on another site name")
        expect(link).to_have_attribute("href", other)
        link.click()
        expect(page).to_have_url(other)
        open_dev_platform(page, other, "no-cookie")
        persona = PERSONAS[0]
        with explained(page, "a launch in the cross-site frame over plain HTTP"):
            frame = launch_in_course_page(page, persona)
            expect(frame.get_by_role("heading", level=1)).to_have_text(
                "Open the activity in a new window"
            )
            assert tool_frame(page).url.startswith(demo_server.base_url + "/lms/login?")
            with context.expect_page() as opened:
                frame.get_by_role("link", name="Open in a new window").click()
            popup = opened.value
            expect_dashboard(popup, persona)
        page.screenshot(path=results_dir / "dev-platform-other-site-name.png", full_page=True)
        # And back: on the tool's own site the frame is same-site again.
        page.get_by_role("link", name="Open this course page on the tool's own site").click()
        open_dev_platform(page, demo_server.base_url + "/dev-platform/", "same-site")
    finally:
        context.close()


ASK_PLATFORM = """async ([platform, messages]) => {
    const answers = [];
    for (const [index, message] of messages.entries()) {
        const id = `probe-${index}`;
        answers.push(await new Promise((ok) => {
            const listen = (event) => {
                if (!event.data || event.data.message_id !== id) return;
                window.removeEventListener("message", listen);
                ok({origin: event.origin, data: event.data});
            };
            window.addEventListener("message", listen);
            // A platform that does not answer (one without platform storage) fails the
            // test instead of hanging it.
            setTimeout(() => ok({origin: null, data: null}), 5000);
            window.parent.postMessage({...message, message_id: id}, platform);
        }));
    }
    return answers;
}"""


def test_the_development_platform_offers_lti_platform_storage(
    chromium_profile, https_server: CrossSiteService
) -> None:
    """1EdTech's client-side postMessage storage, as Canvas and Brightspace offer it: the login
    initiation names the storage frame (``lti_storage_target``), and the course page answers
    ``lti.capabilities``, ``lti.put_data`` and ``lti.get_data`` from the tool's frame, with
    the tool's values kept apart by origin."""
    context: BrowserContext = chromium_profile(third_party_cookies=False)
    page = context.pages[0] if context.pages else context.new_page()
    logins: list[str] = []
    context.on("request", lambda r: logins.append(r.url) if "/lms/login" in r.url else None)
    open_dev_platform(page, https_server.platform_base + "/dev-platform/")
    frame = launch_in_course_page(page, PERSONAS[0])
    expect_dashboard(frame, PERSONAS[0])
    assert logins and "lti_storage_target=_parent" in logins[0], logins

    messages = [
        {"subject": "lti.capabilities"},
        {"subject": "lti.put_data", "key": "cx_state_abc", "value": "abc"},
        {"subject": "lti.get_data", "key": "cx_state_abc"},
        {"subject": "lti.get_data", "key": "never-put"},
        {"subject": "lti.put_data", "key": "", "value": "x"},
    ]
    answers = tool_frame(page).evaluate(ASK_PLATFORM, [https_server.platform_base, messages])
    assert {a["origin"] for a in answers} == {https_server.platform_base}
    capabilities, put, got, missing, refused = (a["data"] for a in answers)
    assert capabilities["subject"] == "lti.capabilities.response"
    assert {m["subject"] for m in capabilities["supported_messages"]} >= {
        "lti.put_data",
        "lti.get_data",
    }
    assert put == {
        "subject": "lti.put_data.response",
        "message_id": "probe-1",
        "key": "cx_state_abc",
        "value": "abc",
    }
    assert got == {
        "subject": "lti.get_data.response",
        "message_id": "probe-2",
        "key": "cx_state_abc",
        "value": "abc",
    }
    assert missing["value"] is None
    assert refused["error"]["code"] == "bad_request"


def test_a_framed_launch_whose_state_cookie_was_lost_is_confirmed_by_platform_storage(
    chromium_profile, https_server: CrossSiteService, results_dir: Path
) -> None:
    """The tool's side of LTI platform storage: the login page keeps its state and nonce in
    the course page (``lti.put_data``); the launch comes back without the state cookie (here
    it reaches the tool without its cookies), so the tool's launch page reads them back there
    (``lti.get_data``) and posts them, and the launch goes on inside the frame with
    third-party cookies blocked: the dashboard, then a form post (CSRF) in the frame."""
    context: BrowserContext = chromium_profile(third_party_cookies=False)
    page = context.pages[0] if context.pages else context.new_page()
    windows: list[Page] = []
    context.on("page", lambda window: windows.append(window))
    posts: list[Request] = []
    context.on("request", lambda r: posts.append(r) if r.method == "POST" else None)

    def lose_state_cookie(route: Route) -> None:
        # The launch reaches the tool without its cookies, as from a browser that did not
        # keep the state cookie (sent from here: Playwright's own fetch adds the browser's).
        asked = route.request
        headers = {k: v for k, v in asked.headers.items() if k.lower() != "cookie"}
        sent = urllib.request.Request(
            asked.url, data=asked.post_data_buffer, headers=headers, method="POST"
        )
        loopback = ssl.create_default_context()
        loopback.check_hostname, loopback.verify_mode = False, ssl.CERT_NONE  # self-signed
        with urllib.request.urlopen(sent, context=loopback, timeout=10) as answer:
            kept = [(k, v) for k, v in answer.headers.items() if k.lower() != "set-cookie"]
            assert len(kept) == len(answer.headers.items()), "the launch page set a cookie"
            route.fulfill(status=answer.status, headers=dict(kept), body=answer.read())

    # Routed once: the launch is the one request the platform's page posts to the tool.
    context.route(https_server.tool_base + "/lms/launch", lose_state_cookie, times=1)
    open_dev_platform(page, https_server.platform_base + "/dev-platform/", "partitioned")
    persona = PERSONAS[0]

    with explained(page, "a framed launch confirmed by the platform's storage"):
        frame = launch_in_course_page(page, persona)
        expect_dashboard(frame, persona)
        framed = tool_frame(page)
        assert framed.url == https_server.tool_base + "/dashboard"
        if join_from_dashboard(framed):
            leave_programme(framed)
    assert windows == [], "a new window opened although the platform kept the login"
    assert framed.evaluate("document.hasStorageAccess()") is False  # cookies really blocked

    # The launch page read the state's secret and the nonce from the course page and posted
    # them; the session that follows is the partitioned cookie.
    tool_posts = [p for p in posts if p.url.startswith(https_server.tool_base + "/lms/launch")]
    assert [p.url.removeprefix(https_server.tool_base) for p in tool_posts] == [
        "/lms/launch",
        "/lms/launch/stored",
    ]
    confirmed = tool_posts[1].post_data or ""
    assert "stored_secret=" in confirmed and "stored_secret=&" not in confirmed, confirmed
    cookies = {c["name"]: c for c in context.cookies(https_server.tool_base)}
    assert cookies[SESSION_COOKIE].get("partitionKey") == "https://localhost"
    page.screenshot(path=results_dir / "platform-storage-launch.png", full_page=True)


COLLECT_MESSAGES = """() => {
    window.toolMessages = [];
    window.addEventListener("message", (event) => window.toolMessages.push(event.data));
}"""


def test_the_frame_fits_the_tools_page(
    chromium_profile, https_server: CrossSiteService, results_dir: Path
) -> None:
    """Each page asks the LMS for a frame of its height (lti.frameResize, in the shapes
    Canvas, Moodle and Brightspace read); the development platform resizes its frame, so
    a long page does not scroll inside it, and a short one leaves no empty frame below."""
    context: BrowserContext = chromium_profile(third_party_cookies=False)
    page = context.pages[0] if context.pages else context.new_page()
    open_dev_platform(page, https_server.platform_base + "/dev-platform/")
    page.evaluate(COLLECT_MESSAGES)
    persona = PERSONAS[2]  # the trainer: a long dashboard, a short grade-delivery page
    element = page.locator(TOOL_FRAME)

    def fits() -> float:
        framed = tool_frame(page)
        content = framed.evaluate("document.body.getBoundingClientRect().height")
        # The frame grows or shrinks to the page: its document has nothing left to scroll.
        deadline = time.monotonic() + ACTION_TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            # Chromium tells a cross-site frame its new size only once it is drawn, and it
            # draws no frame out of view.
            element.scroll_into_view_if_needed()
            inner = framed.evaluate("document.documentElement.clientHeight")
            if abs(inner - content) <= 1:
                break
            time.sleep(0.1)
        assert abs(inner - content) <= 1, f"frame shows {inner}px of a {content}px page"
        assert framed.evaluate(
            "document.documentElement.scrollHeight <= document.documentElement.clientHeight"
        )
        return element.bounding_box()["height"]

    with explained(page, "the frame fits the page"):
        frame = launch_in_course_page(page, persona)
        expect_dashboard(frame, persona)
        long_height = fits()
        page.screenshot(path=results_dir / "frame-resize-long.png", full_page=True)
        tool_frame(page).goto(https_server.tool_base + "/lms/grades")
        expect(frame.get_by_role("heading", level=1)).to_have_text(
            "Grade deliveries to the LMS gradebook"
        )
        short_height = fits()
    assert short_height != long_height
    messages = page.evaluate("window.toolMessages")
    # (The login's lti.put_data messages to the course page are among them.)
    heights = {m["height"] for m in messages if isinstance(m, dict) and "height" in m}
    assert {"subject": "lti.frameResize", "height": max(heights)} in messages
    assert {"subject": "org.imsglobal.lti.frameResize", "height": max(heights)} in messages
    assert any(isinstance(m, str) and '"lti.frameResize"' in m for m in messages)
