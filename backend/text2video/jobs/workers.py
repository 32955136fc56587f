"""The worker registry: one row per worker name, refreshed by its supervisor's heartbeat.

``/health`` reports the live workers from here without a broker round trip (the SQLite broker has no broadcast
channel for ``celery inspect ping``). Also the words users see when a worker died under their job.
"""

from __future__ import annotations

import signal
from datetime import timedelta

from sqlalchemy import select

from ..messages import Message
from .database import Database
from .tables import WorkerRecord, utcnow

LIVE_WITHIN_S = 20.0  # 3 heartbeat intervals + 5 s


class WorkerRegistry:
    """Reads and writes of worker rows."""

    def __init__(self, database: Database):
        self.database = database

    def heartbeat(self, name: str, *, hostname: str = "", pid: int | None = None, device: str | None = None,
                  models: str | None = None, current_job: str | None = None, stopped: bool = False) -> None:
        now = utcnow()
        with self.database.session() as s:
            rec = s.get(WorkerRecord, name)
            if rec is None:
                s.add(WorkerRecord(name=name, hostname=hostname, pid=pid, device=device, models=models,
                                   current_job=current_job, started_at=now, heartbeat_at=now, stopped=stopped))
            else:
                rec.hostname, rec.pid, rec.current_job, rec.heartbeat_at, rec.stopped = (hostname, pid, current_job,
                                                                                          now, stopped)
                rec.device = device or rec.device
                rec.models = models or rec.models

    def live(self, within_s: float = LIVE_WITHIN_S) -> list[WorkerRecord]:
        """Workers not stopped whose heartbeat is younger than ``within_s``, by name."""
        limit = utcnow() - timedelta(seconds=within_s)
        with self.database.session() as s:
            return list(s.scalars(select(WorkerRecord).where(WorkerRecord.heartbeat_at >= limit,
                                                             WorkerRecord.stopped.is_(False))
                                  .order_by(WorkerRecord.name)))


def describe_exit(exit_code: int | None) -> Message:
    """"worker lost (exit code -9 = SIGKILL, possibly out of memory)" - the message users see."""
    if exit_code is None:
        return Message("job.exit_unknown")
    if exit_code < 0:
        try:
            return Message("job.exit_signal", code=exit_code, signal=signal.Signals(-exit_code).name)
        except ValueError:
            pass
    return Message("job.exit", code=exit_code)


__all__ = ["WorkerRegistry", "describe_exit", "LIVE_WITHIN_S"]
