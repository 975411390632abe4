"""A manager recognises a learner in a real Chromium against ``scripts/run-demo``, and the
learner sees it: the issue's "done when" for recognition.

Learner (Lena) and manager (Marco) each launch from the development platform in a new window,
in separate browser contexts (separate cookies, as two people on two computers):

1. Lena joins the programme (badges are only for people who joined).
2. Marco opens the wall, "Recognise someone", picks Lena and "Customer hero" in the labelled
   selects, writes a message and awards it; the wall shows it.
3. Lena opens "Badges": the badge, Marco's message and "From Marco Manager". She hides it
   from the team's wall; Marco reloads the wall and it is gone.
4. A stranger (a fresh context, no cookies) opens the badge's public verification page: valid,
   the badge named, Lena not.
5. Marco awards a second badge with the keyboard only: Tab to the skip link, Enter, Tab
   through the labelled controls, type-ahead in the selects, Enter on the button.

Screenshots of the award form, the wall and the learner's badges page go to
``test-results/e2e/``.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import DemoService
from tests.e2e.steps import (
    LEARNER,
    award_badge,
    award_items,
    explained,
    join_from_dashboard,
    launch_in_new_window,
    new_context,
    open_award_form,
    open_course_page,
    open_my_badges,
)

pytestmark = pytest.mark.e2e


def test_manager_awards_a_badge_and_the_learner_sees_it(
    browser: Browser, demo_server: DemoService, results_dir: Path
) -> None:
    base = demo_server.base_url
    message = f"You stayed with Mrs Osei until her refund was through ({secrets.token_hex(3)})."
    second_message = f"You let the caller finish and summed it up well ({secrets.token_hex(3)})."
    learner_ctx = new_context(browser)
    manager_ctx = new_context(browser)
    try:
        # 1. Lena launches and joins the programme.
        lena = launch_in_new_window(open_course_page(learner_ctx, base), "learner", base)
        with explained(lena, "the learner joins the programme"):
            join_from_dashboard(lena)

        # 2. Marco recognises her.
        marco = launch_in_new_window(open_course_page(manager_ctx, base), "manager", base)
        with explained(marco, "the manager awards a badge"):
            open_award_form(marco, base)
            marco.screenshot(path=results_dir / "recognition-award-form.png", full_page=True)
            award_badge(marco, "Customer hero", message, base)
            marco.screenshot(path=results_dir / "recognition-wall.png", full_page=True)

        # 3. Lena sees it on her badges page, and hides it from the wall.
        with explained(lena, "the learner sees the badge"):
            mine, verify_href = open_my_badges(lena, "Customer hero", message, base)
            lena.screenshot(path=results_dir / "recognition-learner-badges.png", full_page=True)

            mine.get_by_role("button", name="Hide from the team's wall").click()
            expect(lena).to_have_url(base + "/recognition/")
            expect(lena.locator(".flash-success")).to_have_text("Hidden from the team's wall.")
            mine = award_items(lena, message)
            expect(mine.get_by_role("button", name="Show on the team's wall")).to_be_visible()

        with explained(marco, "the hidden award leaves the wall"):
            marco.reload()
            expect(marco.get_by_role("heading", level=1)).to_have_text("Recognition wall")
            expect(marco.locator(".flash")).to_have_count(0)
            expect(award_items(marco, message)).to_have_count(0)
            expect(marco.get_by_text(message)).to_have_count(0)

        # 4. A stranger checks the badge: a fresh context, no cookies, no launch.
        stranger = new_context(browser)
        try:
            assert stranger.cookies() == []
            visitor = stranger.new_page()
            with explained(visitor, "a stranger verifies the badge"):
                response = visitor.goto(base + verify_href)
                assert response is not None and response.status == 200
                expect(visitor.get_by_role("heading", level=1)).to_have_text("This badge is valid")
                details = visitor.locator("section.verified")
                expect(details.locator("dt", has_text="Badge").locator("+ dd")).to_have_text(
                    "Customer hero"
                )
                expect(visitor.get_by_role("navigation", name="Main")).to_have_count(0)
                # Nothing names the holder, nor repeats the private message.
                body = visitor.locator("body")
                for private in (LEARNER.name, LEARNER.given_name, LEARNER.email, LEARNER.sub):
                    expect(body).not_to_contain_text(private)
                expect(body).not_to_contain_text(message)
                html = visitor.content()
                for private in (LEARNER.given_name, LEARNER.email, LEARNER.sub, message):
                    assert private not in html, f"{private!r} is in the verification page"
                visitor.screenshot(path=results_dir / "recognition-verify.png", full_page=True)
        finally:
            stranger.close()

        # 5. Marco awards a second badge with the keyboard only.
        with explained(marco, "the manager awards with the keyboard only"):
            marco.get_by_role("link", name="Recognise someone").click()
            expect(marco.get_by_role("heading", level=1)).to_have_text(
                "Recognise someone in your team"
            )
            who = marco.get_by_label("Who")
            badge = marco.get_by_label("Badge", exact=True)
            text = marco.get_by_label("Your message")
            submit = marco.get_by_role("button", name="Award the badge")

            marco.keyboard.press("Tab")
            skip = marco.get_by_role("link", name="Skip to content")
            expect(skip).to_be_focused()
            expect(skip).to_be_visible()  # it appears when focused
            marco.keyboard.press("Enter")
            expect(marco.locator("main#main")).to_be_focused()
            marco.keyboard.press("Tab")
            expect(who).to_be_focused()
            marco.screenshot(path=results_dir / "recognition-award-keyboard-focus.png")
            marco.keyboard.type(LEARNER.given_name)  # type-ahead in a closed select
            expect(who.locator("option:checked")).to_have_text(LEARNER.name)
            marco.keyboard.press("Tab")
            expect(badge).to_be_focused()
            marco.keyboard.type("Great")
            expect(badge.locator("option:checked")).to_have_text("Great listener")
            marco.keyboard.press("Tab")
            expect(text).to_be_focused()
            marco.keyboard.type(second_message)
            expect(text).to_have_value(second_message)
            marco.keyboard.press("Tab")
            expect(submit).to_be_focused()
            marco.keyboard.press("Enter")

            # The form posts to the page's own URL, #main included (the skip link added it),
            # and a redirect keeps that fragment.
            expect(marco).to_have_url(
                re.compile(re.escape(base + "/recognition/wall") + "(#main)?$")
            )
            expect(marco.locator(".flash-success")).to_have_text(
                f"You recognised {LEARNER.name}: Great listener."
            )
            second = award_items(marco, second_message)
            expect(second).to_have_count(1)
            expect(second.get_by_role("heading", level=3)).to_have_text(
                f"{LEARNER.name} · Great listener"
            )
            # The first one stays hidden.
            expect(award_items(marco, message)).to_have_count(0)
    finally:
        manager_ctx.close()
        learner_ctx.close()
