"""Steps the browser tests share: explaining a failure, a browser context, the top
navigation, and the accessibility basics every form page must pass."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    FrameLocator,
    Locator,
    Page,
    Request,
)

from tests.e2e.conftest import ACTION_TIMEOUT_MS, VIEWPORT


@contextmanager
def explained(page: Page, what: str) -> Iterator[None]:
    """On a failure, say where the window was and what its console reported."""
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
        raise AssertionError(
            f"{what}: {error}\nWindow at: {page.url}\nBrowser console:\n  {details}"
        ) from error
    finally:
        page.remove_listener("console", on_console)
        page.remove_listener("requestfailed", on_failed)


def new_context(browser: Browser) -> BrowserContext:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    return context


def top_nav(view: Page | FrameLocator, name: str) -> Locator:
    return view.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def assert_controls_labelled(page: Page, scope: str = "main form") -> None:
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
