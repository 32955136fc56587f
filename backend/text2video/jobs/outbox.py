"""The webhook outbox: which finished jobs still owe their ``callback_url`` a notification, and its delivery state.

It lives in the job table (``webhook_*`` columns): the UPDATE that finishes a job also marks its webhook
``pending`` (:func:`enters_outbox`), so no notification is lost when a process restarts. The sender
(``text2video.webhooks``) leases one attempt at a time and records the outcome here.

Delivery states: None (no callback) | pending | delivering (leased) | delivered | failed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, select, update

from .database import Database
from .tables import Job, utcnow

WAITING = ("pending", "delivering")  # still owed; "delivering" whose lease ran out is due again
DONE = ("delivered", "failed")


def enters_outbox():
    """The ``webhook_status`` value for the UPDATE that finishes a job: pending when it has a callback URL."""
    return case((Job.callback_url.is_not(None), "pending"), else_=None)


class WebhookOutbox:
    """Reads and writes of the webhook columns of job rows."""

    def __init__(self, database: Database):
        self.database = database

    def due(self, limit: int = 20) -> list[Job]:
        """Jobs whose next delivery attempt is due, oldest first."""
        query = (select(Job).where(Job.webhook_status.in_(WAITING), Job.webhook_next_at <= utcnow())
                 .order_by(Job.webhook_next_at).limit(limit))
        with self.database.session() as s:
            return list(s.scalars(query))

    def lease(self, job_id: str, attempts: int, lease_s: float) -> bool:
        """Take one delivery attempt (several API processes may run dispatchers): conditional on the attempt count
        seen, and pushes ``webhook_next_at`` out by ``lease_s`` so a crashed dispatcher's attempt is retried later."""
        now = utcnow()
        with self.database.session() as s:
            return bool(s.execute(update(Job).where(Job.id == job_id, Job.webhook_attempts == attempts,
                                                    Job.webhook_status.in_(WAITING))
                                  .values(webhook_status="delivering", webhook_attempts=attempts + 1,
                                          webhook_next_at=now + timedelta(seconds=lease_s))).rowcount)

    def record(self, job_id: str, status: str, *, next_at: datetime | None = None, error: str | None = None) -> None:
        """The outcome of an attempt: delivered, failed (given up), or pending again at ``next_at``."""
        with self.database.session() as s:
            s.execute(update(Job).where(Job.id == job_id).values(webhook_status=status, webhook_next_at=next_at,
                                                                 webhook_error=error))


__all__ = ["WebhookOutbox", "enters_outbox", "WAITING", "DONE"]
