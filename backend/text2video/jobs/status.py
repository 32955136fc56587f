"""The one job-status vocabulary shared by the API, the worker and the frontend."""

from enum import Enum


class JobStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)


class JobStage(str, Enum):
    """What a running job is doing now (in pipeline order)."""

    TRANSLATING = "translating"
    EXTRACTING_POSE = "extracting_pose"
    GENERATING = "generating"
    ENCODING = "encoding"
