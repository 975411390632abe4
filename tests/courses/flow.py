"""Steps a learner or trainer takes through the course pages, over the test client."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.db import db
from courses.models import Course
from courses.services import outline_of
from lms.devplatform.models import DevLineItem, DevResourceLink
from tests.builders import launched
from tests.lti import LtiBrowser, csrf_token_for, page_text
from tests.question_forms import fill, read_form

BASICS_RIGHT = {"promoter": ["a"], "passives": ["a", "b"]}
NPS_RIGHT = {"compute": ["30"], "range": ["a"]}


def csrf(page) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)[1]


def browser(app, lti) -> LtiBrowser:
    return LtiBrowser(app, app.test_client(), lti.tool_base, lti.platform_base)


def as_person(app, lti, persona: str, sub: str, name: str) -> LtiBrowser:
    """Another person (a new ``sub``) of the given persona's role, signed in as their launch
    leaves them (``tests.builders``: no test using this is about the launch)."""
    return launched(browser(app, lti), persona, sub=sub, name=name)


def place_course(app, slug: str, score_maximum: float = 100) -> int:
    """The LMS side: an activity in the demo course that opens ``slug``, with a gradebook
    column (as deep linking would have created it)."""
    with app.app_context():
        lineitem = DevLineItem(
            label=f"Course {slug}", score_maximum=score_maximum, resource_id=f"course:{slug}"
        )
        db.session.add(lineitem)
        db.session.flush()
        link = DevResourceLink(
            title=f"Course {slug}",
            url="",
            custom={"target": f"course:{slug}"},
            lineitem_id=lineitem.id,
        )
        db.session.add(link)
        db.session.commit()
        link_id = link.id
        lineitem.resource_link_id = f"dev-link-{link_id}"
        db.session.commit()
        db.session.remove()
    return link_id


def launch_link(lti: LtiBrowser, persona: str, link_id: int):
    login_url = lti.client.get(
        f"{lti.platform_base}/dev-platform/start/{persona}?link={link_id}"
    ).headers["Location"]
    return lti.post_launch(lti.authorize(lti.login(login_url)))


def get(lti: LtiBrowser, path: str):
    return lti.client.get(lti.tool_base + path)


def post(lti: LtiBrowser, path: str, data: dict | None = None, *, token_from: str | None = None):
    """POST a form with the session's CSRF token, as the page showing it would. With
    ``token_from``, that page is opened first and must hold a form."""
    token = csrf(get(lti, token_from)) if token_from else csrf_token_for(lti.app, lti.client)
    return lti.client.post(lti.tool_base + path, data={"csrf_token": token, **(data or {})})


def join(lti: LtiBrowser):
    return post(lti, "/programme/join", token_from="/programme")


def start(lti: LtiBrowser, slug: str):
    return post(lti, f"/courses/{slug}/start")


def read(lti: LtiBrowser, slug: str, module: str, lesson: str):
    path = f"/courses/{slug}/m/{module}/{lesson}"
    return post(lti, path + "/done")


def check_questions(app, slug: str, module: str) -> list[dict]:
    """A module's check questions as stored (the answer key included)."""
    with app.app_context():
        course = db.session.scalars(select(Course).where(Course.slug == slug)).first()
        questions = outline_of(db.session, course).module(module)["check"]["questions"]
        db.session.remove()
        return questions


def answer(lti: LtiBrowser, slug: str, module: str, answers: dict[str, list[str]]):
    """Open the check and send ``answers`` (the key's terms: option letters, typed numbers)
    through the controls the page shows, as a person would."""
    path = f"/courses/{slug}/m/{module}/check"
    page = get(lti, path)
    shown = read_form(page.text)
    # A passed check shows no form: what is sent then is a stale tab's, answered or not.
    form = fill(shown, check_questions(lti.app, slug, module), answers) if shown.questions else {}
    token = csrf(page) if shown.questions else csrf_token_for(lti.app, lti.client)
    return lti.client.post(lti.tool_base + path, data={"csrf_token": token, **form})


def exercise(lti: LtiBrowser, slug: str, values: dict[str, str]):
    return post(lti, f"/courses/{slug}/exercise", values)


def finish_basics(lti: LtiBrowser, *, exercise_values=None):
    for module, lessons in (
        ("scores", ("scales", "groups", "example")),
        ("nps", ("formula", "example")),
    ):
        for lesson in lessons:
            assert read(lti, "basics", module, lesson).status_code == 302
    assert answer(lti, "basics", "scores", BASICS_RIGHT).status_code == 302
    assert answer(lti, "basics", "nps", NPS_RIGHT).status_code == 302
    return exercise(lti, "basics", exercise_values or {"nps": "20", "promoters": "40"})


def text(response) -> str:
    return page_text(response)


def rows(app, model, *where):
    with app.app_context():
        found = db.session.scalars(select(model).where(*where)).all()
        db.session.expunge_all()
        db.session.remove()
        return found
