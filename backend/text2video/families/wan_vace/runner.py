"""Wan2.1 VACE on diffusers' own ``WanVACEPipeline``: pose video (+ optional character photo) + prompt -> frames.

    runner = WanVaceRunner(models_dir, "wan2.1-vace-1.3b", device="cpu", dtype=torch.float32, settings=settings)
    for chunk in runner.generate(inputs, on_step=report, warnings=warnings):   # chunks of (F, H, W, 3) uint8 RGB
        ...

- Loading: once per runner, ``WanVACEPipeline.from_pretrained(<models>/<folder>)`` with the VAE loaded separately in
  fp32 (Wan's VAE in bf16/fp16 drifts in colour: reference facts) and the rest in the run dtype (bf16 on a GPU by
  default: Wan was trained in bf16). Demo folders load through exactly this path.
- Memory preset: chosen on the first ``generate`` for its frames and size (``presets.choose_preset``) and kept for the
  runner's life (moving parts back from offload hooks is not worth a reload per request).
- Scheduler: ``UniPCMultistepScheduler`` from the folder's config with ``flow_shift`` for the size
  (:func:`flow_shift_for`): 5.0 for 720p-class frames, 3.0 for 480p-class ones (Wan's published settings).
- Rules checked before anything runs, as plain ``ValueError`` naming the argument, its value and the fix: frames
  4k+1 (the closest allowed count is suggested, never silently used), width/height multiples of 16, pose frames of
  the asked count and size.
- Prompt budget: UMT5 reads 512 tokens (start/end included); what is cut is appended to ``warnings``, counted with
  the pipeline's own tokenizer on the text the pipeline itself encodes (after its ``prompt_clean``).
- Progress: ``callback_on_step_end`` calls ``on_step(step, total)``; an exception from it (Canceled) stops the run.
- Long videos (frames > window): :mod:`.windows` — one pipeline call per window (same prompt, photo and seed rule),
  kept frames carried with a black mask, colours matched, each window's new frames yielded as soon as it is
  decoded (memory flat in the number of windows); progress counts steps x windows; the drift figure is logged.
  A video of one window is the same single call (bit-identical to the one-clip path).
- Live preview (``preview_path``): :class:`.preview.WanLivePreview` on the step callback, the current window.
- ``cache_threshold`` (request, Wan's own): First Block Cache (:mod:`.cache`) around the calls, the share of block
  computations skipped in the job's warnings; ``settings.compile``: diffusers' regional compile of the transformer.
- LoRAs (``inputs.loras``, checked by the engine to be Wan LoRAs of this size): loaded per job with diffusers'
  ``load_lora_weights`` + ``set_adapters`` for the job's run and removed after it (:meth:`_loras`).
"""

from __future__ import annotations

import contextlib
import logging
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ...models.layout import DEMO_MARKER
from ..base import RunInputs, Runner, Variant
from .presets import WanPreset, apply_preset, choose_preset

log = logging.getLogger(__name__)

FRAME_STEP = 4  # the VAE's temporal compression: frames = 4k + 1
SIZE_MULTIPLE = 16  # 8x spatial VAE compression x the transformer's 2x2 patches
PROMPT_TOKENS = 512  # the pipeline's max_sequence_length (UMT5)
FLOW_SHIFT_480P = 3.0
FLOW_SHIFT_720P = 5.0
# 720p-class = at least the geometric mean of the 480p (832x480) and 720p (1280x720) frame areas (~606k pixels):
# e.g. 1280x720, 960x720 and 1024x768 get 5.0; 832x480, 1024x576 and 768x768 get 3.0.
FLOW_SHIFT_720P_MIN_PIXELS = round(math.sqrt(832 * 480 * 1280 * 720))
CHUNK_FRAMES = 16  # frames per yielded chunk
LORA_ADAPTER_PREFIX = "t2v_job_lora_"  # the job's PEFT adapters: <prefix>0, 1, 2 (removed after each job)


def closest_frames(frames: int) -> int:
    """The 4k+1 count nearest ``frames`` (the larger one on a tie), at least 1."""
    below = max(1, (frames - 1) // FRAME_STEP * FRAME_STEP + 1)
    above = below + FRAME_STEP
    return above if above - frames <= frames - below else below


def closest_multiple(value: int, multiple: int = SIZE_MULTIPLE) -> int:
    """The multiple of ``multiple`` nearest ``value`` (the larger one on a tie), at least ``multiple``."""
    return max(multiple, (value + multiple // 2) // multiple * multiple)


def check_request(frames: int, width: int, height: int) -> None:
    """Wan's frame and size rules, as plain errors that name the argument, the value and the closest allowed one."""
    if frames < 1 or (frames - 1) % FRAME_STEP:
        raise ValueError(f"frames must be 4k+1 for Wan VACE (1, 5, 9, ..., 81); got {frames}: the closest is "
                         f"{closest_frames(frames)}")
    for name, value in (("width", width), ("height", height)):
        if value < SIZE_MULTIPLE or value % SIZE_MULTIPLE:
            raise ValueError(f"{name} must be a multiple of {SIZE_MULTIPLE} for Wan VACE; got {value}: the closest "
                             f"is {closest_multiple(value)}")


def flow_shift_for(width: int, height: int) -> float:
    """UniPC's flow_shift for the frame size: 5.0 for 720p-class frames, 3.0 for 480p-class (see the constant)."""
    return FLOW_SHIFT_720P if width * height >= FLOW_SHIFT_720P_MIN_PIXELS else FLOW_SHIFT_480P


def _check_pose_frames(pose: Any, frames: int, width: int, height: int) -> None:
    shape = getattr(pose, "shape", None)
    want = (frames, height, width, 3)
    if shape is None or tuple(shape) != want or getattr(pose, "dtype", None) != np.uint8:
        raise ValueError(f"pose must be a uint8 array of shape {want} (frames, height, width, RGB); got "
                         f"{tuple(shape) if shape is not None else type(pose).__name__}"
                         f"{'' if shape is None else ' ' + str(pose.dtype)}: draw the pose video at the asked size")


def _on_white(image: Any) -> Any:
    """RGB of the reference photo; transparent parts become white (VACE wants the subject on white; the pipeline
    letterboxes on white too), not the black that a plain RGBA -> RGB conversion gives."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def _check_lora_files(loras: Any) -> None:
    for item in loras or ():
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and Path(item[0]).is_file()):
            raise ValueError(f"loras must be (file, weight) pairs of existing LoRA files; got {item!r}: pass the "
                             f"files the engine's check_loras resolved")


class WanVaceRunner(Runner):
    """Runs one Wan VACE variant folder; see the module docstring."""

    def __init__(self, models_dir: str | Path, variant: Variant | str, *, device: Any = "cpu", dtype: Any = None,
                 settings: Any = None, memory: str = "auto"):
        import torch

        folder = variant if isinstance(variant, str) else variant.folder  # a Variant or its folder name
        super().__init__(Path(models_dir), variant, device=torch.device(device), dtype=dtype, settings=settings,
                         memory=memory or "auto")
        self.folder = folder
        self.path = self.models_dir / folder
        self.demo = (self.models_dir / DEMO_MARKER).exists()
        if dtype is None or isinstance(dtype, str):  # a settings name: auto | fp32 | fp16 | bf16
            from ...devices import resolve_dtype
            from . import FAMILY

            dtype = resolve_dtype(dtype, self.device, FAMILY.cuda_dtype)
        self.dtype = dtype
        self.preset: WanPreset | None = None
        self.applied: list[str] = []  # what the preset switched on, for the job record
        self._pipe = None
        self.last_preview = None  # the last job's WanLivePreview (None: no preview); bench/preview.py reads its time
        self.last_drift = None  # the colour-drift meter of the last job made in windows (windows.DriftMeter)
        self.compiled = ""  # the torch.compile mode the transformer's blocks were compiled with ("" = eager)
        self.compile_failure = ""  # why --compile could not be honoured here
        self._check_folder()  # fail before any work (the pose stage), not after it

    def _check_folder(self) -> None:
        if not (self.path / "model_index.json").is_file():
            raise FileNotFoundError(f"Wan VACE weights not found in {self.path} (no model_index.json): run `python "
                                    f"manage.py download --model {self._model_name()}`, or use --models demo")

    @property
    def loaded(self) -> bool:
        return self._pipe is not None

    def load(self) -> None:
        if self._pipe is None:
            self._pipe = self._load()

    @property
    def pipe(self) -> Any:
        """The pipeline, loaded on first use (once per runner)."""
        self.load()
        return self._pipe

    @property
    def memory_preset(self) -> str:
        return self.preset.name if self.preset is not None else ""

    def _load(self) -> Any:
        import torch
        from diffusers import AutoencoderKLWan, WanVACEPipeline

        self._check_folder()
        vae = AutoencoderKLWan.from_pretrained(self.path, subfolder="vae", dtype=torch.float32)
        pipe = WanVACEPipeline.from_pretrained(self.path, vae=vae, dtype=self.dtype)
        pipe.set_progress_bar_config(disable=True)  # progress goes through on_step
        self._compile(pipe)
        return pipe

    def _model_name(self) -> str:
        from .sources import FOLDERS

        return next((model for model, folder in FOLDERS.items() if folder == self.folder), "wan-vace-1.3b")

    def prompt_warnings(self, prompt: str, negative_prompt: str = "") -> list[str]:
        """What UMT5 will not read of the prompts (over 512 tokens), as warning texts; [] when all fits."""
        from diffusers.pipelines.wan.pipeline_wan_vace import prompt_clean

        from ...prompt.clip_tokens import clip_token_report

        found = []
        for name, text in (("prompt", prompt), ("negative_prompt", negative_prompt)):
            if not text:
                continue
            # The same tokenizer and text cleaning as the pipeline's own encode_prompt; the word-by-word count is
            # exact here too (T5's pre-tokenizer splits on whitespace as CLIP's does).
            report = clip_token_report(prompt_clean(text), self.pipe.tokenizer, PROMPT_TOKENS)
            if report.truncated:
                found.append(f"{name} is {report.token_count} UMT5 tokens, over the {PROMPT_TOKENS} the model reads: "
                             f"these words are ignored: {' '.join(report.dropped_words)}")
        return found

    def _ensure_preset(self, frames: int, width: int, height: int, reference: bool, warnings: list) -> None:
        if self.preset is not None:
            return
        import torch

        free_gb = None
        if self.device.type == "cuda":
            free_gb = torch.cuda.mem_get_info(self.device)[0] / 2**30
        device = "cpu" if self.device.type == "cpu" else str(self.device)
        self.preset = choose_preset(self.folder, device, free_gb, self.memory, frames=frames, width=width,
                                    height=height, reference=reference)
        if self.preset.warning:
            warnings.append(self.preset.warning)
        self.applied = apply_preset(self.pipe, self.preset, self.device)

    def _use_flow_shift(self, width: int, height: int) -> None:
        from diffusers import UniPCMultistepScheduler

        shift = flow_shift_for(width, height)
        if self.pipe.scheduler.config.get("flow_shift") != shift:
            self.pipe.scheduler = UniPCMultistepScheduler.from_config(self.pipe.scheduler.config, flow_shift=shift)

    @contextmanager
    def _loras(self, loras: list[tuple[Path, float]]) -> Iterator[None]:
        """The job's LoRAs on the transformer for the ``with`` body, through diffusers' own loader (PEFT layers,
        one adapter per file at its weight), and removed after it however it ends (done, failed, canceled):
        PEFT's layers are taken out and the base weights were never changed, so the next job is bit-identical to
        a fresh runner's (test)."""
        if self._pipe is not None:
            self._remove_loras()  # a job whose frames were never consumed to the end may have left its adapters
        if not loras:
            yield
            return
        try:
            names = [f"{LORA_ADAPTER_PREFIX}{index}" for index in range(len(loras))]
            for name, (path, _) in zip(names, loras):
                self._load_lora(Path(path), name)
            self.pipe.set_adapters(names, [float(weight) for _, weight in loras])
            yield
        finally:
            self._remove_loras()

    def _load_lora(self, path: Path, name: str) -> None:
        """One file as adapter ``name``; a file diffusers cannot put on this transformer (another model's shapes)
        is an InvalidInput naming it, with the first line of diffusers' reason."""
        from ...exceptions import InvalidInput
        from ...models.loras import FIELD

        try:
            self.pipe.load_lora_weights(str(path), adapter_name=name)
        except (RuntimeError, ValueError, KeyError) as exc:
            reason = " ".join(str(exc).split())[:300]
            raise InvalidInput(f"{FIELD}: {path.name} cannot be used with {self._model_name()}: {reason}",
                               field=FIELD, value=path.stem, hint=f"Use a Wan2.1 LoRA trained on "
                               f"{self._model_name()}, or remove the file.") from None

    def _remove_loras(self) -> None:
        """Every adapter off the transformer and its PEFT layers out (also what a half-loaded file left)."""
        from peft.tuners.tuners_utils import BaseTunerLayer

        transformer = self.pipe.transformer
        adapters = list(getattr(transformer, "peft_config", None) or {})
        if adapters:
            self.pipe.delete_adapters(adapters)
        # a file that failed to load (shapes of another model) leaves PEFT layers and no adapter name
        if adapters or any(isinstance(m, BaseTunerLayer) for m in transformer.modules()):
            self.pipe.unload_lora_weights()

    def _with_loras(self, loras: list[tuple[Path, float]], frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        """``frames`` (the run) with the job's LoRAs on for all of it: every pipeline call of the job."""
        with self._loras(loras):
            yield from frames

    def generate(self, inputs: RunInputs, *, on_step: Callable[[int, int], None],
                 on_decoding: Callable[[], None] | None = None, preview_path: Path | None = None,
                 warnings: list | None = None,
                 on_preview_file: Callable[[Path], None] | None = None) -> Iterator[np.ndarray]:
        """Check ``inputs`` and note the prompt cuts in ``warnings`` now; the returned iterator runs the pipeline
        on its first ``next()`` and yields the decoded frames as (F_chunk, H, W, 3) uint8 RGB chunks in order
        (a long video window by window, as each window is decoded).

        ``preview_path``: the live preview GIF of the window being denoised (``on_preview_file`` hears of it)."""
        if inputs.frames <= self._window_of(inputs)[0]:
            check_request(inputs.frames, inputs.width, inputs.height)
        else:  # made in windows: any count (plan_windows checks the window and the overlap)
            check_request(1, inputs.width, inputs.height)
        if inputs.steps < 1:
            raise ValueError(f"steps must be at least 1; got {inputs.steps}")
        _check_pose_frames(inputs.pose, inputs.frames, inputs.width, inputs.height)
        if inputs.reference_image is not None and not hasattr(inputs.reference_image, "convert"):
            raise ValueError(f"reference_image must be a PIL image or None; got "
                             f"{type(inputs.reference_image).__name__}")
        _check_lora_files(inputs.loras)
        if warnings is None:
            warnings = []
        warnings.extend(self.prompt_warnings(inputs.prompt, inputs.negative_prompt or ""))
        return self._with_loras(inputs.loras, self._run(inputs, on_step, on_decoding or (lambda: None), warnings,
                                                        preview_path, on_preview_file))

    # -- long videos ----------------------------------------------------------------------------------------------
    @staticmethod
    def _window_of(inputs: RunInputs) -> tuple[int, int]:
        """(window, overlap) of the request: its own, else Wan's defaults; a default overlap too long for a short
        window is brought down to the window less 4 (a given one was checked by the request)."""
        from .windows import DEFAULT_OVERLAP, DEFAULT_WINDOW, TEMPORAL_STEP

        window = inputs.window or DEFAULT_WINDOW
        overlap = DEFAULT_OVERLAP if inputs.window_overlap is None else inputs.window_overlap
        return window, max(0, min(overlap, window - TEMPORAL_STEP))

    def _windows(self, inputs: RunInputs) -> list:
        from .windows import plan_windows

        window, overlap = self._window_of(inputs)
        return plan_windows(inputs.frames, window, overlap)

    # -- live preview ---------------------------------------------------------------------------------------------
    def _live_preview(self, path: Path | None, fps: float, reference: bool,
                      on_file: Callable[[Path], None] | None) -> Any:
        """The WanLivePreview writing ``path`` as the current window is denoised (None without a path, or with
        ``preview_every_steps`` 0)."""
        settings = self._settings
        if path is None or settings.preview_every_steps <= 0:
            return None
        from .preview import WanLivePreview

        vae = self.pipe.vae.config
        return WanLivePreview(Path(path), fps, reference_frames=1 if reference else 0,
                              every_steps=settings.preview_every_steps,
                              min_interval_s=settings.preview_min_interval_s, max_frames=int(settings.gif_max_frames),
                              latents_mean=vae.latents_mean, latents_std=vae.latents_std, on_written=on_file)

    @property
    def _settings(self) -> Any:
        from ...settings import Settings

        return self.settings if self.settings is not None else Settings()

    # -- speed: First Block Cache and torch.compile -----------------------------------------------------------------
    @contextlib.contextmanager
    def _block_cache(self, threshold: float | None, warnings: list) -> Iterator[None]:
        """First Block Cache on the transformer for the block (``threshold`` 0/None: off); the job's warnings say
        the share of main-block computations it skipped."""
        if not threshold:
            yield
            return
        from .cache import BlockCounter, first_block_cache

        transformer = self.pipe.transformer
        with first_block_cache(transformer, float(threshold)), BlockCounter(transformer) as counts:
            yield
        warnings.append(f"first block cache (threshold {threshold:g}): {counts.skipped_share:.0%} of the "
                        f"transformer's block computations skipped ({counts.full_passes} of {counts.calls} calls "
                        f"computed in full); its effect on quality is not measured")
        log.info("first block cache %g: %d/%d full passes, %.1f%% of block computations skipped", threshold,
                 counts.full_passes, counts.calls, 100 * counts.skipped_share)

    def _compile(self, pipe: Any) -> None:
        """``--compile``: diffusers' regional compile of the transformer's repeated blocks (each block compiled once,
        reused by the 30 + 15 of them: much faster to compile than the whole model); compiled lazily on the first
        step. Eager, with a log line, where inductor cannot run here."""
        mode = getattr(self._settings, "compile", "off")
        if mode == "off":
            return
        from ...diffusion.compilation import COMPILE_MODES, _use_cache_dir, unsupported_reason

        if mode not in COMPILE_MODES:
            raise ValueError(f"compile must be one of {', '.join(COMPILE_MODES)}; got {mode!r}")
        reason = unsupported_reason(self.device, "inductor")
        if reason is not None:
            log.warning("torch.compile is off for Wan VACE: %s", reason)
            self.compile_failure = reason
            return
        _use_cache_dir(Path(self._settings.compile_cache_dir))
        pipe.transformer.compile_repeated_blocks(mode=mode, dynamic=False)
        self.compiled = mode

    # -- the run --------------------------------------------------------------------------------------------------
    def _run(self, inputs: RunInputs, on_step: Callable[[int, int], None], on_decoding: Callable[[], None],
             warnings: list, preview_path: Path | None = None,
             on_preview_file: Callable[[Path], None] | None = None) -> Iterator[np.ndarray]:
        from .windows import DriftMeter, generate_windows

        reference = _on_white(inputs.reference_image) if inputs.reference_image is not None else None
        windows = self._windows(inputs)
        # memory follows the frames made at once: one window
        self._ensure_preset(windows[0].length, inputs.width, inputs.height, reference is not None, warnings)
        self._use_flow_shift(inputs.width, inputs.height)
        live = self.last_preview = self._live_preview(preview_path, inputs.fps, reference is not None,
                                                       on_preview_file)
        run_window = self._window_runner(inputs, reference, len(windows), on_step, on_decoding, live)
        drift = DriftMeter()
        on_step(0, inputs.steps * len(windows))  # progress counts transformer passes: steps x windows
        with self._block_cache((inputs.params or {}).get("cache_threshold"), warnings):
            for frames in generate_windows(inputs.pose, windows, run_window, correct_colour=True, drift=drift):
                for start in range(0, len(frames), CHUNK_FRAMES):
                    yield frames[start:start + CHUNK_FRAMES]
        if len(windows) > 1:
            self.last_drift = drift
            log.info("%d windows of at most %d frames: %s", len(windows), windows[0].length, drift.summary())

    def _window_runner(self, inputs: RunInputs, reference: Any, count: int, on_step: Callable[[int, int], None],
                       on_decoding: Callable[[], None], live: Any) -> Callable:
        """generate_windows' ``run_window``: one pipeline call per window with the same prompt, reference image and
        settings; the callback reports the step over all windows and writes the live preview."""
        from .windows import pipeline_window

        total, done = inputs.steps * count, {"windows": 0}

        def step_end(pipe: Any, step: int, timestep: Any, tensors: dict) -> dict:
            if live is not None:
                live.on_step_end(pipe, step, timestep, tensors)
            passes = done["windows"] * inputs.steps + step + 1
            on_step(passes, total)  # may raise (Canceled): the pipeline stops there
            if passes == total:
                on_decoding()  # the pipeline decodes right after its last step
            return {}

        scale = (inputs.params or {}).get("conditioning_scale")
        call = pipeline_window(
            self.pipe, seed=int(inputs.seed), reference_image=[reference] if reference is not None else None,
            prompt=inputs.prompt, negative_prompt=inputs.negative_prompt or None,
            conditioning_scale=float(1.0 if scale is None else scale), height=inputs.height, width=inputs.width,
            num_inference_steps=inputs.steps, guidance_scale=inputs.guidance_scale,
            max_sequence_length=PROMPT_TOKENS, callback_on_step_end=step_end)

        def run_window(video: list, mask: list, window: Any) -> np.ndarray:
            frames = call(video, mask, window)
            done["windows"] += 1
            return frames

        return run_window
