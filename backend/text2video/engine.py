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
- ``preview=PATH`` writes a live preview GIF of the video being denoised there every few steps (settings
  ``preview_every_steps``, ``preview_min_interval_s``; see :mod:`text2video.diffusion.preview`), listed in
  ``Progress.info["files"]`` as ``preview.gif``. It stays after success (the last estimate) and is removed on
  failure or cancel; it is not one of the result's files.
"""

from __future__ import annotations

import importlib
import logging
import math
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Optional

from .exceptions import Canceled, DeviceError, InvalidInput, OutOfMemory, Text2VideoError
from .jobs.status import JobStage
from .storage import PREVIEW_FILE

log = logging.getLogger(__name__)

LANGS = ("auto", "vi", "en")
INPUT_TYPES = ("auto", "video", "skeleton")
SCHEDULERS = ("ddim", "dpm++")
DTYPES = ("auto", "fp32", "fp16", "bf16")

# Share of the whole job each stage takes (for Progress.fraction); generation gets what is left. Rough measured
# proportions at the reference settings: the diffusion loop dominates by far.
_STAGE_SHARE = {"translate": 0.02, "pose_skeleton": 0.03, "pose_video": 0.15, "load": 0.04, "encode": 0.04}


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
    anchor_first_frame: bool = True  # long videos: every window attends to the video's frame 0 (one identity)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["video"] = str(self.video)
        return data

    def validate(self, max_frames: int | None = None) -> "GenerationRequest":
        """Check every field; raises :class:`InvalidInput` naming the field, the value and the fix."""
        def bad(name: str, message: str, hint: str) -> InvalidInput:
            return InvalidInput(message, field=name, value=getattr(self, name), hint=hint)

        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise bad("prompt", f"prompt is empty ({self.prompt!r})", "Describe the character and the scene.")
        if self.negative_prompt is not None and not isinstance(self.negative_prompt, str):
            raise bad("negative_prompt", "negative_prompt must be text", "Pass text or leave it out.")
        if self.lang not in LANGS:
            raise bad("lang", f"lang {self.lang!r} is not supported", f"Use one of: {', '.join(LANGS)}.")
        if self.input_type not in INPUT_TYPES:
            raise bad("input_type", f"input_type {self.input_type!r} is not supported",
                      f"Use one of: {', '.join(INPUT_TYPES)}.")
        if self.scheduler not in SCHEDULERS:
            raise bad("scheduler", f"scheduler {self.scheduler!r} is not supported",
                      f"Use one of: {', '.join(SCHEDULERS)}.")
        if not _is_int(self.steps) or self.steps <= 0:
            raise bad("steps", f"steps must be a positive integer, got {self.steps!r}",
                      "Use e.g. 50 with ddim or 25 with dpm++.")
        if not isinstance(self.guidance_scale, (int, float)) or isinstance(self.guidance_scale, bool) \
                or not (0 <= self.guidance_scale <= 50):
            raise bad("guidance_scale", f"guidance_scale must be between 0 and 50, got {self.guidance_scale!r}",
                      "Use e.g. 12.5; 1 turns guidance off.")
        if self.seed is not None and (not _is_int(self.seed) or not 0 <= self.seed < 2**63):
            raise bad("seed", f"seed must be an integer >= 0, got {self.seed!r}", "Use e.g. 42, or leave it out.")
        if self.frames is not None and (not _is_int(self.frames) or self.frames <= 0):
            raise bad("frames", f"frames must be a positive integer, got {self.frames!r}", "Use e.g. 24.")
        if self.frames is not None and max_frames is not None and self.frames > max_frames:
            raise bad("frames", f"frames {self.frames} is over the limit of {max_frames} output frames "
                      "(setting max_output_frames)",
                      f"Ask for at most {max_frames} frames: raise the stride (fewer frames per second of source, "
                      f"output fps = source fps / stride), or trim the video to a shorter length; an operator can "
                      f"raise TEXT2VIDEO_MAX_OUTPUT_FRAMES.")
        if not _is_int(self.stride) or self.stride <= 0:
            raise bad("stride", f"stride must be a positive integer, got {self.stride!r}",
                      "Use 5 (every 5th frame, as Follow-Your-Pose) or 1 for every frame.")
        for name in ("width", "height"):
            value = getattr(self, name)
            if not _is_int(value) or value <= 0 or value % 64:
                near = max(64, int(round(value / 64)) * 64) if _is_int(value) and value > 0 else 512
                raise bad(name, f"{name} must be a positive multiple of 64, got {value!r}", f"Use e.g. {near}.")
        if self.window is not None and (not _is_int(self.window) or self.window < 2):
            raise bad("window", f"window must be an integer >= 2, got {self.window!r}",
                      "Use e.g. 24 frames per window, or leave it out.")
        if self.window_overlap is not None:
            limit = self.window if self.window is not None else 24
            if not _is_int(self.window_overlap) or not 0 <= self.window_overlap < limit:
                raise bad("window_overlap", f"window_overlap must be >= 0 and below the window ({limit}), got "
                          f"{self.window_overlap!r}", f"Use e.g. {limit // 3}.")
        if not isinstance(self.anchor_first_frame, bool):
            raise bad("anchor_first_frame", f"anchor_first_frame must be true or false, got "
                      f"{self.anchor_first_frame!r}", "Use true (one identity across windows) or false.")
        video = Path(self.video)
        if not video.exists():
            raise bad("video", f"video file not found: {str(video)!r}", "Check the path.")
        if not video.is_file():
            raise bad("video", f"not a file: {str(video)!r}", "Give the path of a video file.")
        return self


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
    negative_prompt: str | None = None  # English negative prompt used
    steps: int = 0
    scheduler: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage


ProgressCallback = Callable[[Progress], None]
CancelCheck = Callable[[], bool]


# --------------------------------------------------------------------------------------------- device/dtype
def cpu_supports_bf16() -> bool:
    """Native bf16 matmuls on this CPU (AVX512-BF16 or AMX); emulated bf16 is slower than fp32."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    import torch

    # Elsewhere (macOS, Windows) go by what oneDNN reports for this CPU.
    capability = str(torch.backends.cpu.get_cpu_capability()).upper()
    return "AVX512" in capability and bool(getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)())


def resolve_device(device: str | None) -> "Any":
    """auto -> cuda when available, else cpu; an explicit cuda without CUDA is a DeviceError (no fallback)."""
    import torch

    from .diffusion.pipeline import check_device

    name = (device or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    return check_device(name)


def resolve_dtype(dtype: str | None, device: Any) -> "Any":
    """auto -> fp16 on CUDA, bf16 on a CPU with native bf16, else fp32. fp16 on CPU is refused (slow, and
    several CPU kernels lack it)."""
    import torch

    name = (dtype or "auto").strip().lower()
    if name not in DTYPES:
        raise DeviceError(f"dtype {dtype!r} is not supported", field="dtype", value=dtype,
                          hint=f"Use one of: {', '.join(DTYPES)}.")
    if name == "auto":
        if device.type == "cuda":
            return torch.float16
        return torch.bfloat16 if device.type == "cpu" and cpu_supports_bf16() else torch.float32
    if name == "fp16" and device.type == "cpu":
        raise DeviceError("dtype fp16 is not supported on the CPU", field="dtype", value=dtype,
                          hint="Use --dtype bf16 (fast on CPUs with AVX512-BF16/AMX) or fp32.")
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[name]


def dtype_name(dtype: Any) -> str:
    return {"torch.float32": "fp32", "torch.float16": "fp16", "torch.bfloat16": "bf16"}.get(str(dtype), str(dtype))


def _optional(module: str) -> Any:
    """A sibling stage module, or None while it is not part of this build."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name) or exc.name == module:
            return None
        raise


def check_models_dir(models_dir: str | Path) -> None:
    """ModelsMissing naming what the video pipeline lacks in ``models_dir`` and the command that fetches it."""
    from .diffusion.pipeline import check_models_dir as check

    check(models_dir)


# ------------------------------------------------------------------------------------------------ engine
class Engine:
    """Runs generation requests; loads the video pipeline (and the translator / pose models) once, lazily.

    ``models_dir``: a models folder (see :mod:`text2video.models.layout`) or ``"demo"`` for the tiny demo weights.
    ``device``: auto | cpu | cuda | cuda:N. ``dtype``: auto | fp32 | fp16 | bf16. ``memory``: auto | high |
    medium | low (memory presets, applied when :mod:`text2video.models.presets` is present).
    One Engine is used by one job at a time (a worker process runs one job at a time).
    """

    def __init__(self, models_dir: str | Path, *, device: str = "auto", dtype: str = "auto", memory: str = "auto",
                 pose_preset: str = "balanced", settings: Any = None) -> None:
        from .models.demo import resolve_models_dir
        from .models.layout import POSE_PRESETS, ModelPaths
        from .settings import Settings

        if pose_preset not in POSE_PRESETS:
            raise InvalidInput(f"pose preset {pose_preset!r} is not supported", field="pose_preset",
                               value=pose_preset, hint=f"Use one of: {', '.join(POSE_PRESETS)}.")
        self.settings = settings if settings is not None else Settings.load()
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.models_dir = resolve_models_dir(models_dir)
        self.paths = ModelPaths(self.models_dir)
        check_models_dir(self.models_dir)  # fail before any work, not after the pose stage
        self.memory = memory
        self.memory_preset = ""
        self.pose_preset = pose_preset
        self._pipe = None
        self._offloaded = False
        self._prompt_processor = None
        self._lock = threading.Lock()

    @property
    def demo(self) -> bool:
        return self.paths.is_demo

    # -- lazily loaded parts -------------------------------------------------------------------------------
    @property
    def pipeline(self):
        """The video pipeline, loaded on first use (once per Engine)."""
        with self._lock:
            if self._pipe is None:
                from .diffusion.pipeline import FollowYourPosePipeline

                started = time.monotonic()
                # A preset with model offload loads on the CPU: the GPU may be too small for all the weights.
                preset = self._choose_preset(self.settings.frames, self.settings.width, self.settings.height)
                offload = preset is not None and preset.offload == "model"
                pipe = FollowYourPosePipeline.from_models_dir(
                    self.models_dir, device="cpu" if offload else self.device, torch_dtype=self.dtype)
                pipe.set_progress_bar_config(disable=True)  # progress goes through on_progress
                log.info("video pipeline loaded from %s (%s) in %.1f s", self.models_dir, dtype_name(self.dtype),
                         time.monotonic() - started)
                if self.demo:
                    from .models.demo import DEMO_WARNING

                    log.warning(DEMO_WARNING)
                self._pipe = pipe
                self._offloaded = False
            return self._pipe

    def _choose_preset(self, frames: int, width: int, height: int) -> Any:
        """The memory preset (text2video.models.presets) for this workload, or None without that module."""
        presets = _optional("text2video.models.presets")
        if presets is None or not hasattr(presets, "choose_preset"):
            return None
        import torch

        free_gb = None
        if self.device.type == "cuda":
            free_gb = torch.cuda.mem_get_info(self.device)[0] / 2**30
            if self._pipe is not None and not getattr(self, "_offloaded", False):
                # What this process already holds (weights, allocator cache) is ours to use as well.
                free_gb += torch.cuda.memory_reserved(self.device) / 2**30
        device = "cpu" if self.device.type == "cpu" else str(self.device)
        return presets.choose_preset(device, free_gb, cpu_supports_bf16(), self.memory, frames=frames,
                                     width=width, height=height)

    def _apply_memory_preset(self, pipe: Any, frames: int, width: int, height: int,
                             warnings: list[str]) -> int:
        """Switch the pipeline's memory savers for this request; returns the VAE decode chunk size."""
        preset = self._choose_preset(frames, width, height)
        if preset is None:
            self.memory_preset = ""
            return 8
        presets = _optional("text2video.models.presets")
        offload = preset.offload == "model"
        if not offload:
            if self._offloaded:
                pipe.remove_all_hooks()  # back from model offload to everything on the device
            pipe.to(self.device)  # no-op when already there (loaded on the CPU when offload was expected)
        applied = presets.apply_preset(pipe, preset)
        self._offloaded = offload
        self.memory_preset = preset.name
        log.info("memory preset %s: %s", preset.name, ", ".join(applied) or "nothing to switch")
        if preset.warning and not self.demo:  # (the CPU-speed warning is about the real model)
            warnings.append(preset.warning)
        return int(preset.decode_chunk_size or 8)

    @property
    def prompt_processor(self):
        if self._prompt_processor is None:
            from .prompt.processor import PromptProcessor

            # T5 overflows in fp16: the prompt stage picks its own dtype ("auto": fp32 or bf16).
            self._prompt_processor = PromptProcessor(self.models_dir, device=str(self.device), dtype="auto",
                                                     max_chars=self.settings.prompt_max_chars)
        return self._prompt_processor

    # -- stages ----------------------------------------------------------------------------------------------
    def _prompts(self, request: GenerationRequest, warnings: list[str]) -> tuple[str, str, Optional[str], dict]:
        """(english prompt, language, english negative prompt or None, report for Progress.info)."""
        texts = [request.prompt]
        fields = ["prompt"]
        if request.negative_prompt and request.negative_prompt.strip():
            texts.append(request.negative_prompt)
            fields.append("negative_prompt")
        if _optional("text2video.prompt.processor") is None:
            # Prompt stage not in this build: English passes through; Vietnamese cannot be translated.
            if request.lang == "vi":
                raise InvalidInput("Vietnamese prompts need the prompt stage (text2video.prompt), which is not part "
                                   "of this build", field="lang", value=request.lang,
                                   hint="Write the prompt in English, or use --lang en.")
            english = [" ".join(t.split()) for t in texts]
            return english[0], "en", english[1] if len(english) > 1 else None, {}
        results = self.prompt_processor.process_many(texts, lang=request.lang, fields=fields)
        for res in results:
            warnings.extend(w for w in res.warnings if w not in warnings)
        report = {res.field: res.to_dict() for res in results}
        negative = results[1].english if len(results) > 1 else None
        return results[0].english, results[0].language, negative, report

    def _frames_wanted(self, request: GenerationRequest) -> tuple[int, bool]:
        """(frames to generate, whether the user asked for exactly that many). Checked against what the video
        gives before any model runs."""
        from .video import probe_video, sampled_frame_count

        info = probe_video(request.video)
        available = sampled_frame_count(info, request.stride)
        if request.frames is not None:
            if info.frame_count_exact and available < request.frames:
                raise InvalidInput(f"the video gives only {available} frames with stride {request.stride} "
                                   f"({info.frame_count} frames in all); {request.frames} were asked for",
                                   field="frames", value=request.frames,
                                   hint=f"Ask for at most {available} frames, lower the stride, or use a longer "
                                   "video.")
            return request.frames, True
        return max(1, min(self.settings.frames, available, self.settings.max_output_frames)), False

    def _pose(self, request: GenerationRequest, frames: int, exact: bool, save: Callable,
              progress: Callable[[int, int], None], warnings: list[str]) -> tuple[Any, float, str, Optional[str]]:
        """(skeleton frames (F, H, W, 3) uint8 at the output size, their fps, input kind, pose summary)."""
        from .video import probe_video, read_frames

        need = frames if exact else 1
        pose_mod = _optional("text2video.pose.pipeline")
        if pose_mod is None:
            # Pose stage not in this build: only ready-made skeleton videos can be used.
            if request.input_type == "video":
                raise InvalidInput("raw (non-skeleton) video input needs the pose stage (text2video.pose), which "
                                   "is not part of this build", field="video", value=str(request.video),
                                   hint="Pass a ready-made skeleton video (black background, coloured limbs).")
            if request.input_type == "auto":
                warnings.append("input kind detection (pose stage) is not part of this build: the video is "
                                "used as a skeleton video")
            info = probe_video(request.video)
            skeleton = read_frames(request.video, stride=request.stride, max_frames=frames,
                                   size=(request.width, request.height), min_frames=need)
            return skeleton, info.fps / request.stride, "skeleton", None

        kind = pose_mod.detect_input_kind(request.video, request.input_type)
        pose_device = "cuda" if self.device.type == "cuda" else "cpu"
        pv = pose_mod.prepare_pose_video(request.video, width=request.width, height=request.height,
                                         stride=request.stride, max_frames=frames, input_type=kind,
                                         models_dir=self.models_dir, preset=self.pose_preset, device=pose_device,
                                         progress=progress)
        if len(pv.frames) < need:
            raise InvalidInput(f"the video gives only {len(pv.frames)} frames with stride {request.stride}; "
                               f"{frames} were asked for", field="frames", value=frames,
                               hint="Ask for fewer frames, lower the stride, or use a longer video.")
        if pv.report is not None:
            save("keypoints.json", pv.save_keypoints)
            if getattr(pv.report, "demo", False):
                warnings.append("DEMO pose models (random): the skeleton does not follow the person.")
        return pv.frames, pv.fps, pv.kind, pv.summary

    @cached_property
    def _preview_decoder(self) -> Any:
        """The models folder's tiny learned preview decoder (``taesd/``), looked for once; None without one."""
        from .diffusion.preview import load_tiny_decoder

        return load_tiny_decoder(self.paths.tiny_decoder, self.device, self.dtype)

    def _live_preview(self, path: str | Path | None, fps: float, info: dict[str, Any], written: list[Path]
                      ) -> dict[str, Any]:
        """Pipeline arguments that write the live preview to ``path`` as the video is denoised (none without a
        path, or with ``preview_every_steps`` 0). The first preview joins ``written`` (removed if the run fails)
        and ``info["files"]`` (the worker lists it on the job)."""
        if path is None or self.settings.preview_every_steps <= 0:
            return {}
        from .diffusion.preview import LivePreview

        def on_written(file: Path) -> None:
            if file not in written:
                written.append(file)
                info.setdefault("files", {})[PREVIEW_FILE] = str(file)

        live = LivePreview(Path(path), fps, every_steps=self.settings.preview_every_steps,
                           min_interval_s=self.settings.preview_min_interval_s,
                           max_frames=int(self.settings.gif_max_frames), decoder=self._preview_decoder,
                           on_written=on_written)
        return {"callback_on_step_end": live.on_step_end,
                "callback_on_step_end_tensor_inputs": ("pred_original_sample",)}

    # -- the job ---------------------------------------------------------------------------------------------
    def generate(self, request: GenerationRequest, out_dir: str | Path, *,
                 on_progress: Optional[ProgressCallback] = None,
                 should_cancel: Optional[CancelCheck] = None, preview: str | Path | None = None) -> GenerationResult:
        """Run one request; see the module docstring for the contract."""
        import numpy as np
        import torch

        from . import video as video_io

        request.validate(max_frames=self.settings.max_output_frames)
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        timings: dict[str, float] = {}
        warnings: list[str] = []
        info: dict[str, Any] = {}
        written: list[Path] = []  # completed files of this run, removed again if the run fails
        demo = self.demo
        if demo:
            from .models.demo import DEMO_WARNING

            warnings.append(DEMO_WARNING)
        state = {"fraction": 0.0}

        def report(stage: JobStage, fraction: float, message: str, step: int = 0, total: int = 0,
                   eta: float | None = None) -> None:
            state["fraction"] = max(state["fraction"], min(1.0, fraction))  # never goes backwards
            if on_progress is not None:
                on_progress(Progress(stage=stage, step=step, total=total, fraction=state["fraction"], eta_s=eta,
                                     message=message, info=dict(info)))

        def check_cancel() -> None:
            if should_cancel is not None and should_cancel():
                raise Canceled("generation canceled by the user", hint="Start a new generation to try again.")

        def save(name: str, writer: Callable[[Path], Any]) -> Path:
            """Write ``name`` in out_dir (the writers write a temporary name and rename it when complete)."""
            final = out_dir / name
            writer(final)
            written.append(final)
            info.setdefault("files", {})[name] = str(final)
            return final

        try:
            # 1. Prompt stage: the English prompt (translated from Vietnamese when needed).
            t0 = time.monotonic()
            report(JobStage.TRANSLATING, 0.0, "preparing the prompt")
            english, language, negative, prompt_report = self._prompts(request, warnings)
            info.update(english_prompt=english, language=language, negative_prompt=negative)
            if prompt_report:
                info["prompt_report"] = prompt_report
            timings["prompt"] = time.monotonic() - t0
            check_cancel()

            # 2. Pose stage: skeleton frames at the output size (estimated from a raw video, or read and
            #    resized from a skeleton video).
            t0 = time.monotonic()
            frames, exact = self._frames_wanted(request)
            pose_from = _STAGE_SHARE["translate"]
            pose_share = _STAGE_SHARE["pose_skeleton" if request.input_type == "skeleton" else "pose_video"]
            report(JobStage.EXTRACTING_POSE, pose_from, "preparing the skeleton frames")

            def pose_progress(done: int, total: int) -> None:
                report(JobStage.EXTRACTING_POSE, pose_from + pose_share * min(1.0, (done + 1) / max(total, 1)),
                       f"pose frame {done + 1}/{total}", done + 1, total)
                check_cancel()

            skeleton, fps, kind, pose_summary = self._pose(request, frames, exact, save, pose_progress, warnings)
            frames = min(frames, len(skeleton))
            skeleton = np.ascontiguousarray(skeleton[:frames])
            fps = float(fps)
            # Output frame rate = source fps / stride, stated in the job (info, result) and in every file.
            info.update(fps=fps, source_fps=fps * request.stride, stride=request.stride)
            fps_note = {"comment": f"{fps:g} fps = source {fps * request.stride:g} fps / stride {request.stride}"}
            save("skeleton.mp4", lambda p: video_io.write_mp4(skeleton, p, fps, metadata=fps_note))
            info.update(pose_summary=pose_summary, input_kind=kind)
            timings["pose"] = time.monotonic() - t0
            gen_from = pose_from + pose_share
            report(JobStage.EXTRACTING_POSE, gen_from, f"{frames} skeleton frames ready")
            check_cancel()

            # 3. Video diffusion (the model loads once per Engine, on first use).
            t0 = time.monotonic()
            if self._pipe is None:
                report(JobStage.GENERATING, gen_from, "loading the video model")
                gen_from += _STAGE_SHARE["load"]
            pipe = self.pipeline
            timings["load"] = time.monotonic() - t0
            pipe.set_scheduler(request.scheduler)
            from .diffusion.windows import DEFAULT_OVERLAP, DEFAULT_WINDOW, count_windows

            window = request.window or DEFAULT_WINDOW
            overlap = request.window_overlap if request.window_overlap is not None else min(DEFAULT_OVERLAP,
                                                                                             window // 3)
            # Progress counts UNet passes: steps x windows (one window unless the video is long).
            passes = request.steps * count_windows(frames, window, overlap)
            # Memory follows the frames denoised at once: one window of a long video.
            decode_chunk = self._apply_memory_preset(pipe, min(frames, window), request.width, request.height,
                                                     warnings)
            seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
            info["seed"] = seed
            # A CPU generator gives the same noise for the same seed on every device.
            generator = torch.Generator(device="cpu").manual_seed(seed)
            gen_share = 1.0 - _STAGE_SHARE["encode"] - gen_from
            check_cancel()
            report(JobStage.GENERATING, gen_from, "generating", 0, passes)
            t0 = time.monotonic()

            def on_step(step: int, total: int) -> bool:
                elapsed = time.monotonic() - t0
                report(JobStage.GENERATING, gen_from + gen_share * step / total, f"denoising {step}/{total}",
                       step, total, elapsed / step * (total - step))
                check_cancel()
                return True

            out = pipe(english, pose=skeleton, video_length=frames, height=request.height, width=request.width,
                       num_inference_steps=request.steps, guidance_scale=float(request.guidance_scale),
                       negative_prompt=negative, generator=generator, output_type="latent", callback=on_step,
                       decode_chunk_size=decode_chunk, window_size=window, window_overlap=overlap,
                       anchor_first_frame=request.anchor_first_frame,
                       **self._live_preview(preview, fps, info, written))
            latents = out.frames
            del out
            timings["generate"] = time.monotonic() - t0

            # 4. Output files: the VAE decodes a chunk of frames at a time and each chunk streams into
            #    result.mp4, result.gif and side_by_side.mp4 at once (no decoded video held in RAM).
            from .diffusion.streaming import decode_to_writers

            t0 = time.monotonic()
            enc_from = 1.0 - _STAGE_SHARE["encode"]
            # step/total stay the denoising counters ("50 of 50"): the job's step fields mean denoising steps
            report(JobStage.ENCODING, enc_from, "decoding and writing the video files")
            check_cancel()

            def on_chunk(done: int, total: int) -> None:
                elapsed = time.monotonic() - t0
                report(JobStage.ENCODING, enc_from + _STAGE_SHARE["encode"] * done / total,
                       f"decoded {done}/{total} frames", eta=elapsed / done * (total - done))
                check_cancel()

            gif_max = int(getattr(self.settings, "gif_max_frames", 96))
            outputs = decode_to_writers(pipe, latents, skeleton, out_dir, fps, decode_chunk=decode_chunk,
                                        gif_max_frames=gif_max, metadata=fps_note, on_chunk=on_chunk)
            for name, path in outputs.items():
                written.append(path)
                info.setdefault("files", {})[name] = str(path)
            if frames > gif_max > 0:
                warnings.append(f"result.gif is a preview with 1 frame in {math.ceil(frames / gif_max)} of the "
                                f"{frames}; result.mp4 has them all")
            del latents
            timings["encode"] = time.monotonic() - t0
            timings["total"] = time.monotonic() - started
            report(JobStage.ENCODING, 1.0, "done")
        except BaseException as exc:
            # Nothing half-done is left behind: a failed or canceled job has no output files.
            for path in written:
                path.unlink(missing_ok=True)
            if isinstance(exc, torch.OutOfMemoryError):
                torch.cuda.empty_cache()
                raise OutOfMemory(f"out of GPU memory generating {request.frames or 'the'} frames at "
                                  f"{request.width}x{request.height} on {self.device} (memory preset "
                                  f"{self.memory_preset or 'none'})", field="frames", value=request.frames,
                                  hint="Use --memory low, fewer --frames, or a smaller --width/--height.") from exc
            raise

        return GenerationResult(
            files={name: Path(p) for name, p in info["files"].items() if name != PREVIEW_FILE},
            english_prompt=english, language=language,
            seed=seed, frames=frames, fps=fps, width=request.width, height=request.height, input_kind=kind,
            pose_summary=pose_summary, device=str(self.device), dtype=dtype_name(self.dtype),
            memory_preset=self.memory_preset, demo=demo, warnings=warnings, negative_prompt=negative,
            steps=request.steps, scheduler=request.scheduler, timings=timings)


__all__ = ["Engine", "GenerationRequest", "GenerationResult", "Progress", "ProgressCallback", "CancelCheck",
           "cpu_supports_bf16", "resolve_device", "resolve_dtype", "Text2VideoError"]
