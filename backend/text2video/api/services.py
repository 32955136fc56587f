"""What the views need, wired once per app with ``init_app``: settings, the job store, the Celery app.

The web process only stores jobs and sends messages; it never loads a model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from ..jobs.store import JobStore
from ..jobs.tables import Delivery, Job
from ..settings import Settings

EXTENSION = "text2video"


@dataclass
class Services:
    settings: Settings
    store: JobStore
    _celery: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _read_engine: Any = None
    _read_query: Any = None
    _deliveries_query: Any = None

    def __post_init__(self) -> None:
        # Status polls are the hot path (many clients, a few times a second each). The store opens a fresh SQLite
        # connection per call (safe across the workers' fork); this process never forks, so its reads use a small
        # pool of connections and a Core SELECT instead: several times less work per poll. Reads only - every
        # write goes through the store. (PostgreSQL: the store's engine already pools.)
        url = self.store.database_url
        if url.startswith("sqlite"):
            from sqlalchemy import bindparam, create_engine, event, select
            from sqlalchemy.pool import QueuePool

            engine = create_engine(url, poolclass=QueuePool, pool_size=self.settings.threads, max_overflow=8,
                                   connect_args={"timeout": 30, "check_same_thread": False})

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn, _record):  # noqa: ANN001
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA busy_timeout=30000")
                cur.execute("PRAGMA query_only=1")  # this pool can never write
                cur.close()

            self._read_engine = engine
            table, deliveries = Job.__table__, Delivery.__table__
            self._read_query = select(table).where(table.c.id == bindparam("job_id"))
            self._deliveries_query = (select(deliveries).where(deliveries.c.job_id == bindparam("job_id"))
                                      .order_by(deliveries.c.kind))

    def read_job(self, job_id: str):
        """The job row by id, or None: the fast read path for status polls (a read-only snapshot with the
        :class:`~text2video.jobs.tables.Job` attributes; Core, not the ORM: half the cost)."""
        if self._read_engine is None or not isinstance(job_id, str) or len(job_id) > 64:
            return self.store.get(job_id)
        with self._read_engine.connect() as conn:  # the read transaction ends here: no stale snapshot
            row = conn.execute(self._read_query, {"job_id": job_id}).mappings().first()
            if row is None:
                return None
            return JobSnapshot(row, conn.execute(self._deliveries_query, {"job_id": job_id}).all())

    @property
    def celery(self):
        """The Celery app (created on first use: GET requests never touch the broker)."""
        if self._celery is None:
            with self._lock:
                if self._celery is None:
                    from ..jobs.queue import make_celery
                    self._celery = make_celery(self.settings)
        return self._celery

    def enqueue(self, job_id: str, model: str | None = None) -> None:
        from ..jobs.queue import enqueue
        enqueue(self.celery, job_id, model)


class JobSnapshot:
    """A job row read without the ORM; behaves like a detached :class:`Job` for reading."""

    def __init__(self, row, deliveries) -> None:  # noqa: ANN001 - a RowMapping, Rows of t2v_deliveries
        self.__dict__.update(row)
        self.deliveries = deliveries

    finished = Job.finished
    error = Job.error
    input_path = Job.input_path


def init_app(app: Flask, settings: Settings, *, store: JobStore | None = None, celery_app: Any = None) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if store is None:
        store = JobStore(settings.database_url)
        store.create_tables()
    services = Services(settings=settings, store=store, _celery=celery_app)
    app.extensions[EXTENSION] = services
    return services


def services() -> Services:
    return current_app.extensions[EXTENSION]


def get_settings() -> Settings:
    return services().settings


def get_store() -> JobStore:
    return services().store


__all__ = ["Services", "JobSnapshot", "init_app", "services", "get_settings", "get_store"]
