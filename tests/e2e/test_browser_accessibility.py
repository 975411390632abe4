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
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from courses.pack import load_directory
from tests.e2e.conftest import ROOT, DemoService
from tests.e2e.steps import (
    LEARNER,
    explained,
    join_from_dashboard,
    launch_in_new_window,
    leave_programme,
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
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=AXE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
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


AuditAs = Callable[[str, str], AbstractContextManager[tuple[Page, Audit]]]


@pytest.fixture
def audit_as(
    browser: Browser, demo_server: DemoService, axe_source: str, results_dir: Path
) -> AuditAs:
    """``with audit_as(role, what) as (page, audit)``: someone of that role launched in a
    window of their own, and an audit of the pages they see that must end with none failing."""

    @contextmanager
    def start(role: str, what: str) -> Iterator[tuple[Page, Audit]]:
        context, page = launched(browser, demo_server.base_url, role)
        audit = Audit(axe_source, results_dir, role)
        try:
            with explained(page, what):
                yield page, audit
                audit.assert_clean()
        finally:
            context.close()

    return start


JOINED_HERE: list[bool] = []  # whether a test of this module made Lena join


def joined_learner(browser: Browser, base: str) -> None:
    """Lena has launched and joined (another test may have already): she is someone a
    manager can recognise and a trainer can upload conversations of."""
    context, lena = launched(browser, base, "learner")
    JOINED_HERE.append(join_from_dashboard(lena))
    context.close()


@pytest.fixture(scope="module", autouse=True)
def lena_leaves_as_she_came(browser: Browser, demo_server: DemoService) -> Iterator[None]:
    """Other modules' journeys start from a learner who has not joined (they share the demo
    server): if this module made her join, she leaves again at its end."""
    yield
    if any(JOINED_HERE):
        context, lena = launched(browser, demo_server.base_url, "learner")
        leave_programme(lena)
        context.close()


TRANSCRIPT = (
    "Customer: I was charged twice for my order and I am really upset about it.\n"
    "Agent: I'm so sorry, that is frustrating. I can see the second charge and I am refunding "
    "it now; you will see it back within two days.\n"
    "Customer: Thanks, that helps.\n"
    "Agent: You're welcome. Is there anything else I can help you with today?"
)


def queue_a_conversation(tara: Page, base: str) -> None:
    """A pasted transcript of Lena's in the grading queue (the demo course starts empty)."""
    tara.goto(base + "/assessments/upload")
    lena = tara.locator("#learner option", has_text=LEARNER.name).first.get_attribute("value")
    tara.get_by_label("Whose conversations").select_option(lena)
    tara.get_by_label("Or paste a transcript").fill(TRANSCRIPT)
    tara.get_by_role("button", name="Add to the grading queue").click()
    expect(tara.locator(".flash-success")).to_contain_text("added to the grading queue")


def tab_to(page: Page, target: Locator, most: int = 60) -> None:
    """Press Tab until ``target`` has the focus or holds it, as a keyboard user moves
    through a page."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if target.evaluate("e => e.contains(document.activeElement)"):
            return
    raise AssertionError(f"{most} presses of Tab never reached {target}")


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
    demo_server: DemoService, audit_as: AuditAs
) -> None:
    base = demo_server.base_url
    # Not the course the learner's journey takes (it starts that one from nothing).
    course = load_directory(ROOT / "courses" / "content" / "csat-ces-qci").document
    with audit_as("learner", "the learner's pages") as (lena, audit):
        audit.check(lena, "dashboard")
        JOINED_HERE.append(join_from_dashboard(lena))
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


def test_the_managers_pages_and_a_refused_award_pass_axe_and_reflow(
    browser: Browser, demo_server: DemoService, audit_as: AuditAs
) -> None:
    base = demo_server.base_url
    # Someone must have joined for the award form to show (another test may have already).
    joined_learner(browser, base)
    with audit_as("manager", "the manager's pages") as (marco, audit):
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


def test_the_trainers_pages_and_refused_forms_pass_axe_and_reflow(
    browser: Browser, demo_server: DemoService, audit_as: AuditAs
) -> None:
    base = demo_server.base_url
    joined_learner(browser, base)
    with audit_as("trainer", "the trainer's pages") as (tara, audit):
        queue_a_conversation(tara, base)
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
            # Filtered: the suggested level's column, and a filter that leaves nothing.
            ("/assessments/queue?skill=empathy", "queue-by-skill"),
            ("/assessments/queue?skill=empathy&level=4&confidence=low&page=2", "queue-filtered"),
            ("/assessments/queue", "queue"),  # last: its first conversation is graded next
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


def test_the_trainer_uploads_and_grades_with_the_keyboard_only(
    browser: Browser, demo_server: DemoService, results_dir: Path
) -> None:
    """Keyboard only, in reading order: the skip link, the upload form's fields one after
    another, the queue's link, each criterion's radio group (a digit picks the level), the
    comment and the save button."""
    base = demo_server.base_url
    joined_learner(browser, base)
    context, tara = launched(browser, base, "trainer")
    try:
        with explained(tara, "the trainer uploads a transcript with the keyboard only"):
            tara.goto(base + "/assessments/upload")
            tara.keyboard.press("Tab")
            expect(tara.get_by_role("link", name="Skip to content")).to_be_focused()
            tara.keyboard.press("Enter")
            expect(tara.locator("main#main")).to_be_focused()
            # The help on which files can be uploaded comes first, then the form.
            tara.keyboard.press("Tab")
            expect(tara.locator("summary", has_text="Which files can I upload?")).to_be_focused()
            person = tara.get_by_label("Whose conversations")
            tara.keyboard.press("Tab")
            expect(person).to_be_focused()
            tara.keyboard.type(LEARNER.given_name)  # type-ahead in a closed select
            expect(person.locator("option:checked")).to_contain_text(LEARNER.name)
            tara.keyboard.press("Tab")
            expect(tara.get_by_label("Channel")).to_be_focused()
            tara.keyboard.press("Tab")
            expect(tara.locator("#files")).to_be_focused()
            tara.keyboard.press("Tab")
            pasted = tara.get_by_label("Or paste a transcript")
            expect(pasted).to_be_focused()
            tara.keyboard.type(TRANSCRIPT)
            expect(pasted).to_have_value(TRANSCRIPT)
            tara.keyboard.press("Tab")
            expect(tara.get_by_label("Mask emails, phone and card numbers")).to_be_focused()
            tara.keyboard.press("Tab")
            expect(tara.get_by_role("button", name="Add to the grading queue")).to_be_focused()
            tara.keyboard.press("Enter")
            expect(tara.locator(".flash-success")).to_contain_text("added to the grading queue")
            expect(tara.get_by_role("heading", level=1)).to_have_text("Grading queue")

        with explained(tara, "the trainer grades with the keyboard only"):
            grade = tara.locator("main").get_by_role(
                "link", name=re.compile(f"^Grade {re.escape(LEARNER.name)}")
            )
            tab_to(tara, grade.first)
            tara.keyboard.press("Enter")
            expect(tara.get_by_role("heading", level=2, name="Levels")).to_be_visible()
            criteria = tara.locator("fieldset.criterion")
            count = criteria.count()
            assert count >= 5, count
            tab_to(tara, criteria.first, most=80)
            for index in range(count):
                box = criteria.nth(index)
                # A radio group is one stop of the tab order: Tab lands in the next criterion.
                assert box.evaluate("b => b.contains(document.activeElement)"), index
                level = "3" if index % 2 else "2"
                tara.keyboard.press(level)
                expect(box.locator(f"input[value='{level}']")).to_be_checked()
                expect(box.locator(f"input[value='{level}']")).to_be_focused()
                tara.keyboard.press("Tab")
            comment = tara.get_by_label(f"Comment for {LEARNER.name}")
            expect(comment).to_be_focused()
            tara.keyboard.type("Graded with the keyboard.")
            tara.keyboard.press("Tab")
            expect(
                tara.get_by_role("button", name="Save the grade and open the next")
            ).to_be_focused()
            tara.screenshot(path=results_dir / "a11y-grade-keyboard-focus.png")
            tara.keyboard.press("Enter")
            expect(tara.locator(".flash-success")).to_contain_text(f"Graded {LEARNER.name}")
    finally:
        context.close()


def test_the_activity_picker_passes_axe_and_reflow_in_the_course_page(
    browser: Browser, demo_server: DemoService, axe_source: str
) -> None:
    """The picker (a deep-linking launch) where an LMS shows it, in the course page's frame:
    the whole list, the list filtered as one types, and a search (the server's, without
    JavaScript), in a 1280 px and a 320 px window."""
    base = demo_server.base_url
    context = new_context(browser)
    page = open_course_page(context, base)
    findings: list[str] = []
    try:
        with explained(page, "the activity picker"):
            page.get_by_role("button", name="Add an activity as Tara Trainer").click()
            picker = page.frame(name="tool-frame")
            assert picker is not None
            expect(picker.get_by_role("heading", level=1)).to_have_text(
                "Add CX Quality Academy activities"
            )
            for state in ("all", "typed", "search"):
                if state == "typed":
                    # Filter as you type (a script); the count is announced.
                    picks = picker.locator(".pick")
                    total = picks.count()
                    picker.get_by_label("Search").press_sequentially("empath")
                    status = picker.get_by_role("status")
                    expect(status).to_contain_text(re.compile(rf"^Showing \d+ of {total} for"))
                    shown = picker.locator(".pick:visible")
                    assert 0 < shown.count() < total, (shown.count(), total)
                    for i in range(shown.count()):
                        expect(shown.nth(i)).to_contain_text(re.compile("empath", re.I))
                    expect(
                        picker.locator("fieldset.picker:visible:not(:has(.pick:visible))")
                    ).to_have_count(0)
                if state == "search":
                    picker.get_by_label("Search").fill("")
                    picker.get_by_label("Search").fill("empathy")
                    picker.get_by_role("button", name="Search").click()
                    expect(picker.locator("#picker-count")).to_contain_text("matching “empathy”")
                for width in (WIDE, NARROW):
                    page.set_viewport_size({"width": width, "height": 900})
                    if not picker.evaluate("typeof axe !== 'undefined'"):
                        picker.evaluate(axe_source + "\n;0")
                    where = f"picker · {state} in a {width}px window"
                    findings += [f"{where}: {v}" for v in picker.evaluate(RUN_AXE, AXE_TAGS)]
                    inner, scroll = picker.evaluate(
                        "[document.documentElement.clientWidth,"
                        " document.documentElement.scrollWidth]"
                    )
                    if scroll > inner:
                        findings.append(f"{where}: {scroll}px wide in a {inner}px frame")
                page.set_viewport_size({"width": WIDE, "height": 900})
        assert not findings, "\n".join(findings)
    finally:
        context.close()


def test_the_administrators_pages_pass_axe_and_reflow(
    demo_server: DemoService, audit_as: AuditAs
) -> None:
    base = demo_server.base_url
    with audit_as("administrator", "the administrator's pages") as (ada, audit):
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
