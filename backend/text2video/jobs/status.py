"""The one job-status vocabulary shared by the API, the worker and the frontend (the stage names come from the
engine's :mod:`text2video.progress`)."""

from enum import Enum

from ..progress import JobStage


class JobStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)


__all__ = ["JobStatus", "JobStage"]
