"""The screenshots in ``docs/screenshots/``: the trainer's grading page and the learner's course
page, each at 1280 and at 320 CSS px, inside the development platform's course-page frame, as
Moodle or Canvas embed the tool (issue 24).

    .venv/bin/python scripts/screenshots.py                 # starts scripts/run-demo itself
    .venv/bin/python scripts/screenshots.py --base http://127.0.0.1:5000   # a running demo

"At 1280 px" and "at 320 px" are the width of the browser window showing the LMS's course
page (a laptop, a small phone); the tool's frame inside it is narrower (the LMS's margins),
and each picture is cropped to the course page's frame card. The steps are the browser
tests' (``tests/e2e/steps.py``), on a fresh demo: Tara Trainer adds the "Charged twice"
scenario with the tool's picker, Lena Learner answers it and works through the first
lessons of the Net Promoter Score course, Tara opens Lena's conversation for grading. The
pictures are reduced to 256 colours (they are text and flat colours) to stay small.

Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright (never ``playwright
install``).
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT), *(p for p in sys.path if p != str(ROOT))]

from PIL import Image  # noqa: E402
from playwright.sync_api import Browser, Frame, Page, expect, sync_playwright  # noqa: E402

from tests.e2e.conftest import (  # noqa: E402
    ACTION_TIMEOUT_MS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DEMO_START_TIMEOUT,
    clean_env,
    free_port,
    wait_until_up,
)
from tests.e2e.steps import (  # noqa: E402
    demo_course,
    h1,
    join_from_dashboard,
    launch_in_course_page,
    new_context,
    open_course,
    open_course_page,
    open_grading,
    place_scenario,
    take_scenario,
)
from tests.processes import start  # noqa: E402

WIDE, NARROW = 1280, 320
PHONE_HEIGHT = 640  # a small phone's window, in CSS px
PHONE_SCALE = 2  # device pixels per CSS px on the phone (a laptop's picture is at 1)
GAP = 24  # CSS px between the phone's screens in one picture
LESSONS_DONE = 3  # if Lena has not started the course: part-way through it


@contextmanager
def demo(base: str | None) -> Iterator[str]:
    """The demo to photograph: ``base`` if given, else a fresh ``scripts/run-demo``."""
    if base:
        yield base.rstrip("/")
        return
    with tempfile.TemporaryDirectory(prefix="screenshots-") as instance:
        port = free_port()
        env = clean_env(HOST="127.0.0.1", PORT=str(port), INSTANCE_PATH=instance)
        server = start(
            "scripts/run-demo",
            [str(ROOT / "scripts" / "run-demo")],
            env,
            Path(instance) / "server.log",
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(server, url + "/healthz", DEMO_START_TIMEOUT)
            yield url
        finally:
            server.stop(timeout=10)


def frame_settled(page: Page, tool: Frame) -> None:
    """Wait until the LMS has fitted its frame to the tool's page (lti.frameResize)."""
    deadline = time.monotonic() + 10
    last = None
    while time.monotonic() < deadline:
        page.wait_for_timeout(250)
        height = tool.evaluate("Math.ceil(document.body.getBoundingClientRect().height)")
        frame = page.evaluate("document.querySelector('iframe[name=tool-frame]').clientHeight")
        if abs(frame - height) <= 2 and (height, frame) == last:
            return
        last = (height, frame)
    raise RuntimeError(f"the frame did not fit the tool's page ({last})")


def save(png: bytes | Image.Image, path: Path, note: str) -> Path:
    """As a 256-colour PNG (screenshots of text and flat colours lose nothing you can see)."""
    image = png if isinstance(png, Image.Image) else Image.open(io.BytesIO(png))
    image = image.convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    size = path.stat().st_size // 1024
    print(f"{path}: {note}, {image.width}x{image.height} px, {size} KB")
    return path


def in_frame(page: Page, prepare) -> Frame:  # type: ignore[no-untyped-def]
    """The LMS's course page, the tool in its frame at the page ``prepare`` opens, checked:
    the frame fits the page and nothing scrolls sideways in it."""
    width = page.viewport_size["width"] if page.viewport_size else WIDE
    page.set_viewport_size({"width": WIDE, "height": 900})  # the menu's links in view
    tool = prepare(page)
    page.set_viewport_size({"width": width, "height": page.viewport_size["height"]})  # type: ignore[index]
    # Neither the mouse pointer's hover nor a text caret in the picture.
    page.mouse.move(0, 0)
    tool.evaluate("document.activeElement && document.activeElement.blur()")
    frame_settled(page, tool)
    inner = tool.evaluate("document.documentElement.clientWidth")
    scroll = tool.evaluate("document.documentElement.scrollWidth")
    if scroll > inner:
        raise RuntimeError(
            f"{tool.url}: the tool scrolls sideways in its {inner}px frame ({scroll}px)"
        )
    return tool


def shoot_wide(browser: Browser, base: str, prepare, path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A laptop's window: the whole of the tool's page in the course page's frame card."""
    context = browser.new_context(viewport={"width": WIDE, "height": 900})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        page = open_course_page(context, base)
        tool = in_frame(page, prepare)
        frame_width = tool.evaluate("document.documentElement.clientWidth")
        card = page.locator("section.card").filter(has=page.locator("iframe.tool-frame"))
        png = card.screenshot(animations="disabled")
        return save(png, path, f"window {WIDE} px, tool frame {frame_width} px")
    finally:
        context.close()


def shoot_phone(browser: Browser, base: str, prepare, moments: list[str], path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A phone's window, as its user scrolls: one screen per moment (a selector in the tool's
    page brought to the top of the window, or with a leading ``^`` to its bottom; the first
    screen is the frame's top), side by side in one picture. A whole page at 320 px is
    several thousand pixels tall."""
    context = browser.new_context(
        viewport={"width": NARROW, "height": PHONE_HEIGHT}, device_scale_factor=PHONE_SCALE
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        page = open_course_page(context, base)
        tool = in_frame(page, prepare)
        frame_width = tool.evaluate("document.documentElement.clientWidth")
        frame_top = page.evaluate(
            "document.querySelector('iframe[name=tool-frame]').getBoundingClientRect().top"
            " + window.scrollY"
        )
        screens = []
        for moment in [None, *moments]:
            if moment is None:
                y = page.evaluate(
                    "document.querySelector('iframe[name=tool-frame]').closest('section')"
                    ".getBoundingClientRect().top + window.scrollY"
                )
            else:
                # "selector" to the top of the window, or "^selector" to its bottom.
                selector, at_bottom = moment.removeprefix("^"), moment.startswith("^")
                element = tool.locator(selector).first
                expect(element).to_be_visible()
                box = element.evaluate("e => e.getBoundingClientRect().toJSON()")
                y = frame_top + (
                    box["bottom"] - PHONE_HEIGHT + 24 if at_bottom else box["top"] - 12
                )
            page.evaluate("(y) => window.scrollTo(0, y)", y)
            page.wait_for_timeout(100)
            screens.append(Image.open(io.BytesIO(page.screenshot(animations="disabled"))))
        gap = GAP * PHONE_SCALE
        width = sum(s.width for s in screens) + gap * (len(screens) + 1)
        height = max(s.height for s in screens) + 2 * gap
        sheet = Image.new("RGB", (width, height), (214, 220, 228))
        x = gap
        for screen in screens:
            sheet.paste(screen, (x, gap))
            x += screen.width + gap
        screens_note = f"{len(screens)} screens"
        note = f"window {NARROW}x{PHONE_HEIGHT} px, tool frame {frame_width} px, {screens_note}"
        return save(sheet, path, note)
    finally:
        context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="a running demo (scripts/run-demo); else one is started")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    course = demo_course()
    with demo(args.base) as base, sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # The story first, once: a scenario placed and answered, a course under way.
            context = new_context(browser)
            page = open_course_page(context, base)
            place_scenario(page, base)
            take_scenario(page)
            lena = launch_in_course_page(page, "learner", base)
            join_from_dashboard(lena)
            status = open_course(lena, course)
            start_button = status.get_by_role("button", name="Start this course")
            if start_button.is_visible():
                start_button.click()
                for _ in range(LESSONS_DONE):
                    lena.get_by_role(
                        "button", name=re.compile(r"^Mark as done and continue")
                    ).click()
            context.close()

            def learner_course(page: Page) -> Frame:
                tool = launch_in_course_page(page, "learner", base)
                open_course(tool, course)
                expect(tool.get_by_role("region", name="Your progress")).to_be_visible()
                return tool

            def trainer_grading(page: Page) -> Frame:
                tool = launch_in_course_page(page, "trainer", base)
                open_grading(tool)
                expect(h1(tool)).to_be_visible()
                return tool

            out = args.out
            shoot_wide(browser, base, learner_course, out / "learner-course-1280.png")
            shoot_phone(
                browser,
                base,
                learner_course,
                ["section.course-status", "ol.module-list > li >> nth=2"],
                out / "learner-course-320.png",
            )
            shoot_wide(browser, base, trainer_grading, out / "trainer-grading-1280.png")
            shoot_phone(
                browser,
                base,
                trainer_grading,
                ["fieldset.criterion", "^form.grade-form button[type=submit]"],
                out / "trainer-grading-320.png",
            )
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
