"""Jobs: the store (source of truth), the Celery queue and the worker that runs generations."""

from .status import JobStage, JobStatus

__all__ = ["JobStatus", "JobStage"]
