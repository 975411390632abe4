"""SQL injection and cross-site scripting probes in every text field of every form.

Each person opens each page with a form, fills every text field with a probe (quotes, SQL,
script and an HTML event handler) and sends it as the browser would. Then every page is opened
again by everyone: no page may contain the probe's markup unescaped, nothing may fail with a
500, and the database must still hold what it held (the SQL was stored as text, not run).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

from sqlalchemy import func, select

from core.db import db
from people.models import User
from tests.assessments.test_flow import take
from tests.security.conftest import World
from tests.security.test_access import ACTORS, OK, ROUTES

SCRIPT = "<script>alert('xss')</script>"
HANDLER = "<img src=x onerror=alert(1)>"
PROBE = f"Robert'); DROP TABLE users;-- \" OR '1'='1 {SCRIPT}{HANDLER}"
ESCAPED = "&lt;script&gt;alert("

# The pages holding forms, and who opens them.
FORM_PAGES = {
    "learner": [
        "/programme",
        "/courses/basics/m/scores/check",
        "/courses/basics/exercise",
        "/assessments/{ids[assessment]}",
        "/assessments/quizzes/{ids[quiz]}",
        "/assessments/scenarios/{ids[scenario]}",
        "/me/data",
    ],
    "other_learner": ["/assessments/{ids[replying]}"],
    "manager": ["/recognition/award", "/recognition/awards/{ids[award]}/revoke"],
    "trainer": [
        "/dashboard",
        "/courses/reviews/{ids[submission]}",
        "/assessments/{ids[assessment]}/grade",
        "/assessments/{ids[waiting]}/grade",
        "/assessments/disputes/{ids[dispute]}",
        "/assessments/calibrations/{ids[calibration]}",
        "/assessments/rubrics/{ids[rubric]}/edit",
        "/assessments/upload",
        "/recognition/badges",
        "/insights/import",
        "/insights/",
    ],
}
TEXT_TYPES = {"text", "search", "email", "url", "tel", "number", ""}


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    text_fields: list[str] = field(default_factory=list)
    file_fields: list[str] = field(default_factory=list)


class FormReader(HTMLParser):
    """The POST forms of a page as a browser would send them, noting which fields take text."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._form = Form(a.get("action", ""))
            self.forms.append(self._form)
        if self._form is None or not a.get("name"):
            return
        name = a["name"]
        if tag == "input":
            kind = a.get("type", "").lower()
            if kind in TEXT_TYPES:
                self._form.text_fields.append(name)
                self._form.fields[name] = a.get("value", "")
            elif kind == "file":
                self._form.file_fields.append(name)
            elif kind in {"checkbox", "radio"}:
                if "checked" in a or name not in self._form.fields:
                    self._form.fields[name] = a.get("value", "on")
            elif kind not in {"submit", "button", "reset", "image"}:
                self._form.fields[name] = a.get("value", "")
        elif tag == "textarea":
            self._form.text_fields.append(name)
            self._form.fields[name] = ""
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and self._select not in self._form.fields:
            self._form.fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def forms_of(html: str) -> list[Form]:
    reader = FormReader()
    reader.feed(html)
    return reader.forms


def count_users(app) -> int:
    with app.app_context():
        found = db.session.scalar(select(func.count()).select_from(User))
        db.session.remove()
        return found


def test_probes_in_every_text_field_are_stored_as_text_and_shown_escaped(app, world: World):
    actors = world.actors()
    base = world.tara.tool_base
    # Forms that show only at some moments: Omar's scenario in progress (his reply) and one
    # waiting for a grade (the trainer's comment).
    world.ids["replying"] = take(world.omar, "in-a-hurry-card-blocked", replies=[])
    world.ids["waiting"] = take(world.omar, "wifi-is-not-the-internet")
    users_before = count_users(app)
    sent, failures = [], []
    for actor, pages in FORM_PAGES.items():
        person = actors[actor]
        for page in pages:
            url = base + page.format(ids=world.ids)
            shown = person.client.get(url)
            assert shown.status_code == 200, (actor, page, shown.status_code)
            for form in forms_of(shown.get_data(as_text=True)):
                if not form.text_fields:
                    continue
                data: dict[str, object] = {**form.fields, **dict.fromkeys(form.text_fields, PROBE)}
                for name in form.file_fields:
                    data[name] = (io.BytesIO(PROBE.encode()), "probe.txt")
                answer = person.client.post(urljoin(url, form.action or url), data=data)
                sent.append(f"{actor} {form.action or page} {form.text_fields}")
                if answer.status_code >= 500 or (
                    answer.mimetype == "text/html"
                    and (SCRIPT in answer.get_data(as_text=True) or HANDLER in answer.text)
                ):
                    failures.append(f"{actor} POST {form.action}: {answer.status_code}")
    assert len(sent) >= 10, "\n".join(sent)  # the probes reached the forms that take text

    escaped_seen = False
    for route in ROUTES:
        if route.method != "GET":
            continue
        for actor in ACTORS:
            if route.expect[actor] != OK or actor == "anonymous":
                continue
            response = actors[actor].client.get(base + route.path.format(ids=world.ids))
            if response.status_code >= 500 and response.status_code not in route.extra_ok:
                failures.append(f"{actor} GET {route.path}: {response.status_code}")
            if response.mimetype != "text/html":
                continue
            body = response.get_data(as_text=True)
            if SCRIPT in body or HANDLER in body:
                failures.append(f"{actor} GET {route.path} shows the probe unescaped")
            escaped_seen |= ESCAPED in body
    assert failures == [], "\n".join(failures)
    assert escaped_seen, "no page showed a stored probe at all: the check proves nothing"
    assert count_users(app) == users_before
