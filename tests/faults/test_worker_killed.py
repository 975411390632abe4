"""A worker is killed (SIGKILL) in the middle of sending a score: the score is neither lost
nor counted twice.

Real processes, real failure: a ``flask lms worker`` subprocess claims two learners' scores
and POSTs the first to a ``FakeLms`` that holds the request open, so the worker is blocked
mid-send when the test kills it with SIGKILL (no handler runs, nothing is written). Two ways
the POST can end, one test each:

* ``store``: the LMS stored the score, but its answer never reached the worker (the worst
  case for duplicates);
* ``drop``: the LMS never processed the request (the worst case for losses).

What the code guarantees (``lms.grades``): claimed rows are ``sending`` under a 60-second
lease, which keeps every other worker away from them; a second worker started at once
delivers new scores but leaves those alone. When the lease ends (the test moves
``lease_until`` into the past rather than wait the 60 seconds) the second worker takes them
over and sends the same body with the same timestamp. A gradebook that already has it
answers 409 as Moodle does, which counts as delivered; so the gradebook ends with each score
exactly once, and the unsent second score of the killed batch arrives too.
"""

from __future__ import annotations

import signal

import pytest

from core.db import utcnow
from tests.processes import Service, wait_for

pytestmark = pytest.mark.slow


def alive(worker: Service) -> None:
    assert worker.running(), f"{worker.name} exited:\n{worker.tail()}"


@pytest.mark.parametrize("held", ["store", "drop"])
def test_a_score_in_flight_when_its_worker_is_killed_arrives_exactly_once(
    course, start_worker, held
):
    lms = course.lms.up()
    course.add_learners("ana", "ben", "carla")
    lms.hold = held
    course.enqueue("ana", 7.0)
    course.enqueue("ben", 8.0)
    first = start_worker("worker-1")

    def held_open() -> bool:
        alive(first)
        return lms.holding.is_set()

    wait_for(held_open, "the worker to be mid-send", timeout=60)
    rows = course.deliveries()
    assert rows["ana"].status == rows["ben"].status == "sending"  # one claimed batch
    assert rows["ana"].lease_until > utcnow()

    first.kill(signal.SIGKILL)
    assert first.process.wait(timeout=10) == -signal.SIGKILL
    lms.release.set()  # the held request ends without an answer to anyone
    assert [p.answer for p in lms.posts_for("ana")] == [None]
    assert lms.stored() == (
        {"ana": (lms.posts_for("ana")[0].timestamp, 7.0)} if held == "store" else {}
    )

    # A second worker delivers new scores at once, but not the killed worker's: leased.
    second = start_worker("worker-2")
    course.enqueue("carla", 9.0)

    def carla_sent() -> bool:
        alive(second)
        return course.deliveries()["carla"].status == "sent"

    wait_for(carla_sent, "the second worker to send a new score", timeout=60)
    rows = course.deliveries()
    assert rows["ana"].status == rows["ben"].status == "sending"
    assert len(lms.posts_for("ana")) == 1 and lms.posts_for("ben") == []

    assert course.end_leases() == 2

    def taken_over() -> bool:
        alive(second)
        return all(row.status == "sent" for row in course.deliveries().values())

    wait_for(taken_over, "the second worker to take the killed worker's scores over")
    rows = course.deliveries()
    timestamp = {sub: row.timestamp.isoformat(timespec="milliseconds") for sub, row in rows.items()}
    assert lms.stored() == {
        "ana": (timestamp["ana"], 7.0),
        "ben": (timestamp["ben"], 8.0),
        "carla": (timestamp["carla"], 9.0),
    }
    ana_posts = lms.posts_for("ana")
    assert [post.timestamp for post in ana_posts] == [timestamp["ana"]] * 2  # the same score
    if held == "store":  # the LMS recognised the resend: one grade, counted as delivered
        assert [post.answer for post in ana_posts] == [None, 409]
        assert rows["ana"].last_status == 409
    else:  # the LMS had nothing: the resend is the delivery
        assert [post.answer for post in ana_posts] == [None, 204]
        assert rows["ana"].last_status == 204
    assert [post.answer for post in lms.posts_for("ben")] == [204]
    second.stop()
    assert "Traceback" not in second.output()
