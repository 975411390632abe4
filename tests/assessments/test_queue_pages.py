"""The grading queue after a large batch: a page at a time with the filters kept in the page
links and the counts a trainer is shown, never another LMS's or course's conversations, and
only the page's rows read; a conversation still being scored says its suggestions are on the
way and can be graded without them."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from sqlalchemy import event, select

from assessments.grading import uncertain
from assessments.grading_queue import PAGE_SIZE, QueueFilters, queue_page
from assessments.models import Assessment, Grade
from assessments.suggest import CRITERIA
from core.db import db, utcnow
from core.jobs import Job
from lms.models import Deployment, Platform
from people.models import Team, User
from tests.assessments.test_batch_upload import fixture, run_worker, trainer_and_agent
from tests.assessments.test_flow import upload
from tests.courses.flow import as_person, get, post, rows, text

OURS = 240  # nearly five pages
TITLE = re.compile(r"(?:Ours|Theirs|Other course) \d{3}")


def suggestions(i: int) -> list[dict]:
    """Empathy at level 1 + i % 4, unsure on every third conversation; the rest at level 3."""
    return [
        {
            "criterion": c,
            "level": 1 + i % 4 if c == "empathy" else 3,
            "confidence": 0.2 if c == "empathy" and i % 3 == 0 else 0.9,
            "low_confidence": False,
            "reasons": [],
            "evidence": [],
        }
        for c in CRITERIA
    ]


def passes(i: int, level: int = 0, confidence: str = "") -> bool:
    """What the queue should keep of our conversation ``i``, by its empathy suggestion."""
    empathy = next(s for s in suggestions(i) if s["criterion"] == "empathy")
    if level and empathy["level"] != level:
        return False
    return {"low": uncertain(empathy), "high": not uncertain(empathy)}.get(confidence, True)


def other_lms(session) -> tuple[int, int, int, int]:
    """Another LMS with its own deployment, course team and agent."""
    platform = Platform(
        issuer="https://other-lms.example",
        client_id="other",
        auth_login_url="https://x",
        auth_token_url="https://x",
        key_set_url="https://x",
    )
    session.add(platform)
    session.flush()
    deployment = Deployment(platform_id=platform.id, deployment_id="theirs")
    session.add(deployment)
    session.flush()
    team = Team(
        platform_id=platform.id,
        deployment_id=deployment.id,
        source="lms_context",
        external_id="course-1",
        title="Their course",
    )
    agent = User(platform_id=platform.id, sub="their-agent", name="Their Agent")
    session.add_all([team, agent])
    session.flush()
    return platform.id, deployment.id, team.id, agent.id


def fill_queue(app, lti):
    """Our 240 conversations (two agents), 60 of another LMS and 30 of another course of ours,
    built as rows: the queue is what is tested here, not the upload."""
    agent_id = int(trainer_and_agent(app, lti))
    upload(app, lti, learner=str(agent_id), files=[fixture("zendesk-ticket.json")])
    with app.app_context():
        session = db.session
        (like,) = session.scalars(select(Assessment)).all()
        second = User(platform_id=like.platform_id, sub="agent-43", name="Bo Second")
        their_platform, their_deployment, their_team, their_agent = other_lms(session)
        other_course = Team(
            platform_id=like.platform_id,
            deployment_id=like.deployment_id,
            source="lms_context",
            external_id="another-course",
            title="Another course",
        )
        session.add_all([second, other_course])
        session.flush()
        start = utcnow() - timedelta(days=30)

        def row(title: str, i: int, **where) -> Assessment:
            return Assessment(
                platform_id=where.get("platform_id", like.platform_id),
                deployment_id=where.get("deployment_id", like.deployment_id),
                team_id=where.get("team_id", like.team_id),
                learner_id=where.get("learner_id", agent_id),
                kind="transcript",
                title=title,
                rubric_version_id=like.rubric_version_id,
                channel="chat",
                conversation=like.conversation,
                suggestions=suggestions(i),
                status="awaiting_grading",
                # Two by two at the same minute: the order still has to be stable.
                submitted_at=start + timedelta(minutes=i // 2),
            )

        # The uploaded one is graded: the queue holds exactly the rows built here.
        like.status = "graded"
        session.add_all(
            row(f"Ours {i:03d}", i, learner_id=second.id if (i // 4) % 2 else agent_id)
            for i in range(OURS)
        )
        session.add_all(
            row(
                f"Theirs {i:03d}",
                i,
                platform_id=their_platform,
                deployment_id=their_deployment,
                team_id=their_team,
                learner_id=their_agent,
            )
            for i in range(60)
        )
        session.add_all(row(f"Other course {i:03d}", i, team_id=other_course.id) for i in range(30))
        session.commit()
        second_id = second.id
        db.session.remove()
    return agent_id, second_id


def titles(page) -> list[str]:
    """The conversations listed, in order (each title once: the Grade link repeats it)."""
    found = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td>", page.get_data(as_text=True))
    return [html.unescape(t) for t in found]


def page_link(page, rel: str) -> str | None:
    """The previous or next page's link of the queue's page navigation."""
    body = page.get_data(as_text=True)
    nav = re.search(r'<nav class="pager[^"]*" aria-label="Pages">(.*?)</nav>', body, re.S)
    assert nav, "no page navigation"
    link = re.search(rf'rel="{rel}" href="([^"]+)"', nav.group(1))
    return html.unescape(link.group(1)) if link else None


def numbers(listed: list[str]) -> list[int]:
    return [int(t.split()[-1]) for t in listed]


def test_the_queue_pages_keep_the_order_the_filters_and_the_counts(app, lti):
    _, second = fill_queue(app, lti)
    seen: list[str] = []
    path: str | None = "/assessments/queue"
    for number in range(1, 6):
        assert path is not None
        page = get(lti, path)
        assert page.status_code == 200
        said = text(page)
        assert f"Page {number} of 5" in said and "240 conversations waiting for a grade" in said
        assert not any(t.startswith(("Theirs", "Other course")) for t in TITLE.findall(said))
        listed = titles(page)
        assert len(listed) == (PAGE_SIZE if number < 5 else OURS - 4 * PAGE_SIZE)
        seen += listed
        path = page_link(page, "next")
        assert (page_link(page, "prev") is None) == (number == 1)
    assert path is None  # the last page has no next
    # Every conversation once, oldest first, none twice across pages.
    assert numbers(seen) == list(range(OURS))

    # Filters survive paging and the count is of what matches them.
    level_two = [i for i in range(OURS) if passes(i, level=2)]
    first = get(lti, "/assessments/queue?skill=empathy&level=2")
    said = text(first)
    assert f"{len(level_two)} of 240 conversations waiting for a grade match these filters" in said
    assert "Page 1 of 2" in said and "Showing 1\u201350" in said
    following = page_link(first, "next")
    assert following is not None
    assert all(f in following for f in ("skill=empathy", "level=2", "page=2"))
    second_page = get(lti, following)
    assert page_link(second_page, "prev") is not None and "level=2" in page_link(
        second_page, "prev"
    )
    assert numbers(titles(first)) + numbers(titles(second_page)) == level_two
    assert "Suggested empathy" in text(second_page)

    unsure = [i for i in range(OURS) if passes(i, level=2, confidence="low")]
    sure = [i for i in range(OURS) if passes(i, level=2, confidence="high")]
    assert numbers(titles(get(lti, "/assessments/queue?level=2&confidence=low"))) == unsure
    assert numbers(titles(get(lti, "/assessments/queue?level=2&confidence=high"))) == sure
    assert len(unsure) + len(sure) == len(level_two)

    # The person filter pages too, and keeps its person.
    theirs = [i for i in range(OURS) if (i // 4) % 2]
    listed, path = [], f"/assessments/queue?learner={second}"
    while path:
        page = get(lti, path)
        assert "Bo Second" in text(page)
        listed += numbers(titles(page))
        path = page_link(page, "next")
        assert path is None or f"learner={second}" in path
    assert listed == theirs

    # A page past the end shows the last; nonsense shows the first.
    assert "Page 5 of 5" in text(get(lti, "/assessments/queue?page=99"))
    assert "Page 1 of 5" in text(get(lti, "/assessments/queue?page=-3"))
    assert "Page 1 of 5" in text(get(lti, "/assessments/queue?page=two&level=9"))


def test_only_the_pages_rows_and_their_suggestions_are_read(app, lti):
    fill_queue(app, lti)
    (ours,) = rows(app, Assessment, Assessment.title == "Ours 000")
    with app.app_context():
        statements: list[tuple[str, object]] = []

        def seen(conn, cursor, statement, parameters, context, executemany):
            statements.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            page = queue_page(
                db.session,
                ours.deployment_id,
                ours.team_id,
                QueueFilters(skill="empathy", confidence="high"),
                page=2,
            )
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
        loaded = [o for o in db.session.identity_map.values() if isinstance(o, Assessment)]
        assert len(page.items) == len(loaded) == PAGE_SIZE
        assert all("suggestions" not in a.__dict__ for a in loaded)
        assert set(page.suggested) == {a.id for a in page.items}
        assert page.matching == sum(passes(i, confidence="high") for i in range(OURS))
        # The only statement that reads suggestions out (not only filters on them) names
        # the page's conversations.
        reading = [(s, p) for s, p in statements if "suggestions" in s.split("FROM", 1)[0]]
        assert len(reading) == 1 and len(reading[0][1]) == PAGE_SIZE
        db.session.remove()


def test_a_conversation_still_being_scored_says_its_suggestions_are_on_the_way(app, lti):
    agent_id = trainer_and_agent(app, lti)
    sent = upload(app, lti, learner=agent_id, files=[fixture("conversations.csv")])
    progress = sent.headers["Location"]
    first, second = sorted(rows(app, Assessment), key=lambda a: a.id)
    page = get(lti, f"/assessments/{first.id}/grade")
    said = text(page)
    assert page.status_code == 200
    assert "Suggestions are on the way" in said and "still being scored" in said
    assert f'href="{progress}"' in page.get_data(as_text=True)
    assert "Suggested:" not in said and "Choose a level for each criterion." in said
    # Another trainer sees the notice without the uploader's progress page.
    other = as_person(app, lti, "trainer", "trainer-2", "Tia Trainer")
    theirs = get(other, f"/assessments/{first.id}/grade")
    assert "Suggestions are on the way" in text(theirs)
    assert "/jobs/" not in theirs.get_data(as_text=True)
    # Grading does not wait for them.
    levels = {f"level_{c}": "3" for c in CRITERIA}
    graded = post(lti, f"/assessments/{first.id}/grade", {**levels, "comment": "Fine."})
    assert graded.status_code == 302
    (grade,) = rows(app, Grade)
    assert grade.assessment_id == first.id and grade.changed == []
    # Once scored, the suggestions are there and the notice is gone.
    run_worker(app)
    scored = text(get(lti, f"/assessments/{second.id}/grade"))
    assert "Suggested:" in scored and "on the way" not in scored
    # A batch whose scoring failed says so instead of promising suggestions.
    with app.app_context():
        db.session.get(Assessment, second.id).suggestions = []
        job = db.session.scalar(select(Job))
        job.status = "failed"
        db.session.commit()
        db.session.remove()
    failed = text(get(lti, f"/assessments/{second.id}/grade"))
    assert "No suggestions for this conversation" in failed and "on the way" not in failed


def grade_links(page) -> dict[str, str]:
    """Each listed conversation's Grade link, by title."""
    body = page.get_data(as_text=True)
    found = re.findall(
        r'<tr><td>[^<]*</td><td>([^<]*)</td>.*?<a class="button secondary" href="([^"]+)">Grade',
        body,
        re.S,
    )
    return {html.unescape(title): html.unescape(link) for title, link in found}


def save_as_shown(lti, grade_path: str, level: str = "3"):
    """Opens a grade page and saves it as a grader would: a level for every skill, the
    form's hidden fields as the page rendered them."""
    page = get(lti, grade_path)
    assert page.status_code == 200
    form = re.search(r'<form method="post" class="card grade-form".*?</form>', page.text, re.S)
    assert form, "no grade form"
    hidden = dict(re.findall(r'<input[^>]*name="([^"]+)" type="hidden" value="([^"]*)"', form[0]))
    levels = {f"level_{c}": level for c in CRITERIA}
    path = grade_path.split("?", 1)[0]  # the form posts what it holds, not the link
    return post(lti, path, {**hidden, **levels, "comment": "Thanks."})


def heading(page) -> str:
    return html.unescape(re.search(r"<h1>([^<]*)</h1>", page.get_data(as_text=True))[1])


def test_save_and_open_the_next_stays_in_the_filtered_queue(app, lti):
    fill_queue(app, lti)
    wanted = [i for i in range(OURS) if passes(i, level=2, confidence="low")]
    queue = get(lti, "/assessments/queue?skill=empathy&level=2&confidence=low")
    assert numbers(titles(queue)) == wanted
    first = grade_links(queue)[f"Ours {wanted[0]:03d}"]

    # Saved from a filtered queue, the next opened is the next that matches, not the oldest
    # waiting ("Ours 000", suggested level 1): twice, so the next page keeps the filters too.
    path = first
    for expected in wanted[1:3]:
        saved = save_as_shown(lti, path)
        assert saved.status_code == 302
        path = saved.headers["Location"]
        opened = get(lti, path)
        assert heading(opened) == f"Ours {expected:03d}"
        assert passes(expected, level=2, confidence="low")
        breadcrumb = re.search(r'href="([^"]+)">Grading queue</a>', opened.text)[1]
        assert all(f in html.unescape(breadcrumb) for f in ("level=2", "confidence=low"))
    graded = {a.title for a in rows(app, Assessment, Assessment.status == "graded")}
    assert {f"Ours {i:03d}" for i in wanted[:2]} <= graded
    assert "Ours 000" not in graded and "Ours 001" not in graded

    # The last match of page 2 saved: nothing matching follows, so back to page 2 of the
    # filtered queue, which no longer lists it.
    level_two = [i for i in range(OURS) if passes(i, level=2)]
    second_page = get(lti, "/assessments/queue?skill=empathy&level=2&page=2")
    last = f"Ours {level_two[-1]:03d}"
    saved = save_as_shown(lti, grade_links(second_page)[last])
    assert saved.status_code == 302
    back = get(lti, saved.headers["Location"])
    said = text(back)
    assert "Page 2 of 2" in said and "match these filters" in said
    assert last not in titles(back) and titles(back)
    assert all(passes(i, level=2) for i in numbers(titles(back)))

    # A hidden value the queue does not offer (an edited page) is taken as "any": the grade is
    # saved and the conversation after it in the whole queue opens.
    third = f"Ours {level_two[0]:03d}"
    tampered = get(lti, grade_links(get(lti, "/assessments/queue"))[third])
    assert tampered.status_code == 200
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', tampered.text)[1]
    (row,) = rows(app, Assessment, Assessment.title == third)
    levels = {f"level_{c}": "3" for c in CRITERIA}
    saved = post(
        lti,
        f"/assessments/{row.id}/grade",
        {**levels, "csrf_token": token, "level": "9", "confidence": "maybe", "page": "x"},
    )
    assert saved.status_code == 302
    assert heading(get(lti, saved.headers["Location"])) == f"Ours {level_two[0] + 1:03d}"
