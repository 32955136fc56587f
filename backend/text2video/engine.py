"""One generation request through all four stages: prompt -> pose -> video model -> output files.

The request's ``model`` picks the family (:mod:`text2video.families`): the engine does what every family shares
(0 check, 1 prompt, 2 pose keypoints drawn in the family's style, then the output files, progress, cancel and
clean-up) and hands steps 3-5 to that family's runner, which yields the decoded video chunk by chunk.

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
from pathlib import Path
from typing import Any, Callable, Optional

from .devices import dtype_name, resolve_device, resolve_dtype
from .exceptions import Canceled, InvalidInput, ModelConfigError, ModelsMissing, OutOfMemory
from .families import Family, RunInputs, Runner, family_for, installed_families, load
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
    model: str = ""  # the model (variant) that made it


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
    """Runs generation requests; loads each model's runner (and the translator / pose models) once, lazily.

    ``models_dir``: a models folder (see :mod:`text2video.models.layout`) or ``"demo"`` for the tiny demo weights.
    ``device``: auto | cpu | cuda | cuda:N. ``dtype``: auto | fp32 | fp16 | bf16. ``memory``: auto | high |
    medium | low (memory presets, :mod:`text2video.models.presets`).
    One Engine is used by one job at a time (a worker process runs one job at a time). The request's ``model``
    picks the runner (:mod:`text2video.families`); the engine does what every family shares: the prompt, the
    pose keypoints drawn in the family's style, the output files, progress, cancel and clean-up.
    """

    def __init__(self, models_dir: str | Path, *, device: str = "auto", dtype: str = "auto", memory: str = "auto",
                 pose_preset: str = "", settings: Any = None) -> None:
        from .models.demo import resolve_models_dir
        from .models.layout import POSE_PRESETS, ModelPaths
        from .settings import Settings

        if pose_preset and pose_preset not in POSE_PRESETS:
            raise InvalidInput(f"pose preset {pose_preset!r} is not supported", field="pose_preset",
                               value=pose_preset, hint=f"Use one of: {', '.join(POSE_PRESETS)}.")
        self.settings = settings if settings is not None else Settings.load()
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)  # the default model's; each model's: dtype_for
        self._dtype_setting = dtype
        self.models_dir = resolve_models_dir(models_dir)
        self.paths = ModelPaths(self.models_dir)
        self.memory = memory
        self.pose_preset = pose_preset
        self._runners: dict[str, Runner] = {}
        self._last_runner: Runner | None = None
        self._prompt_processor = None
        self._lock = threading.Lock()
        self.runner(self._first_model())  # fail before any work (a folder without the weights), not after the pose

    def _first_model(self) -> str:
        """The default model when its weights are here, else the first model that has them (else the default:
        its runner then says what is missing)."""
        default, here = self.settings.default_model, self.models
        return default if default in here or not here else here[0]

    @property
    def models(self) -> list[str]:
        """The model names this engine can run (their weights are in its folder)."""
        return [v.name for f in installed_families(self.models_dir) for v in f.variants
                if v.installed(self.models_dir)]

    @property
    def demo(self) -> bool:
        return self.paths.is_demo

    @property
    def memory_preset(self) -> str:
        """The memory preset of the last run."""
        return self._last_runner.memory_preset if self._last_runner is not None else ""

    def runner(self, model: str | None = None) -> Runner:
        """The runner of ``model`` (default: the settings'), made on first use; its weights load on first run."""
        model = model or self.settings.default_model
        with self._lock:
            if model not in self._runners:
                try:
                    family, variant = family_for(model)
                except KeyError:
                    raise InvalidInput(f"model {model!r} is not known", field="model", value=model,
                                       hint="GET /api/v1/models lists the models.") from None
                self._ensure_demo(family, variant)
                self._runners[model] = family.load_runner()(
                    self.models_dir, variant, device=self.device, dtype=self.dtype_for(family), settings=self.settings,
                    memory=self.memory)
            return self._runners[model]

    def dtype_for(self, family: Family) -> Any:
        """The torch dtype ``family``'s runner gets: the ``dtype`` setting, with what ``auto`` means for that model
        on CUDA (``Family.cuda_dtype``)."""
        return resolve_dtype(self._dtype_setting, self.device, family.cuda_dtype)

    def _ensure_demo(self, family: Family, variant: Any) -> None:
        """A demo folder builds a family's own demo weights the first time that family runs."""
        if self.demo and family.demo is not None and not (self.models_dir / variant.folder).exists():
            from .models.demo import ensure_demo_part

            ensure_demo_part(self.models_dir, variant.folder, load(family.demo))

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

        # 0. Check the request (the same rules as the API and the CLI), its model and its LoRAs before any work.
        request.validate(self.settings)
        family = family_for(request.model)[0]
        runner = self._last_runner = self.runner(request.model)
        loras, lora_notes = self._lora_files(request)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        run = _Run(out, on_progress, should_cancel)
        run.warnings.extend(lora_notes)
        if self.demo:
            from .models.demo import DEMO_WARNING

            run.warnings.append(DEMO_WARNING)
        try:
            prompts = self._translate(request, family, run)  # 1. the prompt the model reads
            skeleton = self._extract_pose(request, family, run)  # 2. pose frames in the family's style
            self._load(runner, run)  # 3. the video model (once per runner)
            # 4. the model makes the video, 5. its frames stream into the output files
            self._make_video(runner, family, request, prompts, skeleton, loras, preview, run)
        except BaseException as exc:
            run.discard()  # nothing half-done is left behind: a failed or canceled job has no output files
            if isinstance(exc, torch.OutOfMemoryError):
                torch.cuda.empty_cache()
                raise OutOfMemory(f"out of GPU memory generating {request.frames or 'the'} frames at "
                                  f"{request.width}x{request.height} on {self.device} (memory preset "
                                  f"{runner.memory_preset or 'none'})", field="frames", value=request.frames,
                                  hint="Use --memory low, fewer --frames, or a smaller --width/--height.") from exc
            raise
        run.timings["total"] = time.monotonic() - run.started
        return GenerationResult(
            files={name: Path(p) for name, p in run.info["files"].items() if name != PREVIEW_FILE},
            english_prompt=prompts.english,
            language=prompts.language, seed=run.info["seed"], frames=len(skeleton.frames), fps=skeleton.fps,
            width=request.width, height=request.height, input_kind=skeleton.kind, pose_summary=skeleton.summary,
            device=str(self.device), dtype=dtype_name(runner.dtype), memory_preset=runner.memory_preset,
            demo=self.demo, warnings=run.warnings, negative_prompt=prompts.negative, steps=request.steps,
            scheduler=request.scheduler or "", timings=run.timings, model=request.model)

    def _translate(self, request: GenerationRequest, family: Family, run: _Run) -> _Prompts:
        """Step 1: the prompt and negative prompt the model reads (Vietnamese translated to English unless the
        request's ``translate`` is false)."""
        t0 = time.monotonic()
        run.report(JobStage.TRANSLATING, 0.0, "preparing the prompt")
        texts, fields = [request.prompt], ["prompt"]
        if request.negative_prompt:
            texts.append(request.negative_prompt)
            fields.append("negative_prompt")
        from .prompt.clip_tokens import CLIP_MAX_TOKENS

        # the prompt stage counts CLIP's tokens; a model with another text encoder counts its own (its runner)
        results = self.prompt_processor.process_many(texts, lang=request.lang, fields=fields,
                                                     translate=request.translate is not False,
                                                     count_clip_tokens=family.prompt_tokens == CLIP_MAX_TOKENS)
        for res in results:
            run.warnings.extend(w for w in res.warnings if w not in run.warnings)
        prompts = _Prompts(results[0].english, results[0].language,
                           results[1].english if len(results) > 1 else None)
        run.info.update(english_prompt=prompts.english, language=prompts.language, negative_prompt=prompts.negative,
                        prompt_report={res.field: res.to_dict() for res in results})
        run.timed("prompt", t0)
        run.check_cancel()
        return prompts

    def _frames_wanted(self, request: GenerationRequest, family: Family, video: Any) -> tuple[int, int]:
        """(frames to generate, frames the pose stage must give at least), checked against what the probed
        ``video`` gives before any model runs."""
        from .request import check_frames_available, default_window

        available = check_frames_available(request.frames, request.stride or 1, video, family.default_fps)
        if request.frames is None:
            wanted = family.default_frames or self.settings.frames
            window = request.window or default_window(family, self.settings)
            return family.frame_rule.floor(max(1, min(wanted, available, self.settings.max_output_frames)),
                                           window), 1
        return request.frames, request.frames

    def _extract_pose(self, request: GenerationRequest, family: Family, run: _Run) -> _Skeleton:
        """Step 2: pose frames at the output size in the family's drawing style, estimated from a raw video or
        read from a skeleton video (the video is probed once, here, and the probe passed on)."""
        import numpy as np

        from . import video as video_io
        from .pose.pipeline import detect_input_kind, prepare_pose_video

        t0 = time.monotonic()
        start = _STAGE_SHARE["translate"]
        share = _STAGE_SHARE["pose_skeleton" if request.input_type == "skeleton" else "pose_video"]
        # reported before the video is read: a video that cannot give the frames fails in this stage, not the last
        run.report(JobStage.EXTRACTING_POSE, start, "preparing the skeleton frames")
        probe = video_io.probe_video(request.video)
        frames, need = self._frames_wanted(request, family, probe)

        def on_frame(done: int, total: int) -> None:
            run.report(JobStage.EXTRACTING_POSE, start + share * min(1.0, (done + 1) / max(total, 1)),
                       f"pose frame {done + 1}/{total}", done + 1, total)
            run.check_cancel()

        kind = detect_input_kind(request.video, request.input_type)
        stride = request.stride or 1  # a family that samples at its own fps takes no stride
        pv = prepare_pose_video(request.video, width=request.width, height=request.height, stride=stride,
                                max_frames=frames, target_fps=family.default_fps, input_type=kind,
                                models_dir=self.models_dir, preset=self.pose_preset or family.pose_preset,
                                device="cuda" if self.device.type == "cuda" else "cpu", progress=on_frame,
                                info=probe, renderer=family.drawing(self._own_params(family, request)))
        if len(pv.frames) < need:
            raise InvalidInput(Message("error.too_few_frames", available=len(pv.frames), stride=stride,
                                       frames=frames), field="frames", value=frames,
                               hint=Message("hint.too_few_frames"))
        if pv.report is not None:
            run.save("keypoints.json", pv.save_keypoints)
            if getattr(pv.report, "demo", False):
                run.warnings.append(Message("pose.demo_random"))
        fps = float(pv.fps)
        # Output frame rate = source fps / stride (or the model's own rate), stated in the job and in every file.
        if family.default_fps:
            note = {"comment": f"{fps:g} fps = source {probe.fps:g} fps sampled at the model's {fps:g} fps"}
        else:
            note = {"comment": f"{fps:g} fps = source {fps * stride:g} fps / stride {stride}"}
        skeleton = _Skeleton(np.ascontiguousarray(pv.frames[:frames]), fps, pv.kind, pv.summary, note)
        run.info.update(fps=fps, source_fps=probe.fps if family.default_fps else fps * stride, stride=request.stride)
        run.save("skeleton.mp4", lambda p: video_io.write_mp4(skeleton.frames, p, fps, metadata=note))
        run.info.update(pose_summary=skeleton.summary, input_kind=skeleton.kind)
        run.timed("pose", t0)
        run.report(JobStage.EXTRACTING_POSE, start + share, f"{len(skeleton.frames)} skeleton frames ready")
        run.check_cancel()
        return skeleton

    def _load(self, runner: Runner, run: _Run) -> None:
        """Step 3: the video model's weights (loaded on the first job of this runner only)."""
        t0 = time.monotonic()
        if not runner.loaded:
            run.report(JobStage.GENERATING, run.fraction, "loading the video model")
            run.fraction += _STAGE_SHARE["load"]
        try:
            runner.load()
        except ModelConfigError as exc:  # model code raises plain errors; here they become the service's
            raise ModelsMissing(f"the model in {self.models_dir} cannot be built: {exc.message}", field="models",
                                value=exc.field, hint="Run `python manage.py download` again (or check the "
                                "folder's config.json files).") from exc
        run.timed("load", t0)

    def _lora_files(self, request: GenerationRequest) -> tuple[list[tuple[Path, float]], list[Message]]:
        """(file, weight) of each LoRA the request names, checked against this engine's models folder and its
        model; a step-distillation LoRA's steps / guidance go into the request where it set none (the warnings
        say so)."""
        from .request import check_loras, lora_defaults

        resolved = check_loras(request.model, request.loras or [], self.models_dir)
        values, notes = lora_defaults(request.model, resolved, request.defaulted or ())
        for name, value in values.items():
            setattr(request, name, value)
        return [(file.path, choice.weight) for choice, file in resolved], notes

    def _run_inputs(self, family: Family, request: GenerationRequest, prompts: _Prompts, skeleton: _Skeleton,
                    loras: list[tuple[Path, float]], seed: int) -> RunInputs:
        return RunInputs(
            prompt=prompts.english, negative_prompt=prompts.negative, original_prompt=request.prompt,
            language=prompts.language, pose=skeleton.frames, fps=skeleton.fps,
            reference_image=_reference_image(request.reference_image), frames=len(skeleton.frames),
            width=request.width, height=request.height, steps=request.steps, guidance_scale=request.guidance_scale,
            seed=seed, scheduler=request.scheduler, window=request.window, window_overlap=request.window_overlap,
            anchor_first_frame=request.anchor_first_frame is not False, loras=loras,
            params=self._own_params(family, request))

    @staticmethod
    def _own_params(family: Family, request: GenerationRequest) -> dict[str, Any]:
        return {p.name: getattr(request, p.name, None) for p in family.own_params}

    def _make_video(self, runner: Runner, family: Family, request: GenerationRequest, prompts: _Prompts,
                    skeleton: _Skeleton, loras: list[tuple[Path, float]], preview: str | Path | None,
                    run: _Run) -> None:
        """Steps 4-5: the runner denoises and yields decoded chunks; each chunk streams into result.mp4,
        result.gif and side_by_side.mp4 at once (no decoded video held in RAM)."""
        from .video.streams import write_streams

        seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
        run.info["seed"] = seed
        start = run.fraction
        share = 1.0 - _STAGE_SHARE["encode"] - start
        clock = {"generate": time.monotonic()}

        def on_step(step: int, total: int) -> None:
            if step == 0:  # the loop is about to start
                run.check_cancel()
                run.report(JobStage.GENERATING, start, "generating", 0, total)
                clock["generate"] = time.monotonic()
                return
            elapsed = time.monotonic() - clock["generate"]
            run.report(JobStage.GENERATING, start + share * step / total, f"denoising {step}/{total}", step, total,
                       elapsed / step * (total - step))
            run.check_cancel()

        def on_decoding() -> None:
            run.timed("generate", clock["generate"])
            clock["encode"] = time.monotonic()
            # step/total stay the denoising counters ("50 of 50"): the job's step fields mean denoising steps
            run.report(JobStage.ENCODING, 1.0 - _STAGE_SHARE["encode"], "decoding and writing the video files")
            run.check_cancel()

        def on_chunk(done: int, total: int) -> None:
            if "encode" not in clock:  # a runner streaming windows: this window's frames come while it denoises on
                run.check_cancel()
                return
            elapsed = time.monotonic() - clock["encode"]
            run.report(JobStage.ENCODING, 1.0 - _STAGE_SHARE["encode"] + _STAGE_SHARE["encode"] * done / total,
                       f"decoded {done}/{total} frames", eta=elapsed / done * (total - done))
            run.check_cancel()

        def on_preview_file(file: Path) -> None:  # the first preview joins the run's files (removed on failure)
            if file not in run.written:
                run.add_file(PREVIEW_FILE, file)

        frames = len(skeleton.frames)
        chunks = runner.generate(self._run_inputs(family, request, prompts, skeleton, loras, seed),
                                 on_step=on_step, on_decoding=on_decoding, warnings=run.warnings,
                                 preview_path=None if preview is None else Path(preview),
                                 on_preview_file=on_preview_file)
        gif_max = self.settings.gif_max_frames
        outputs = write_streams(chunks, skeleton.frames, run.out_dir, skeleton.fps, total=frames,
                                gif_max_frames=gif_max, metadata=skeleton.note, on_chunk=on_chunk)
        for name, path in outputs.items():
            run.add_file(name, path)
        if frames > gif_max > 0:
            run.warnings.append(Message("video.gif_preview", every=math.ceil(frames / gif_max), frames=frames))
        run.timed("encode", clock.get("encode", clock["generate"]))
        run.report(JobStage.ENCODING, 1.0, "done")


def _reference_image(path: Path | None) -> Any:
    """The character photo as RGB with its EXIF orientation applied (as the API stored it), or None."""
    if path is None:
        return None
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


__all__ = ["Engine", "GenerationRequest", "GenerationResult", "Progress", "ProgressCallback", "CancelCheck"]
