"""The outbox: the notifications finished jobs still owe, one :class:`~text2video.jobs.tables.Delivery` row per
(job, kind), and their delivery state.

Kinds: ``webhook`` (the job JSON to the job's ``callback_url``, whatever the outcome) and ``push`` (the first
prototype's result push: the MP4 to ``settings.send_url``, only when the job succeeded). The rows are made with the
job (``scheduled``, :func:`new_deliveries`); the transaction that finishes the job makes them due
(:func:`release`), so no notification is lost when a process restarts. The sender (``text2video.webhooks``) leases
one attempt at a time and records the outcome here.

A table rather than columns per kind on the job row: a second kind is a row, not five more columns and another
schema version, and the state of each kind reads the same way on the job JSON.

States: scheduled -> pending -> delivering (leased) -> delivered | failed (given up) | pending (retry later);
scheduled -> skipped (a push for a job that did not succeed).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, exists, select, update
from sqlalchemy.orm import Session

from .database import Database
from .status import JobStatus
from .tables import Delivery, Job, isoformat, utcnow

WEBHOOK, PUSH = "webhook", "push"
SUCCESS_ONLY = (PUSH,)  # kinds owed only by a succeeded job
WAITING = ("pending", "delivering")  # still owed; "delivering" whose lease ran out is due again


def new_deliveries(urls: dict[str, str | None]) -> list[Delivery]:
    """The outbox rows of a new job: one per kind that has a destination."""
    return [Delivery(kind=kind, url=url, status="scheduled", attempts=0) for kind, url in urls.items() if url]


def release(s: Session, job_id: str, status: JobStatus, now: datetime) -> None:
    """In the transaction that finishes a job: its scheduled deliveries become due (or skipped)."""
    state = "pending" if status == JobStatus.SUCCEEDED else case((Delivery.kind.in_(SUCCESS_ONLY), "skipped"),
                                                                  else_="pending")
    s.execute(update(Delivery).where(Delivery.job_id == job_id, Delivery.status == "scheduled")
              .values(status=state, next_at=now))


def owes_nothing():
    """SQL condition: the job has no delivery still waiting to be sent (it may be deleted)."""
    return ~exists().where(Delivery.job_id == Job.id, Delivery.status.in_(WAITING))


def describe(delivery: Delivery) -> dict:
    """A delivery's state as the job JSON shows it (the destination is not shown: it may be the server's own)."""
    return {"status": delivery.status, "attempts": delivery.attempts, "error": delivery.error,
            "next_attempt_at": isoformat(delivery.next_at) if delivery.status == "pending" else None}


class Outbox:
    """Reads and writes of the delivery rows."""

    def __init__(self, database: Database):
        self.database = database

    def due(self, limit: int = 20) -> list[Delivery]:
        """Deliveries whose next attempt is due, oldest first."""
        query = (select(Delivery).where(Delivery.status.in_(WAITING), Delivery.next_at <= utcnow())
                 .order_by(Delivery.next_at).limit(limit))
        with self.database.session() as s:
            return list(s.scalars(query))

    def lease(self, delivery: Delivery, lease_s: float) -> bool:
        """Take one delivery attempt (several API processes may run dispatchers): conditional on the attempt count
        seen, and pushes ``next_at`` out by ``lease_s`` so a crashed dispatcher's attempt is retried later."""
        with self.database.session() as s:
            return bool(s.execute(update(Delivery).where(*_key(delivery), Delivery.attempts == delivery.attempts,
                                                         Delivery.status.in_(WAITING))
                                  .values(status="delivering", attempts=delivery.attempts + 1,
                                          next_at=utcnow() + timedelta(seconds=lease_s))).rowcount)

    def record(self, delivery: Delivery, status: str, *, next_at: datetime | None = None,
               error: str | None = None) -> None:
        """The outcome of an attempt: delivered, failed (given up), or pending again at ``next_at``."""
        with self.database.session() as s:
            s.execute(update(Delivery).where(*_key(delivery)).values(status=status, next_at=next_at, error=error))


def _key(delivery: Delivery) -> tuple:
    return Delivery.job_id == delivery.job_id, Delivery.kind == delivery.kind


__all__ = ["Outbox", "new_deliveries", "release", "owes_nothing", "describe", "WEBHOOK", "PUSH", "WAITING"]
