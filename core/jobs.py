"""Background jobs in the database: long imports and reports run in the worker process
(``flask lms worker``), not in a web request, and any web process can show their progress.

A job is claimed by one worker (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one
writer), reports progress on its own short transactions, and ends done (with a downloadable
result, or a page to go to) or failed (with a message for the person). A job whose worker
died is queued again while it has attempts left.

Packages register what a kind of job does with ``register_job_handler``; an uploaded file
travels to the worker in the database (in chunks), so any worker on any host can run it.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from flask import Flask, current_app
from sqlalchemy import JSON, ForeignKey, LargeBinary, String, Text, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, db, utcnow

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
STALE_AFTER = timedelta(minutes=10)  # no progress for this long: the worker is gone
MAX_ATTEMPTS = 3


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    platform_id: Mapped[int | None] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    title: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    stage: Mapped[str] = mapped_column(String(200), default="Waiting for a worker")
    message: Mapped[str] = mapped_column(Text, default="")  # the outcome, for the person
    details: Mapped[list[str]] = mapped_column(JSON, default=list)  # e.g. every bad row
    result: Mapped[bytes | None] = mapped_column(LargeBinary)
    result_name: Mapped[str] = mapped_column(String(200), default="")
    result_type: Mapped[str] = mapped_column(String(100), default="")
    next_url: Mapped[str] = mapped_column(String(500), default="")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


class JobFile(Base):
    """An uploaded file waiting for its job, in chunks (rows of at most ``CHUNK_BYTES``)."""

    __tablename__ = "job_files"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


@dataclass(frozen=True)
class Outcome:
    message: str
    ok: bool = True
    details: tuple[str, ...] = ()
    result: bytes | None = None
    result_name: str = ""
    result_type: str = ""
    next_url: str = ""


class JobFailed(Exception):
    """A job that cannot go on, with what to tell the person."""

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


Progress = Callable[[int, int, str], None]  # (done, total, stage)
Handler = Callable[[Session, Job, Progress], Outcome]


def register_job_handler(app: Flask, kind: str, handler: Handler) -> None:
    app.extensions.setdefault("job_handlers", {})[kind] = handler


def enqueue(
    session: Session,
    kind: str,
    title: str,
    *,
    platform_id: int | None,
    user_id: int | None,
    params: dict[str, Any] | None = None,
    upload: BinaryIO | None = None,
) -> Job:
    """Queue a job (the caller commits); ``upload`` is stored with it for the worker."""
    job = Job(
        kind=kind, title=title[:200], platform_id=platform_id, user_id=user_id, params=params or {}
    )
    session.add(job)
    session.flush()
    if upload is not None:
        for seq, block in enumerate(iter(lambda: upload.read(CHUNK_BYTES), b"")):
            session.add(JobFile(job_id=job.id, seq=seq, data=block))
    session.flush()
    return job


def job_for(session: Session, job_id: int, *, user_id: int, platform_id: int) -> Job | None:
    """A job, if it is this person's (their own, in their own LMS)."""
    job = session.get(Job, job_id)
    if job is None or job.user_id != user_id or job.platform_id != platform_id:
        return None
    return job


def uploaded_file(session: Session, job: Job) -> BinaryIO:
    """The job's upload as a seekable file (spooled to disk past a few megabytes)."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * CHUNK_BYTES)  # noqa: SIM115 - returned
    for block in session.scalars(
        select(JobFile.data).where(JobFile.job_id == job.id).order_by(JobFile.seq)
    ):
        spool.write(block)
    spool.seek(0)
    return spool  # type: ignore[return-value]


def _claim(session: Session) -> int | None:
    """Take the oldest queued job (or one whose worker stopped reporting), atomically."""
    now = utcnow()
    stale = select(Job).where(Job.status == "running", Job.heartbeat_at < now - STALE_AFTER)
    for abandoned in session.scalars(stale).all():
        if abandoned.attempts < MAX_ATTEMPTS:
            abandoned.status, abandoned.stage = "queued", "Its worker stopped; waiting for another"
        else:
            abandoned.status, abandoned.stage = "failed", "Stopped"
            abandoned.message = f"The job stopped {abandoned.attempts} times without finishing."
    candidate = select(Job.id).where(Job.status == "queued").order_by(Job.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    job_id = session.scalar(candidate)
    if job_id is None:
        session.commit()
        return None
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "queued")
        .values(
            status="running",
            heartbeat_at=now,
            attempts=Job.attempts + 1,
            stage="Starting",
        )
    ).rowcount
    session.commit()
    return job_id if claimed else None


def _report_progress(job_id: int) -> Progress:
    """Progress goes out on its own connection and commits at once, while the job's own
    transaction (an import, say) is still open. SQLite has one writer: once the job's
    transaction writes, progress waits for nothing and is skipped until the job ends."""
    last = [0.0]

    def progress(done: int, total: int, stage: str) -> None:
        now = utcnow()
        if now.timestamp() - last[0] < 0.5 and done < total:
            return
        last[0] = now.timestamp()
        with db.engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            try:
                if sqlite:
                    connection.exec_driver_sql("PRAGMA busy_timeout=0")
                connection.execute(
                    update(Job)
                    .where(Job.id == job_id)
                    .values(done=done, total=total, stage=stage[:200], heartbeat_at=now)
                )
                connection.commit()
            except OperationalError:
                connection.rollback()
                if not sqlite:
                    raise
            finally:
                if sqlite:
                    connection.exec_driver_sql("PRAGMA busy_timeout=10000")
                    connection.commit()

    return progress


def run_one(session: Session) -> bool:
    """Run the next job, if any. Returns whether one ran."""
    job_id = _claim(session)
    if job_id is None:
        return False
    job = session.get(Job, job_id)
    assert job is not None
    handler = current_app.extensions.get("job_handlers", {}).get(job.kind)
    try:
        if handler is None:
            raise JobFailed(f"This kind of job ({job.kind}) is not known to this version.")
        outcome = handler(session, job, _report_progress(job_id))
        session.commit()
    except JobFailed as failed:
        session.rollback()
        outcome = Outcome(str(failed), ok=False, details=tuple(failed.details))
    except Exception:
        session.rollback()
        log.exception("job %s (%s) failed", job_id, job.kind)
        outcome = Outcome("Something went wrong on our side; the job was stopped.", ok=False)
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(
            status="done" if outcome.ok else "failed",
            message=outcome.message,
            details=list(outcome.details)[:1000],
            result=outcome.result,
            result_name=outcome.result_name,
            result_type=outcome.result_type,
            next_url=outcome.next_url,
            finished_at=utcnow(),
            stage="Finished" if outcome.ok else "Stopped",
        )
    )
    session.execute(JobFile.__table__.delete().where(JobFile.job_id == job_id))
    session.commit()
    return True


def run_due_jobs(session: Session, limit: int = 5) -> int:
    ran = 0
    while ran < limit and run_one(session):
        ran += 1
    return ran
