"""One generation request through all four stages: prompt -> pose -> video diffusion -> output files.

Used by `manage.py generate` and by the queue worker alike, so both behave the same. Models load lazily, once
per :class:`Engine` (one Engine per worker process).

Contract (shared by the CLI, the worker and the API):
- :class:`GenerationRequest` holds the user's parameters (validated by :meth:`GenerationRequest.validate`).
- ``Engine.generate(request, out_dir, on_progress=None, should_cancel=None)`` writes into ``out_dir``
  ``skeleton.mp4``, ``keypoints.json`` (raw video input only), ``result.mp4``, ``result.gif``,
  ``side_by_side.mp4`` (each written to a temporary name and renamed when complete) and returns a
  :class:`GenerationResult`.
- ``on_progress(Progress)`` is called at every stage change and every denoising step; ``Progress.info`` carries
  partial results as soon as they exist (``english_prompt``, ``language``, ``pose_summary``, ``files``), so a UI
  can show the skeleton preview while the video is still being generated.
- ``should_cancel()`` is polled at least once per denoising step; when it returns True the engine raises
  :class:`text2video.exceptions.Canceled` and leaves no partial output file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from .jobs.status import JobStage


@dataclass
class GenerationRequest:
    video: Path  # raw video of a person, or a ready-made skeleton video
    prompt: str
    negative_prompt: str | None = None
    lang: str = "auto"  # auto | vi | en
    input_type: str = "auto"  # auto | video | skeleton
    steps: int = 50
    guidance_scale: float = 12.5
    seed: int | None = None  # None = random, the one used is reported
    frames: int | None = None  # generated frames (None = settings.frames, capped by what the video has)
    stride: int = 5  # take every k-th frame of the reference video
    width: int = 512
    height: int = 512
    scheduler: str = "ddim"  # ddim | dpm++
    window: int | None = None  # long videos: frames per context window (None = pipeline default)
    window_overlap: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["video"] = str(self.video)
        return data


@dataclass
class Progress:
    stage: JobStage
    step: int = 0  # denoising step (windows x steps for long videos) within the stage
    total: int = 0
    fraction: float = 0.0  # overall progress of the whole job, 0..1
    eta_s: float | None = None
    message: str = ""
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class GenerationResult:
    files: dict[str, Path]  # name -> path, e.g. {"result.mp4": ..., "result.gif": ..., ...}
    english_prompt: str
    language: str  # detected or forced: vi | en
    seed: int
    frames: int
    fps: float  # output frame rate = source fps / stride
    width: int
    height: int
    input_kind: str  # video | skeleton
    pose_summary: str | None = None
    device: str = ""
    dtype: str = ""
    memory_preset: str = ""
    demo: bool = False  # True when demo (random) weights made this: the video is noise
    warnings: list[str] = field(default_factory=list)


ProgressCallback = Callable[[Progress], None]
CancelCheck = Callable[[], bool]


class Engine:  # implemented in the generation-core work; see module docstring for the contract
    def __init__(self, models_dir: str | Path, *, device: str = "auto", dtype: str = "auto", memory: str = "auto",
                 pose_preset: str = "balanced") -> None:
        raise NotImplementedError

    def generate(self, request: GenerationRequest, out_dir: str | Path, *,
                 on_progress: Optional[ProgressCallback] = None,
                 should_cancel: Optional[CancelCheck] = None) -> GenerationResult:
        raise NotImplementedError
