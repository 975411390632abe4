"""Fault tests: real processes meeting real failures, not mocks.

* ``test_database_restart``: a private PostgreSQL server is stopped and started again while
  threads launch people through gunicorn; answers stay clean 503 pages, service comes back,
  no launch is half written, and the grade worker waits it out.
* ``test_lms_outage``: a real ``flask lms worker`` meets an LMS whose port is closed, whose
  token endpoint and then whose AGS endpoint answer 503; every score arrives once it returns.
* ``test_worker_killed``: a worker is SIGKILLed while the LMS holds its score POST open; a
  second worker completes it and the gradebook holds the score exactly once.
* ``test_instance_folder``: ``flask db upgrade`` and gunicorn started on a read-only or full
  instance folder (a real tmpfs) stop with one line naming the folder and the fix.
* ``test_clock_skew``: launches from a platform whose clock is ahead or behind, at the edges
  of the stated leeway (``LTI_CLOCK_LEEWAY_SECONDS``) and at ±5 minutes.
"""
