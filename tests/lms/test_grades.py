"""Grade passback through the outbox to the development platform's AGS endpoints, over real
HTTP, including a platform that fails on purpose."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from sqlalchemy import func, select, update

from core.db import db, utcnow
from lms import grades
from lms.devplatform.models import DevAccessToken, DevFault, DevScore
from lms.models import AccessToken, GradeDelivery, Platform, ResourceLink
from lms.platform_client import PlatformClient, scores_url
from people.models import User
from tests.lti import csrf_token_for, page_text


@pytest.fixture
def launched(app, lti):
    """A learner launched the demo activity: the link knows its AGS endpoints."""
    assert lti.launch("learner").status_code == 303
    with app.app_context():
        user = db.session.scalar(select(User).where(User.sub == "dev-learner-1"))
        link = db.session.scalar(select(ResourceLink))
        ids = user.id, link.id
        db.session.remove()
    return ids


def enqueue(app, ids, score=7.0, **kwargs):
    with app.app_context():
        row = grades.enqueue_score(
            db.session,
            user_id=ids[0],
            resource_link_id=ids[1],
            score_given=score,
            score_maximum=10.0,
            **kwargs,
        )
        db.session.commit()
        return row.id if row else None


def drain(app, rounds=5):
    with app.app_context():
        client = PlatformClient(db.session)
        for _ in range(rounds):
            grades.deliver_due(db.session, client)
        db.session.remove()


def make_due(app):
    with app.app_context():
        db.session.execute(update(GradeDelivery).values(next_attempt_at=utcnow()))
        db.session.commit()


def delivery(app, delivery_id):
    with app.app_context():
        row = db.session.get(GradeDelivery, delivery_id)
        db.session.expunge(row)
        return row


def platform_scores(app):
    with app.app_context():
        rows = db.session.scalars(select(DevScore).order_by(DevScore.id)).all()
        db.session.expunge_all()
        return rows


def faults(app, endpoint, *statuses):
    with app.app_context():
        db.session.add_all(DevFault(endpoint=endpoint, status=s) for s in statuses)
        db.session.commit()


def test_scores_url_keeps_the_query_string():
    assert scores_url("http://m/mod/lti/services.php/2/lineitems/2/lineitem?type_id=1") == (
        "http://m/mod/lti/services.php/2/lineitems/2/lineitem/scores?type_id=1"
    )


def test_score_reaches_the_gradebook_with_every_field(app, launched):
    delivery_id = enqueue(app, launched, comment="Well handled")
    drain(app)
    assert delivery(app, delivery_id).status == "sent"
    [score] = platform_scores(app)
    assert (score.user_id, score.score_given, score.score_maximum) == ("dev-learner-1", 7.0, 10.0)
    assert (score.activity_progress, score.grading_progress) == ("Completed", "FullyGraded")
    assert score.comment == "Well handled"


def test_the_same_result_is_queued_once(app, launched):
    first = enqueue(app, launched, source="courses:completion:1")
    second = enqueue(app, launched, source="courses:completion:1")
    assert first == second
    drain(app)
    assert len(platform_scores(app)) == 1


def test_server_errors_and_rate_limits_are_retried_until_delivered(app, launched):
    faults(app, "scores", 503, 500, 429)
    delivery_id = enqueue(app, launched)
    for expected_attempts in (1, 2, 3):
        drain(app, rounds=1)
        row = delivery(app, delivery_id)
        assert (row.status, row.attempts) == ("pending", expected_attempts)
        assert row.next_attempt_at > utcnow()  # backing off
        make_due(app)
    drain(app, rounds=1)
    assert delivery(app, delivery_id).status == "sent"
    assert len(platform_scores(app)) == 1


def test_token_endpoint_down_keeps_the_score(app, launched):
    faults(app, "token", 503)
    delivery_id = enqueue(app, launched)
    drain(app, rounds=1)
    assert delivery(app, delivery_id).status == "pending"
    assert "token endpoint" in delivery(app, delivery_id).last_error
    make_due(app)
    drain(app, rounds=1)
    assert delivery(app, delivery_id).status == "sent"


def test_expired_token_is_replaced_and_the_score_sent(app, launched):
    enqueue(app, launched, score=5.0)
    drain(app)
    with app.app_context():  # the platform forgets every token it issued
        db.session.execute(DevAccessToken.__table__.delete())
        db.session.commit()
    delivery_id = enqueue(app, launched, score=6.0)
    drain(app, rounds=2)
    row = delivery(app, delivery_id)
    assert row.status == "sent" and row.attempts == 2 and row.last_status == 204
    assert [s.score_given for s in platform_scores(app)] == [5.0, 6.0]


def test_client_error_fails_with_the_platform_answer_and_can_be_retried(app, launched):
    faults(app, "scores", 400)
    delivery_id = enqueue(app, launched)
    drain(app)
    row = delivery(app, delivery_id)
    assert row.status == "failed" and row.last_status == 400
    assert "injected failure 400" in row.last_error
    with app.app_context():
        link_deployment = db.session.get(GradeDelivery, delivery_id).deployment_id
        assert grades.retry(db.session, delivery_id, link_deployment) is not None
        db.session.commit()
    drain(app)
    assert delivery(app, delivery_id).status == "sent"


def test_conflict_for_an_already_delivered_score_counts_as_delivered(app, launched):
    delivery_id = enqueue(app, launched)
    drain(app)
    with app.app_context():  # as if the worker died after the LMS stored it
        db.session.execute(update(GradeDelivery).values(status="pending"))
        db.session.commit()
    drain(app)
    row = delivery(app, delivery_id)
    assert row.status == "sent" and row.last_status == 409
    assert len(platform_scores(app)) == 1


def test_worker_killed_mid_send_leaves_a_lease_another_worker_completes(app, launched):
    delivery_id = enqueue(app, launched)
    with app.app_context():
        assert grades.claim_due(db.session, 10) == [delivery_id]  # ... and the worker dies
        assert grades.claim_due(db.session, 10) == []  # the lease holds
        db.session.execute(update(GradeDelivery).values(lease_until=utcnow() - timedelta(1)))
        db.session.commit()
    drain(app)
    assert delivery(app, delivery_id).status == "sent"
    assert len(platform_scores(app)) == 1


def test_no_send_starts_that_could_outlive_its_lease(app, launched):
    """Otherwise another worker takes the row over when the lease ends and sends it too."""
    delivery_id = enqueue(app, launched)
    leases = []
    with app.app_context():
        client = PlatformClient(db.session, timeout=(40, 40))  # a send may take 160 s > LEASE
        post_score = client.post_score

        def watched(*args, **kwargs):
            with db.engine.connect() as conn:
                lease = conn.scalar(
                    select(GradeDelivery.lease_until).where(GradeDelivery.id == delivery_id)
                )
            leases.append(lease - utcnow())
            return post_score(*args, **kwargs)

        client.post_score = watched
        assert grades.deliver_due(db.session, client) == 1
        db.session.remove()
    assert delivery(app, delivery_id).status == "sent"
    assert len(leases) == 1 and leases[0] > timedelta(seconds=160)  # room for the whole send


def test_a_worker_asks_the_database_for_its_token_once(app, launched):
    enqueue(app, launched, score=5.0)
    with app.app_context():
        client = PlatformClient(db.session)
        grades.deliver_due(db.session, client)
        db.session.execute(AccessToken.__table__.delete())  # not read again ...
        db.session.commit()
        enqueue(app, launched, score=6.0)
        grades.deliver_due(db.session, client)
        db.session.remove()
    with app.app_context():  # ... and no second token was requested
        assert db.session.scalar(select(func.count()).select_from(DevAccessToken)) == 1
    assert [s.score_given for s in platform_scores(app)] == [5.0, 6.0]


def test_pending_manual_is_never_sent_after_a_grade(app, launched):
    assert enqueue(app, launched, grading_progress="PendingManual", score=0.0) is not None
    drain(app)
    enqueue(app, launched, score=8.0)
    drain(app)
    assert enqueue(app, launched, grading_progress="PendingManual", score=0.0) is None
    drain(app)
    assert [s.grading_progress for s in platform_scores(app)] == ["PendingManual", "FullyGraded"]
    assert platform_scores(app)[-1].score_given == 8.0


def test_scores_for_one_person_go_in_order_a_second_apart(app, launched):
    enqueue(app, launched, score=3.0)
    drain(app)
    for score in (4.0, 5.0, 6.0):
        enqueue(app, launched, score=score)
    drain(app)
    received = platform_scores(app)
    assert [s.score_given for s in received] == [3.0, 6.0]  # 4 and 5 were superseded
    gap = received[1].timestamp - received[0].timestamp
    assert gap >= timedelta(seconds=1)
    with app.app_context():
        statuses = db.session.scalars(select(GradeDelivery.status).order_by(GradeDelivery.id))
        assert list(statuses) == ["sent", "superseded", "superseded", "sent"]


def test_link_without_lineitem_uses_the_platform_line_items(app, launched):
    with app.app_context():
        db.session.execute(update(ResourceLink).values(ags_lineitem_url=None))
        db.session.commit()
    delivery_id = enqueue(app, launched)
    drain(app)
    assert delivery(app, delivery_id).status == "sent"
    with app.app_context():
        assert "/lineitems/" in db.session.scalar(select(ResourceLink.ags_lineitem_url))


def test_bad_scores_are_refused_before_queueing(app, launched):
    with pytest.raises(grades.GradeError):
        enqueue(app, launched, score=11.0)
    with pytest.raises(grades.GradeError):
        enqueue(app, launched, grading_progress="Done")


def test_several_workers_share_the_outbox_without_duplicates(app, live, lti):
    """Forty learners, one score each, four workers at once: every score arrives once."""
    assert lti.launch("learner").status_code == 303
    with app.app_context():
        link = db.session.scalar(select(ResourceLink))
        for n in range(40):
            user = User(platform_id=link.platform_id, sub=f"agent-{n}", name=f"Agent {n}")
            db.session.add(user)
            db.session.flush()
            grades.enqueue_score(
                db.session,
                user_id=user.id,
                resource_link_id=link.id,
                score_given=n % 10,
                score_maximum=10,
            )
        db.session.commit()
        db.session.remove()

    def work():
        with app.app_context():
            client = PlatformClient(db.session, requests.Session())
            while grades.deliver_due(db.session, client, limit=5):
                pass
            db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    received = platform_scores(app)
    assert sorted(s.user_id for s in received) == sorted(f"agent-{n}" for n in range(40))
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(GradeDelivery.status == "sent")) == 40


def test_trainer_sees_failed_scores_and_sends_them_again(app, lti, launched):
    faults(app, "scores", 422)
    delivery_id = enqueue(app, launched)
    drain(app)
    page = lti.launch_and_follow("trainer")
    grades_page = lti.client.get(lti.tool_base + "/lms/grades")
    text = page_text(grades_page)
    assert "Lena Learner" in text and "Failed" in text and "HTTP 422" in text
    response = lti.client.post(
        lti.tool_base + f"/lms/grades/{delivery_id}/retry",
        data={"csrf_token": csrf_token_for(app, lti.client)},
    )
    assert response.status_code == 302
    assert delivery(app, delivery_id).status == "pending"
    drain(app)
    assert "Delivered" in page_text(lti.client.get(lti.tool_base + "/lms/grades"))
    assert page.status_code == 200


@pytest.mark.parametrize("persona", ["learner", "manager"])
def test_grade_deliveries_are_for_staff_only(lti, persona, launched):
    lti.launch_and_follow(persona)
    assert lti.client.get(lti.tool_base + "/lms/grades").status_code == 403


def test_trainer_of_another_course_sees_none_of_these_scores(app, lti, launched):
    enqueue(app, launched)
    other = lti.resign(
        lti.pending("trainer"),
        lambda c: {
            **c,
            "https://purl.imsglobal.org/spec/lti/claim/context": {"id": "elsewhere"},
            "https://purl.imsglobal.org/spec/lti/claim/resource_link": {"id": "link-elsewhere"},
        },
    )
    assert lti.post_launch(other).status_code == 303
    text = page_text(lti.client.get(lti.tool_base + "/lms/grades"))
    assert "Lena Learner" not in text


class SlowLms(BaseHTTPRequestHandler):
    """A gradebook that answers tokens at once and scores after ``delay`` seconds."""

    delay = 2.0
    received: list[dict] = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.startswith("/token"):
            payload = json.dumps({"access_token": "slow-token", "expires_in": 3600}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        time.sleep(type(self).delay)
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()


def test_slow_lms_times_out_and_the_score_waits_for_it(app, launched):
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowLms)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    SlowLms.received, SlowLms.delay = [], 2.0
    try:
        with app.app_context():
            link = db.session.get(ResourceLink, launched[1])
            link.ags_lineitem_url = base + "/lineitems/1/lineitem"
            platform = db.session.get(Platform, link.platform_id)
            platform.auth_token_url = base + "/token"
            db.session.commit()
        delivery_id = enqueue(app, launched)
        with app.app_context():
            client = PlatformClient(db.session, timeout=(1, 0.5))
            grades.deliver_due(db.session, client)
            row = db.session.get(GradeDelivery, delivery_id)
            assert (row.status, row.attempts) == ("pending", 1)
            assert "timed out" in row.last_error
            SlowLms.delay = 0.0
            db.session.execute(update(GradeDelivery).values(next_attempt_at=utcnow()))
            db.session.commit()
            grades.deliver_due(db.session, client)
            assert db.session.get(GradeDelivery, delivery_id).status == "sent"
            db.session.remove()
        # The LMS may have stored the first, timed-out try as well; it carries the same
        # timestamp, so a real LMS keeps one grade (Moodle answers 409 to the second).
        assert {s["timestamp"] for s in SlowLms.received} == {
            delivery(app, delivery_id).timestamp.isoformat(timespec="milliseconds")
        }
    finally:
        server.shutdown()
