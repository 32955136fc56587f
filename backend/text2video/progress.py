"""How far a generation is: the stage it is in and the :class:`Progress` reports the engine sends.

The stage names are the job's ``stage`` in the API and the web UI as well (:mod:`text2video.jobs.status`
re-exports :class:`JobStage`), so they live here, below both the engine and the job layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable


class JobStage(str, Enum):
    """What a running job is doing now (in pipeline order)."""

    TRANSLATING = "translating"
    EXTRACTING_POSE = "extracting_pose"
    GENERATING = "generating"
    ENCODING = "encoding"


@dataclass
class Progress:
    stage: JobStage
    step: int = 0  # denoising step (windows x steps for long videos) within the stage
    total: int = 0
    fraction: float = 0.0  # overall progress of the whole job, 0..1
    eta_s: float | None = None
    message: str = ""
    info: dict[str, Any] = field(default_factory=dict)


ProgressCallback = Callable[[Progress], None]
CancelCheck = Callable[[], bool]

__all__ = ["JobStage", "Progress", "ProgressCallback", "CancelCheck"]
