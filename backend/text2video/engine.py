"""One generation request through all four stages: prompt -> pose -> video diffusion -> output files.

Used by `manage.py generate` and by the queue worker alike, so both behave the same. Models load lazily, once
per :class:`Engine` (one Engine per worker process).

Contract (shared by the CLI, the worker and the API):
- :class:`text2video.request.GenerationRequest` holds the user's parameters, declared once in
  :mod:`text2video.request` and validated there for every entry point.
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

import logging
import math
import secrets
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Optional

from .devices import cpu_bf16, dtype_name, resolve_device, resolve_dtype
from .exceptions import Canceled, InvalidInput, OutOfMemory
from .messages import Message
from .progress import CancelCheck, JobStage, Progress, ProgressCallback
from .request import GenerationRequest
from .storage import PREVIEW_FILE

log = logging.getLogger(__name__)

# Share of the whole job each stage takes (for Progress.fraction); generation gets what is left. Rough measured
# proportions at the reference settings: the diffusion loop dominates by far.
_STAGE_SHARE = {"translate": 0.02, "pose_skeleton": 0.03, "pose_video": 0.15, "load": 0.04, "encode": 0.04}


def quiet_libraries() -> None:
    """No per-file weight-loading bars or config chatter from diffusers/transformers: progress goes through
    ``on_progress`` (the CLI's bar, the job's progress); in a worker those bars were logged as warnings."""
    try:
        import diffusers
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        diffusers.utils.logging.set_verbosity_error()
        diffusers.utils.logging.disable_progress_bar()
    except (ImportError, AttributeError):
        pass


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


@dataclass
class _Prompts:
    english: str
    language: str  # vi | en
    negative: Optional[str]  # English negative prompt


@dataclass
class _Skeleton:
    frames: Any  # (F, H, W, 3) uint8 at the output size
    fps: float  # output frame rate = source fps / stride
    kind: str  # video | skeleton
    summary: Optional[str]
    note: dict[str, str]  # fps note written into every output file


@dataclass
class _Latents:
    latents: Any
    seed: int
    decode_chunk: int  # VAE frames per decode (from the memory preset)


class _Run:
    """What one ``generate`` call carries between its steps: progress reports (never going backwards), the
    cancel check, the files written so far (removed again if the run fails), warnings and timings."""

    def __init__(self, out_dir: Path, on_progress: Optional[ProgressCallback], should_cancel: Optional[CancelCheck]):
        self.out_dir = out_dir
        self.on_progress, self.should_cancel = on_progress, should_cancel
        self.info: dict[str, Any] = {}
        self.written: list[Path] = []
        self.warnings: list[str] = []
        self.timings: dict[str, float] = {}
        self.fraction = 0.0
        self.started = time.monotonic()

    def report(self, stage: JobStage, fraction: float, message: str, step: int = 0, total: int = 0,
               eta: float | None = None) -> None:
        self.fraction = max(self.fraction, min(1.0, fraction))
        if self.on_progress is not None:
            self.on_progress(Progress(stage=stage, step=step, total=total, fraction=self.fraction, eta_s=eta,
                                      message=message, info=dict(self.info)))

    def check_cancel(self) -> None:
        if self.should_cancel is not None and self.should_cancel():
            raise Canceled("generation canceled by the user", hint="Start a new generation to try again.")

    def add_file(self, name: str, path: Path) -> None:
        self.written.append(path)
        self.info.setdefault("files", {})[name] = str(path)

    def save(self, name: str, writer: Callable[[Path], Any]) -> None:
        """Write ``name`` in out_dir (the writers write a temporary name and rename it when complete)."""
        writer(self.out_dir / name)
        self.add_file(name, self.out_dir / name)

    def discard(self) -> None:
        for path in self.written:
            path.unlink(missing_ok=True)

    def timed(self, name: str, since: float) -> None:
        self.timings[name] = time.monotonic() - since


# ------------------------------------------------------------------------------------------------ engine
class Engine:
    """Runs generation requests; loads the video pipeline (and the translator / pose models) once, lazily.

    ``models_dir``: a models folder (see :mod:`text2video.models.layout`) or ``"demo"`` for the tiny demo weights.
    ``device``: auto | cpu | cuda | cuda:N. ``dtype``: auto | fp32 | fp16 | bf16. ``memory``: auto | high |
    medium | low (memory presets, :mod:`text2video.models.presets`).
    One Engine is used by one job at a time (a worker process runs one job at a time).
    """

    def __init__(self, models_dir: str | Path, *, device: str = "auto", dtype: str = "auto", memory: str = "auto",
                 pose_preset: str = "balanced", settings: Any = None) -> None:
        from .diffusion.pipeline import check_models_dir
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
        self.compile = self._check_compile(self.settings.compile)
        self._compile_told = False  # the first job says what compiling cost (or why it could not)
        self._pipe = None
        self._offloaded = False
        self._prompt_processor = None
        self._lock = threading.Lock()

    @staticmethod
    def _check_compile(mode: str) -> str:
        from .diffusion.compilation import COMPILE_MODES

        if mode not in COMPILE_MODES:
            raise InvalidInput(f"compile mode {mode!r} is not supported", field="compile", value=mode,
                               hint=f"Use one of: {', '.join(COMPILE_MODES)} (--compile / TEXT2VIDEO_COMPILE).")
        return mode

    @property
    def demo(self) -> bool:
        return self.paths.is_demo

    # -- lazily loaded parts -------------------------------------------------------------------------------
    @property
    def pipeline(self):
        """The video pipeline, loaded on first use (once per Engine)."""
        with self._lock:
            if self._pipe is None:
                import torch

                from .diffusion.pipeline import FollowYourPosePipeline

                started = time.monotonic()
                # A preset with model offload loads on the CPU: the GPU may be too small for all the weights.
                preset = self._choose_preset(self.settings.frames, self.settings.width, self.settings.height)
                offload = preset.offload == "model"
                pipe = FollowYourPosePipeline.from_models_dir(
                    self.models_dir, device="cpu" if offload else self.device, torch_dtype=self.dtype)
                pipe.set_progress_bar_config(disable=True)  # progress goes through on_progress
                log.info("video pipeline loaded from %s (%s) in %.1f s", self.models_dir, dtype_name(self.dtype),
                         time.monotonic() - started)
                if self.demo:
                    from .models.demo import DEMO_WARNING

                    log.warning(DEMO_WARNING)
                if self.device.type == "cpu":
                    # oneDNN's convolutions and torch's group norm are faster on channels-last maps: a step of the
                    # full-size UNet took 0.93x the time in bf16, 0.97x in fp32 (bench/unet_step.py, cpu-*-cl).
                    pipe.unet.to(memory_format=torch.channels_last)
                if self.compile != "off":
                    pipe.enable_compile(self.compile, cache_dir=self.settings.compile_cache_dir)
                self._pipe = pipe
                self._offloaded = False
            return self._pipe

    def _choose_preset(self, frames: int, width: int, height: int) -> Any:
        """The memory preset (text2video.models.presets) for this workload."""
        import torch

        from .models.presets import choose_preset

        free_gb = None
        if self.device.type == "cuda":
            free_gb = torch.cuda.mem_get_info(self.device)[0] / 2**30
            if self._pipe is not None and not self._offloaded:
                # What this process already holds (weights, allocator cache) is ours to use as well.
                free_gb += torch.cuda.memory_reserved(self.device) / 2**30
        device = "cpu" if self.device.type == "cpu" else str(self.device)
        return choose_preset(device, free_gb, cpu_bf16()[0], self.memory, frames=frames, width=width,
                             height=height)

    def _apply_memory_preset(self, pipe: Any, frames: int, width: int, height: int,
                             warnings: list[str]) -> int:
        """Switch the pipeline's memory savers for this request; returns the VAE decode chunk size."""
        from .models.presets import apply_preset

        preset = self._choose_preset(frames, width, height)
        offload = preset.offload == "model"
        if not offload:
            if self._offloaded:
                pipe.remove_all_hooks()  # back from model offload to everything on the device
            pipe.to(self.device)  # no-op when already there (loaded on the CPU when offload was expected)
        applied = apply_preset(pipe, preset)
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

    # -- the job: numbered steps, as a diffusers __call__ ----------------------------------------------------
    def generate(self, request: GenerationRequest, out_dir: str | Path, *,
                 on_progress: Optional[ProgressCallback] = None,
                 should_cancel: Optional[CancelCheck] = None, preview: str | Path | None = None) -> GenerationResult:
        """Run one request; see the module docstring for the contract."""
        import torch

        # 0. Check the request (the same rules as the API and the CLI) and its LoRAs' files before any work.
        request.validate(self.settings)
        loras = self._lora_files(request)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        run = _Run(out, on_progress, should_cancel)
        if self.demo:
            from .models.demo import DEMO_WARNING

            run.warnings.append(DEMO_WARNING)
        try:
            prompts = self._translate(request, run)  # 1. the English prompt
            skeleton = self._extract_pose(request, run)  # 2. skeleton frames at the output size
            pipe = self._load(run)  # 3. the video model (once per Engine)
            latents = self._denoise(pipe, request, prompts, skeleton, loras, preview, run)  # 4. video diffusion
            self._encode(pipe, latents, skeleton, run)  # 5. the output files
        except BaseException as exc:
            run.discard()  # nothing half-done is left behind: a failed or canceled job has no output files
            if isinstance(exc, torch.OutOfMemoryError):
                torch.cuda.empty_cache()
                raise OutOfMemory(f"out of GPU memory generating {request.frames or 'the'} frames at "
                                  f"{request.width}x{request.height} on {self.device} (memory preset "
                                  f"{self.memory_preset or 'none'})", field="frames", value=request.frames,
                                  hint="Use --memory low, fewer --frames, or a smaller --width/--height.") from exc
            raise
        run.timings["total"] = time.monotonic() - run.started
        return GenerationResult(
            files={name: Path(p) for name, p in run.info["files"].items() if name != PREVIEW_FILE},
            english_prompt=prompts.english,
            language=prompts.language, seed=latents.seed, frames=len(skeleton.frames), fps=skeleton.fps,
            width=request.width, height=request.height, input_kind=skeleton.kind, pose_summary=skeleton.summary,
            device=str(self.device), dtype=dtype_name(self.dtype), memory_preset=self.memory_preset,
            demo=self.demo, warnings=run.warnings, negative_prompt=prompts.negative, steps=request.steps,
            scheduler=request.scheduler, timings=run.timings)

    def _translate(self, request: GenerationRequest, run: _Run) -> _Prompts:
        """Step 1: the English prompt and negative prompt (translated from Vietnamese when needed)."""
        t0 = time.monotonic()
        run.report(JobStage.TRANSLATING, 0.0, "preparing the prompt")
        texts, fields = [request.prompt], ["prompt"]
        if request.negative_prompt:
            texts.append(request.negative_prompt)
            fields.append("negative_prompt")
        results = self.prompt_processor.process_many(texts, lang=request.lang, fields=fields)
        for res in results:
            run.warnings.extend(w for w in res.warnings if w not in run.warnings)
        prompts = _Prompts(results[0].english, results[0].language,
                           results[1].english if len(results) > 1 else None)
        run.info.update(english_prompt=prompts.english, language=prompts.language, negative_prompt=prompts.negative,
                        prompt_report={res.field: res.to_dict() for res in results})
        run.timed("prompt", t0)
        run.check_cancel()
        return prompts

    def _frames_wanted(self, request: GenerationRequest, video: Any) -> tuple[int, int]:
        """(frames to generate, frames the pose stage must give at least), checked against what the probed
        ``video`` gives before any model runs."""
        from .request import check_frames_available

        available = check_frames_available(request.frames, request.stride, video)
        if request.frames is None:
            return max(1, min(self.settings.frames, available, self.settings.max_output_frames)), 1
        return request.frames, request.frames

    def _extract_pose(self, request: GenerationRequest, run: _Run) -> _Skeleton:
        """Step 2: skeleton frames at the output size, estimated from a raw video or read from a skeleton video
        (the video is probed once, here, and the probe passed on)."""
        import numpy as np

        from . import video as video_io
        from .pose.pipeline import detect_input_kind, prepare_pose_video

        t0 = time.monotonic()
        start = _STAGE_SHARE["translate"]
        share = _STAGE_SHARE["pose_skeleton" if request.input_type == "skeleton" else "pose_video"]
        # reported before the video is read: a video that cannot give the frames fails in this stage, not the last
        run.report(JobStage.EXTRACTING_POSE, start, "preparing the skeleton frames")
        probe = video_io.probe_video(request.video)
        frames, need = self._frames_wanted(request, probe)

        def on_frame(done: int, total: int) -> None:
            run.report(JobStage.EXTRACTING_POSE, start + share * min(1.0, (done + 1) / max(total, 1)),
                       f"pose frame {done + 1}/{total}", done + 1, total)
            run.check_cancel()

        kind = detect_input_kind(request.video, request.input_type)
        pv = prepare_pose_video(request.video, width=request.width, height=request.height, stride=request.stride,
                                max_frames=frames, input_type=kind, models_dir=self.models_dir,
                                preset=self.pose_preset, device="cuda" if self.device.type == "cuda" else "cpu",
                                progress=on_frame, info=probe)
        if len(pv.frames) < need:
            raise InvalidInput(Message("error.too_few_frames", available=len(pv.frames), stride=request.stride,
                                       frames=frames), field="frames", value=frames,
                               hint=Message("hint.too_few_frames"))
        if pv.report is not None:
            run.save("keypoints.json", pv.save_keypoints)
            if getattr(pv.report, "demo", False):
                run.warnings.append(Message("pose.demo_random"))
        fps = float(pv.fps)
        # Output frame rate = source fps / stride, stated in the job (info, result) and in every file.
        note = {"comment": f"{fps:g} fps = source {fps * request.stride:g} fps / stride {request.stride}"}
        skeleton = _Skeleton(np.ascontiguousarray(pv.frames[:frames]), fps, pv.kind, pv.summary, note)
        run.info.update(fps=fps, source_fps=fps * request.stride, stride=request.stride)
        run.save("skeleton.mp4", lambda p: video_io.write_mp4(skeleton.frames, p, fps, metadata=note))
        run.info.update(pose_summary=skeleton.summary, input_kind=skeleton.kind)
        run.timed("pose", t0)
        run.report(JobStage.EXTRACTING_POSE, start + share, f"{len(skeleton.frames)} skeleton frames ready")
        run.check_cancel()
        return skeleton

    def _load(self, run: _Run) -> Any:
        """Step 3: the video pipeline (loaded on the first job of this Engine only)."""
        t0 = time.monotonic()
        if self._pipe is None:
            run.report(JobStage.GENERATING, run.fraction, "loading the video model")
            run.fraction += _STAGE_SHARE["load"]
        pipe = self.pipeline
        run.timed("load", t0)
        return pipe

    @cached_property
    def _preview_decoder(self) -> Any:
        """The models folder's tiny learned preview decoder (``taesd/``), looked for once; None without one."""
        from .diffusion.preview import load_tiny_decoder

        return load_tiny_decoder(self.paths.tiny_decoder, self.device, self.dtype)

    def _live_preview(self, path: str | Path | None, fps: float, run: _Run) -> dict[str, Any]:
        """Pipeline arguments that write the live preview to ``path`` as the video is denoised (none without a
        path, or with ``preview_every_steps`` 0). The first preview joins the run's files (removed if the run
        fails; the worker lists it on the job)."""
        if path is None or self.settings.preview_every_steps <= 0:
            return {}
        from .diffusion.preview import LivePreview

        def on_written(file: Path) -> None:
            if file not in run.written:
                run.add_file(PREVIEW_FILE, file)

        live = LivePreview(Path(path), fps, every_steps=self.settings.preview_every_steps,
                           min_interval_s=self.settings.preview_min_interval_s,
                           max_frames=int(self.settings.gif_max_frames), decoder=self._preview_decoder,
                           on_written=on_written)
        return {"callback_on_step_end": live.on_step_end,
                "callback_on_step_end_tensor_inputs": ("pred_original_sample",)}

    def _lora_files(self, request: GenerationRequest) -> list[tuple[Path, float]]:
        """(file, weight) of each LoRA the request names, checked against this engine's models folder."""
        from .models.loras import check_choices

        return [(file.path, choice.weight) for choice, file in check_choices(request.loras or [], self.models_dir)]

    def _denoise(self, pipe: Any, request: GenerationRequest, prompts: _Prompts, skeleton: _Skeleton,
                 loras: list[tuple[Path, float]], preview: str | Path | None, run: _Run) -> _Latents:
        """Step 4: the denoising loop (in overlapping windows for long videos) -> latents."""
        import torch

        from .diffusion.lora import applied_loras
        from .diffusion.windows import DEFAULT_OVERLAP, DEFAULT_WINDOW, count_windows

        pipe.set_scheduler(request.scheduler)
        frames = len(skeleton.frames)
        window = request.window or DEFAULT_WINDOW
        overlap = request.window_overlap if request.window_overlap is not None else min(DEFAULT_OVERLAP,
                                                                                         window // 3)
        # Progress counts UNet passes: steps x windows (one window unless the video is long).
        passes = request.steps * count_windows(frames, window, overlap)
        # Memory follows the frames denoised at once: one window of a long video.
        decode_chunk = self._apply_memory_preset(pipe, min(frames, window), request.width, request.height,
                                                 run.warnings)
        seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
        run.info["seed"] = seed
        # A CPU generator gives the same noise for the same seed on every device.
        generator = torch.Generator(device="cpu").manual_seed(seed)
        start = run.fraction
        share = 1.0 - _STAGE_SHARE["encode"] - start
        run.check_cancel()
        run.report(JobStage.GENERATING, start, "generating", 0, passes)
        t0 = time.monotonic()

        def on_step(step: int, total: int) -> bool:
            elapsed = time.monotonic() - t0
            run.report(JobStage.GENERATING, start + share * step / total, f"denoising {step}/{total}", step, total,
                       elapsed / step * (total - step))
            run.check_cancel()
            return True

        # LoRAs change the loaded weights for this job only; the exact weights are back after the block.
        with applied_loras(pipe, loras):
            out = pipe(prompts.english, pose=skeleton.frames, video_length=frames, height=request.height,
                       width=request.width, num_inference_steps=request.steps, guidance_scale=request.guidance_scale,
                       negative_prompt=prompts.negative, generator=generator, output_type="latent", callback=on_step,
                       decode_chunk_size=decode_chunk, window_size=window, window_overlap=overlap,
                       anchor_first_frame=request.anchor_first_frame,
                       **self._live_preview(preview, skeleton.fps, run))
        run.timed("generate", t0)
        self._tell_compile_cost(pipe, run)
        return _Latents(out.frames, seed, decode_chunk)

    def _tell_compile_cost(self, pipe: Any, run: _Run) -> None:
        """Once per Engine, on its first job: what compiling the UNet cost, or why it runs eager instead."""
        compiled = pipe.compiled_unet
        if compiled is None or self._compile_told:
            return
        if compiled.failure is not None:
            run.warnings.append(Message("compile.eager_fallback", reason=compiled.failure))
        elif compiled.first_call_s is not None:
            run.warnings.append(Message("compile.first_job", seconds=round(compiled.first_call_s)))
        self._compile_told = True

    def _encode(self, pipe: Any, latents: _Latents, skeleton: _Skeleton, run: _Run) -> None:
        """Step 5: the VAE decodes a chunk of frames at a time and each chunk streams into result.mp4, result.gif
        and side_by_side.mp4 at once (no decoded video held in RAM)."""
        from .diffusion.streaming import decode_to_writers

        t0 = time.monotonic()
        start = 1.0 - _STAGE_SHARE["encode"]
        # step/total stay the denoising counters ("50 of 50"): the job's step fields mean denoising steps
        run.report(JobStage.ENCODING, start, "decoding and writing the video files")
        run.check_cancel()

        def on_chunk(done: int, total: int) -> None:
            elapsed = time.monotonic() - t0
            run.report(JobStage.ENCODING, start + _STAGE_SHARE["encode"] * done / total,
                       f"decoded {done}/{total} frames", eta=elapsed / done * (total - done))
            run.check_cancel()

        gif_max = self.settings.gif_max_frames
        outputs = decode_to_writers(pipe, latents.latents, skeleton.frames, run.out_dir, skeleton.fps,
                                    decode_chunk=latents.decode_chunk, gif_max_frames=gif_max,
                                    metadata=skeleton.note, on_chunk=on_chunk)
        for name, path in outputs.items():
            run.add_file(name, path)
        frames = len(skeleton.frames)
        if frames > gif_max > 0:
            run.warnings.append(Message("video.gif_preview", every=math.ceil(frames / gif_max), frames=frames))
        latents.latents = None  # the decoded video is on disk: free the latents before returning
        run.timed("encode", t0)
        run.report(JobStage.ENCODING, 1.0, "done")


__all__ = ["Engine", "GenerationRequest", "GenerationResult", "Progress", "ProgressCallback", "CancelCheck"]
