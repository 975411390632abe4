"""The LMS's token and AGS endpoints fail for a while: every queued score waits and arrives,
exactly once, when it returns.

Real processes, real failures: a ``flask lms worker`` subprocess (as an operator runs it) sends
to a ``FakeLms`` HTTP server that goes through three outages before it recovers, each met by
the first try of two learners' scores:

1. the LMS is not listening at all: connection refused at its token endpoint;
2. it listens, but the OAuth2 token endpoint answers 503;
3. tokens work again, but the AGS score endpoint answers 503.

The worker keeps every score ``pending`` with its error and retries with its own backoff
(``lms.grades.backoff``: 5 s doubling, with jitter; no setting shortens it, so the test takes
that long). Once the LMS is back, each learner's score is in the gradebook with the outbox's
timestamp, and exactly one score POST per learner was accepted (none twice, none lost).
"""

from __future__ import annotations

import pytest

from tests.processes import Service, wait_for

pytestmark = pytest.mark.slow

OUTAGES = [
    # (learners whose first try meets it, how to switch it on, what the outbox records)
    (("ana", "ben"), {}, "token endpoint unreachable"),
    (("carla", "dev"), {"token_status": 503}, "token endpoint refused: HTTP 503"),
    (("eli", "fay"), {"token_status": 200, "score_status": 503}, "score refused: HTTP 503"),
]


def alive(worker: Service) -> None:
    assert worker.running(), f"the worker exited:\n{worker.tail()}"


def test_scores_wait_for_an_lms_that_is_down_and_all_arrive_once_it_returns(course, start_worker):
    lms = course.lms
    everyone = [sub for subs, _, _ in OUTAGES for sub in subs]
    course.add_learners(*everyone)
    expected = {sub: float(n + 1) for n, sub in enumerate(everyone)}
    worker = start_worker("worker")

    for subs, switch, error in OUTAGES:
        for name, value in switch.items():
            setattr(lms, name, value)
        if switch and not lms.listening:
            lms.up()  # from the second outage on, the LMS listens
        for sub in subs:
            course.enqueue(sub, expected[sub])

        def first_try_failed(subs=subs, error=error) -> bool:
            alive(worker)
            rows = course.deliveries()
            return all(
                rows[s].attempts >= 1
                and rows[s].status == "pending"
                and error in rows[s].last_error
                for s in subs
            )

        wait_for(first_try_failed, f"{subs} to fail with {error!r}", timeout=60)

    assert lms.stored() == {}, "nothing reached the gradebook during the outage"
    lms.score_status = 200  # the LMS is back

    def all_sent() -> bool:
        alive(worker)
        return all(row.status == "sent" for row in course.deliveries().values())

    wait_for(all_sent, "every score to be delivered", timeout=90, interval=0.25)

    rows = course.deliveries()
    assert set(rows) == set(everyone)
    assert lms.stored() == {
        sub: (rows[sub].timestamp.isoformat(timespec="milliseconds"), expected[sub])
        for sub in everyone
    }
    for sub in everyone:
        row = rows[sub]
        assert row.attempts >= 2 and row.last_status == 204, (sub, row.attempts, row.last_error)
        accepted = [post for post in lms.posts_for(sub) if post.answer == 204]
        assert len(accepted) == 1, lms.posts_for(sub)
        assert not [post for post in lms.posts_for(sub) if post.answer == 409]
    # The outages were met as described: tokens refused, scores refused.
    assert 503 in lms.token_answers
    assert {post.user_id for post in lms.posts if post.answer == 503} >= {"eli", "fay"}
    worker.stop()
    assert worker.process.returncode == 0, worker.tail()
    assert "Traceback" not in worker.output()
