"""A learner takes a whole course in a real Chromium against ``scripts/run-demo``: launch from
the development platform -> join the programme -> every lesson, example and knowledge check ->
the final exercise -> download the certificate -> a stranger verifies it.

The answers come from the course's own content pack, read here with ``courses.pack``; the
browser only does what a person does (clicks, ticks, types). Screenshots of the check page with
its feedback and of the completed course page go to ``test-results/e2e/``. The same steps run
in the LMS's cross-site iframe in ``test_browser_journeys``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import DemoService
from tests.e2e.steps import (
    certificate_url,
    demo_course,
    download_certificate,
    expect_course_completed,
    expect_invited_to_join,
    explained,
    join_on_course_page,
    launch_in_new_window,
    new_context,
    open_course,
    open_course_page,
    pass_exercise,
    take_course,
    verify_certificate,
)

pytestmark = pytest.mark.e2e


def test_learner_completes_a_course_and_a_stranger_verifies_the_certificate(
    browser, demo_server: DemoService, results_dir: Path
) -> None:
    course = demo_course()
    base = demo_server.base_url

    def snap(moment: str) -> None:
        if moment == "check":
            page.screenshot(path=results_dir / "course-check-feedback.png", full_page=True)

    context = new_context(browser, accept_downloads=True)
    try:
        page = launch_in_new_window(open_course_page(context, base), "learner", base)
        with explained(page, "launch and join the programme"):
            expect_invited_to_join(page)
            open_course(page, course)
            join_on_course_page(page, course, base)

        with explained(page, "every lesson, example and knowledge check"):
            take_course(page, course, base, snap)

        with explained(page, "final exercise"):
            pass_exercise(page, course, base)

        with explained(page, "the completed course page"):
            expect_course_completed(page, course)
            page.screenshot(path=results_dir / "course-completed.png", full_page=True)
            code, pdf = download_certificate(page, course)

        url = certificate_url(pdf, course)
        assert url == f"{base}/certificates/{code}", (url, code)
    finally:
        context.close()

    # A stranger: a fresh browser context, no cookies, no launch.
    stranger = new_context(browser)
    try:
        assert stranger.cookies() == []
        verify_certificate(stranger.new_page(), url, course)
    finally:
        stranger.close()
