"""What the views need, wired once per app with ``init_app``: settings, the job store, the Celery app.

The web process only stores jobs and sends messages; it never loads a model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from ..jobs.store import JobStore
from ..settings import Settings

EXTENSION = "text2video"


@dataclass
class Services:
    settings: Settings
    store: JobStore
    _celery: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def celery(self):
        """The Celery app (created on first use: GET requests never touch the broker)."""
        if self._celery is None:
            with self._lock:
                if self._celery is None:
                    from ..jobs.queue import make_celery
                    self._celery = make_celery(self.settings)
        return self._celery

    def enqueue(self, job_id: str) -> None:
        from ..jobs.queue import enqueue
        enqueue(self.celery, job_id)


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


__all__ = ["Services", "init_app", "services", "get_settings", "get_store"]
