"""Jobs: the job database (source of truth), the Celery queue and the worker that runs generations.

One noun a module; each imports only modules listed below it::

    worker      supervisor and reaper (recovery, retention) -> tasks, queue, retention, store, workers, tables
    tasks       the Celery task: one job on a worker         -> queue, store, tables (and the engine)
    retention   old finished jobs go, row and files          -> store (and text2video.storage)
    queue       the Celery app, sending a job                -> store
    store       job rows: create, claim, progress, finish (each one conditional UPDATE) -> outbox, workers
    outbox      webhook delivery state of finished jobs      -> database
    workers     the worker registry (heartbeats)             -> database
    fields      the job JSON's fields and their schema       -> tables
    database    the connection, table creation               -> tables
    tables      the SQLAlchemy rows                          -> status
    status      JobStatus, JobStage

Nothing here imports ``text2video.api``; URLs are made there (``api.links``).
"""

from .status import JobStage, JobStatus

__all__ = ["JobStatus", "JobStage"]
