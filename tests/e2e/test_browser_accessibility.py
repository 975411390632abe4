"""WCAG 2.1 AA in a real Chromium, against ``scripts/run-demo``: axe-core (the WCAG 2.0 and 2.1
A and AA rules) on the main page states of every role, at 1280 CSS px and at 320 CSS px (a
phone, or a narrow LMS frame), failing on any violation; and 1.4.10 Reflow: at 320 px no page
is wider than the window (``document.documentElement.scrollWidth <= 320``).

The states: each role's pages from its menu, the knowledge check, the award form empty and
after a refused submit, the grading page and the transcript upload after a refused submit,
and the development platform's course page (its launch buttons). Each page is opened once at
1280 px, checked, then narrowed to 320 px and checked again; one browser for the module.

A refused submit also shows the error pattern (``_forms.html``): a summary with
role="alert" that has the focus and links to the fields, each field aria-invalid and
described by its own message, and the choices kept.

axe-core comes from npm (``tests/e2e/axe/package.json`` and its lock); when it is not
installed and ``npm`` is, the test runs ``npm ci`` there itself (a clean clone in CI).
Screenshots at 320 px: ``test-results/e2e/a11y-<role>-<page>-320.png``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ROOT, DemoService
from tests.e2e.steps import (
    LEARNER,
    demo_course,
    explained,
    join_from_dashboard,
    launch_in_new_window,
    new_context,
    open_course_page,
)

pytestmark = pytest.mark.e2e

AXE_DIR = ROOT / "tests" / "e2e" / "axe"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDE, NARROW = 1280, 320
RUN_AXE = """(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}}).then(
    r => r.violations.map(v => `${v.id} (${v.impact}): ${v.help} -- ` +
        v.nodes.slice(0, 5).map(n => n.target.join(' ')).join(' | ')))"""
# What makes a page wider than the window, to say which element to fix.
TOO_WIDE = """(width) => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > width + 1)
    .filter(e => !e.parentElement.closest('.table-wrap, .table-scroll'))
    .slice(0, 5).map(e => e.outerHTML.slice(0, 100))"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE_JS.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("axe-core is not installed and npm is missing (cd tests/e2e/axe && npm ci)")
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=AXE_DIR, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0 or not AXE_JS.exists():
            pytest.skip(f"could not install axe-core with npm ci: {done.stderr[-500:]}")
    return AXE_JS.read_text()


class Audit:
    """Checks page states at both widths and keeps every finding, to report them together."""

    def __init__(self, axe: str, results: Path, role: str) -> None:
        self.axe, self.results, self.role = axe, results, role
        self.findings: list[str] = []
        self.checked = 0

    def axe_violations(self, page: Page) -> list[str]:
        # Evaluated through the DevTools protocol, which the pages' CSP does not restrict.
        if not page.evaluate("typeof axe !== 'undefined'"):
            page.evaluate(self.axe + "\n;0")
        return page.evaluate(RUN_AXE, AXE_TAGS)

    def check(self, page: Page, name: str) -> None:
        """The page as it is now, at 1280 px then at 320 px (not reloaded: a POST's answer
        stays what it was)."""
        page.set_viewport_size({"width": WIDE, "height": 900})
        where = f"{self.role} · {name} ({page.url})"
        self.findings += [f"{where} at {WIDE}px: {v}" for v in self.axe_violations(page)]
        page.set_viewport_size({"width": NARROW, "height": 720})
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > NARROW:
            culprits = page.evaluate(TOO_WIDE, NARROW)
            self.findings.append(f"{where}: {width}px wide at {NARROW}px: {culprits}")
        self.findings += [f"{where} at {NARROW}px: {v}" for v in self.axe_violations(page)]
        page.screenshot(path=self.results / f"a11y-{self.role}-{name}-{NARROW}.png", full_page=True)
        page.set_viewport_size({"width": WIDE, "height": 900})
        self.checked += 1

    def visit(self, page: Page, base: str, path: str, name: str) -> None:
        response = page.goto(base + path)
        assert response is not None and response.status == 200, f"{path}: {response}"
        self.check(page, name)

    def assert_clean(self) -> None:
        assert self.checked, "no page was checked"
        assert not self.findings, f"{len(self.findings)} problems:\n" + "\n".join(self.findings)


def expect_error_pattern(page: Page, fields: dict[str, str]) -> None:
    """The summary is announced and focused, links to each field; each field (by id) is
    aria-invalid and described by its message (``fields``: id -> part of the message)."""
    summary = page.get_by_role("alert").filter(has=page.get_by_role("heading"))
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    for field_id, message in fields.items():
        link = summary.get_by_role("link", name=re.compile(re.escape(message)))
        expect(link).to_have_attribute("href", f"#{field_id}")
        control = page.locator(f"#{field_id}")
        expect(control).to_have_attribute("aria-invalid", "true")
        described = control.get_attribute("aria-describedby") or ""
        texts = [page.locator(f"#{i}").inner_text() for i in described.split()]
        assert any(message in t for t in texts), (field_id, described, texts)


def launched(browser: Browser, base: str, role: str) -> tuple[Any, Page]:
    context = new_context(browser)
    return context, launch_in_new_window(open_course_page(context, base), role, base)


def test_the_development_platform_passes_axe_at_both_widths(
    browser: Browser, demo_server: DemoService, axe_source: str, results_dir: Path
) -> None:
    base = demo_server.base_url
    context = new_context(browser)
    try:
        page = open_course_page(context, base)
        audit = Audit(axe_source, results_dir, "platform")
        with explained(page, "the development platform's course page"):
            audit.check(page, "course-page")
            audit.assert_clean()
    finally:
        context.close()


def test_the_learners_pages_pass_axe_and_reflow(
    browser: Browser, demo_server: DemoService, axe_source: str, results_dir: Path
) -> None:
    base = demo_server.base_url
    course = demo_course()
    context, lena = launched(browser, base, "learner")
    audit = Audit(axe_source, results_dir, "learner")
    try:
        with explained(lena, "the learner's pages"):
            audit.check(lena, "dashboard")
            join_from_dashboard(lena)
            for path, name in [
                ("/courses/", "courses"),
                ("/assessments/", "assessments"),
                ("/recognition/", "badges"),
                ("/recognition/wall", "wall"),
                ("/programme", "programme"),
                ("/me/data", "my-data"),
            ]:
                audit.visit(lena, base, path, name)
            audit.visit(lena, base, f"/courses/{course['slug']}/", "course")
            start = lena.get_by_role("button", name="Start this course")
            if start.is_visible():
                start.click()
                expect(lena.get_by_role("heading", level=1)).to_be_visible()
            first = course["modules"][0]
            audit.visit(lena, base, f"/courses/{course['slug']}/m/{first['slug']}/check", "check")
            audit.assert_clean()
    finally:
        context.close()


def test_the_managers_pages_and_a_refused_award_pass_axe_and_reflow(
    browser: Browser, demo_server: DemoService, axe_source: str, results_dir: Path
) -> None:
    base = demo_server.base_url
    # Someone must have joined for the award form to show (another test may have already).
    learner_context, lena = launched(browser, base, "learner")
    join_from_dashboard(lena)
    learner_context.close()
    context, marco = launched(browser, base, "manager")
    audit = Audit(axe_source, results_dir, "manager")
    try:
        with explained(marco, "the manager's pages"):
            audit.check(marco, "dashboard")
            for path, name in [("/recognition/wall", "wall"), ("/courses/", "courses")]:
                audit.visit(marco, base, path, name)
            audit.visit(marco, base, "/recognition/award", "award")
            # The browser's own check first: the placeholders have an empty value.
            who = marco.get_by_label("Who")
            expect(who).to_have_attribute("required", "")
            expect(who).to_have_value("")
            marco.get_by_role("button", name="Award the badge").click()
            assert marco.evaluate("document.querySelector('#recipient').validity.valueMissing")
            expect(marco).to_have_url(base + "/recognition/award")  # not sent
            # Past it (an old browser, or a script): the server says the same, in place.
            who.select_option(label=LEARNER.name)
            marco.evaluate("document.querySelector('main form').noValidate = true")
            marco.get_by_role("button", name="Award the badge").click()
            expect_error_pattern(
                marco, {"badge": "Choose a badge.", "message": "Write a message saying what"}
            )
            expect(marco.get_by_label("Who")).to_have_value(re.compile(r"^\d+$"))
            expect(marco.locator("#recipient")).not_to_have_attribute("aria-invalid", "true")
            audit.check(marco, "award-refused")
            audit.assert_clean()
    finally:
        context.close()


def test_the_trainers_pages_and_refused_forms_pass_axe_and_reflow(
    browser: Browser, demo_server: DemoService, axe_source: str, results_dir: Path
) -> None:
    base = demo_server.base_url
    context, tara = launched(browser, base, "trainer")
    audit = Audit(axe_source, results_dir, "trainer")
    try:
        with explained(tara, "the trainer's pages"):
            audit.check(tara, "dashboard")
            for path, name in [
                ("/assessments/", "assessments"),
                ("/courses/cohort", "cohort"),
                ("/courses/reviews", "reviews"),
                ("/courses/completions", "completions"),
                ("/insights/", "impact"),
                ("/insights/import", "impact-import"),
                ("/organisation", "organisation"),
                ("/recognition/badges", "badge-designer"),
                ("/lms/grades", "grade-deliveries"),
                ("/assessments/queue", "queue"),
            ]:
                audit.visit(tara, base, path, name)
            tara.locator("main").get_by_role("link", name=re.compile(r"^Grade ")).first.click()
            expect(tara.get_by_role("heading", level=2, name="Levels")).to_be_visible()
            audit.check(tara, "grade")
            # Tab order follows the reading order: the levels before "Calibrate graders".
            order = tara.evaluate(
                """() => [...document.querySelectorAll('main button, main input')]
                    .map(e => e.textContent.includes('Calibrate') ? 'calibrate' : e.type)"""
            )
            assert order.index("calibrate") > order.index("radio"), order
            # A criterion left without a level: said in its box, the rest kept.
            tara.evaluate(
                "document.querySelectorAll('fieldset.criterion')[1]"
                ".querySelectorAll('input').forEach(r => r.checked = false)"
            )
            tara.locator("#comment").fill("Kept after the error.")
            tara.get_by_role("button", name="Save the grade and open the next").click()
            second = tara.locator("fieldset.criterion").nth(1)
            criterion = second.get_attribute("data-criterion")
            summary = tara.get_by_role("alert").filter(has=tara.get_by_role("heading"))
            expect(summary).to_be_focused()
            expect(summary.get_by_role("link")).to_have_attribute("href", f"#l-{criterion}-1")
            expect(second.locator(".field-error")).to_contain_text("Choose a level for")
            expect(second.locator("input").first).to_have_attribute("aria-invalid", "true")
            expect(tara.locator("#comment")).to_have_value("Kept after the error.")
            expect(tara.locator("fieldset.criterion").first.get_by_role("radio", checked=True))
            audit.check(tara, "grade-refused")

            audit.visit(tara, base, "/assessments/upload", "upload")
            person = tara.locator("#learner option[value]:not([value=''])").first
            tara.locator("#learner").select_option(person.get_attribute("value"))
            tara.get_by_role("button", name="Add to the grading queue").click()
            expect(tara).to_have_url(base + "/assessments/upload")  # stays on its form
            expect_error_pattern(tara, {"files": "Choose at least one transcript file"})
            expect(tara.locator("#learner")).to_have_value(person.get_attribute("value") or "")
            audit.check(tara, "upload-refused")
            audit.assert_clean()
    finally:
        context.close()


def test_the_administrators_pages_pass_axe_and_reflow(
    browser: Browser, demo_server: DemoService, axe_source: str, results_dir: Path
) -> None:
    base = demo_server.base_url
    context, ada = launched(browser, base, "administrator")
    audit = Audit(axe_source, results_dir, "administrator")
    try:
        with explained(ada, "the administrator's pages"):
            # The whole menu on one line beside the brand in a wide window.
            ada.set_viewport_size({"width": 1400, "height": 900})
            links = ada.get_by_role("navigation", name="Main").get_by_role("link")
            boxes = [links.nth(i).bounding_box() for i in range(links.count())]
            tops = {round(box["y"]) for box in boxes if box}
            assert len(tops) == 1, f"the menu takes {len(tops)} lines at 1400 px"
            audit.check(ada, "dashboard")
            for path, name in [("/lms/admin/platform", "platform"), ("/lms/setup", "setup")]:
                audit.visit(ada, base, path, name)
            # At 320 px the menu is a button that opens it, without JavaScript.
            ada.set_viewport_size({"width": NARROW, "height": 720})
            menu = ada.locator("summary", has_text="Menu")
            expect(menu).to_be_visible()
            expect(links.first).to_be_hidden()
            menu.click()
            nav = ada.get_by_role("navigation", name="Main")
            expect(nav.get_by_role("link", name="Courses", exact=True)).to_be_visible()
            assert ada.evaluate("document.documentElement.scrollWidth") <= NARROW
            audit.assert_clean()
    finally:
        context.close()
