"""The Celery app: configuration, and sending a job to the workers.

The web process only *sends* messages (by task name; it never imports torch or loads a model); workers started by
``manage.py worker`` consume them. Each model family has its own queue (``t2v.<family>``, :func:`queue_for`): a
worker consumes only the queues of the families whose weights it has (:func:`worker_queues`), so a GPU box with
only one family never takes another's job. A message carries only the job id: the job row is the truth, and the
task claims the job with a conditional UPDATE, so a message delivered twice (re-enqueue after a restart, broker redelivery)
runs the job once.

Brokers: the default is kombu's SQLAlchemy transport on a SQLite file in the data folder (nothing to install, one
machine); ``TEXT2VIDEO_BROKER_URL=redis://host:6379/0`` to spread workers over several machines. That SQLite
transport never redelivers an unacknowledged message, so recovering a dead worker's job does not rely on the broker:
the worker supervisor and the reaper (``text2video.jobs.worker``) re-enqueue it from the job row.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from kombu.utils.url import maybe_sanitize_url

from ..exceptions import ServiceUnavailable
from ..families import FAMILIES, family_for, installed_families, queue_name
from ..settings import Settings, sqlite_file
from .store import JobStore

log = logging.getLogger(__name__)

TASK_NAME = "text2video.run_job"
SQLA_POLL_S = 0.25  # how often an idle worker looks at the SQLite queue (kombu's default is 1 s)
_SQLA_ALIAS = "t2vsqla"  # our subclass of kombu's SQLAlchemy transport, so the poll interval can be set


def _sqla_transport():
    """kombu's SQLAlchemy transport, except that it accepts ``polling_interval`` (kombu hands every transport
    option to ``create_engine``, which refuses unknown keys). Registered under an alias because a ``sqla+`` URL
    always selects kombu's own class."""
    from kombu.transport import TRANSPORT_ALIASES
    from kombu.transport import sqlalchemy as kombu_sqla
    from sqlalchemy import create_engine

    class Channel(kombu_sqla.Channel):
        def _engine_from_config(self):
            client = self.connection.client
            options = {k: v for k, v in client.transport_options.items() if k in ("connect_args", "pool_size",
                                                                                   "max_overflow", "pool_recycle")}
            return create_engine(client.hostname, **options)

    class Transport(kombu_sqla.Transport):
        pass

    Transport.Channel = Channel
    TRANSPORT_ALIASES.setdefault(_SQLA_ALIAS, f"{__name__}:SQLATransport")
    return Transport


SQLATransport = _sqla_transport()


def celery_config(settings: Settings) -> dict[str, Any]:
    broker_url = settings.broker_url
    if broker_url.startswith("sqla+"):
        # No visibility timeout: that transport never redelivers. SQLite: wait for the lock instead of failing
        # when the API and a worker write at the same time.
        broker_url = f"{_SQLA_ALIAS}+{broker_url[len('sqla+'):]}"
        transport_options: dict[str, Any] = {"polling_interval": SQLA_POLL_S}
        if "sqlite" in broker_url:
            transport_options["connect_args"] = {"timeout": 30}
    else:
        # A message taken but not acknowledged comes back only after this long (Redis); above the longest job so
        # a slow job is never handed to a second worker while the first is still on it.
        transport_options = {"visibility_timeout": int(settings.job_timeout_s) + 3600}
    return {
        "broker_url": broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": transport_options,
        "result_backend": None,
        "task_ignore_result": True,  # the job row is the result
        "task_acks_late": True,  # acknowledge after the job ran: a crash mid-job leaves the message un-acked
        "task_reject_on_worker_lost": True,  # ... and a killed worker's message goes back to the queue (Redis)
        "worker_prefetch_multiplier": 1,  # take one job at a time, never hoard the queue
        "worker_concurrency": 1,  # one job at a time per GPU
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "task_default_queue": queue_for(settings.default_model, settings),
        "task_serializer": "json",
        "accept_content": ["json"],
        "broker_pool_limit": 4,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "enable_utc": True,
    }


def make_celery(settings: Settings) -> Celery:
    """The Celery app for ``settings`` (same function in the web process and the workers)."""
    broker_file = sqlite_file(settings.broker_url)
    if broker_file is not None:
        broker_file.parent.mkdir(parents=True, exist_ok=True)
    app = Celery("text2video", set_as_current=False)
    app.conf.update(celery_config(settings))
    app.conf.text2video_settings = settings  # the task reads its settings from here
    return app


def queue_for(model: str | None, settings: Settings) -> str:
    """The queue of a job of ``model`` (None, e.g. a row older than models: the settings' default model)."""
    try:
        return queue_name(family_for(model or settings.default_model)[0])
    except KeyError:  # an unknown name fails on the worker with a clear message; its family's queue is the default's
        return queue_name(next(iter(FAMILIES.values())))


def worker_families(settings: Settings) -> list[str]:
    """The families a worker with these settings serves: those whose weights are in its models folder (``demo``:
    all of them). An engine factory (tests, embedding) or a folder with no family's weights takes every family:
    its jobs then fail with the engine's own message instead of waiting forever."""
    from ..models.layout import models_root

    families = [] if settings.engine_factory else installed_families(models_root(settings.models_dir))
    return [f.name for f in (families or FAMILIES.values())]


def worker_queues(settings: Settings) -> list[str]:
    """The queues a worker with these settings consumes (one per family it serves)."""
    return [queue_name(name) for name in worker_families(settings)]


def enqueue(celery_app: Celery, job_id: str, model: str | None = None) -> None:
    """Send job ``job_id`` (already stored as ``queued``) to its family's queue. Raises ServiceUnavailable when the
    broker cannot be reached (the API answers 503 and the job stays queued; ``serve`` re-enqueues queued jobs at
    start)."""
    queue = queue_for(model, celery_app.conf.text2video_settings)
    try:
        celery_app.send_task(TASK_NAME, args=[job_id], queue=queue, ignore_result=True,
                             retry=True, retry_policy={"max_retries": 3, "interval_start": 0.2,
                                                       "interval_step": 0.5, "interval_max": 2})
    except Exception as exc:  # noqa: BLE001 - any kombu/redis/sqlalchemy connection error
        shown = maybe_sanitize_url(celery_app.conf.broker_url)
        raise ServiceUnavailable(f"the job queue ({shown}) is unreachable: {exc}",
                                 hint="Check TEXT2VIDEO_BROKER_URL (Redis running?) and retry.") from exc


def requeue_queued(celery_app: Celery, store: JobStore) -> int:
    """Send a message again for every job stored as ``queued`` (at ``serve`` start: a crash between storing a job
    and sending its message must not lose it). Duplicates are harmless: only one delivery can claim a job."""
    count = 0
    for job_id, model in store.queued_models():
        enqueue(celery_app, job_id, model)
        count += 1
    return count


def purge_delivered_messages(settings: Settings, older_than_s: float = 86400.0) -> int:
    """The SQLAlchemy transport keeps every delivered message (``visible = false``) forever; delete those older
    than a day (run hourly by the reaper). No-op for other brokers. Returns how many rows went."""
    url = settings.broker_url
    if not url.startswith("sqla+"):
        return 0
    from datetime import datetime, timedelta

    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url[len("sqla+"):], connect_args={"timeout": 30} if "sqlite" in url else {})
    try:
        if not inspect(engine).has_table("kombu_message"):
            return 0
        # kombu's column "timestamp" is set (naive local time, datetime.now()) when a message is taken
        limit = datetime.now() - timedelta(seconds=older_than_s)
        with engine.begin() as conn:
            return conn.execute(text('DELETE FROM kombu_message WHERE visible = :false AND "timestamp" < :limit'),
                                {"false": False, "limit": limit}).rowcount or 0
    finally:
        engine.dispose()


__all__ = ["make_celery", "enqueue", "requeue_queued", "purge_delivered_messages", "celery_config", "TASK_NAME",
           "queue_for", "worker_queues", "worker_families"]
