"""Follow-Your-Pose's runner: the video pipeline (:mod:`text2video.diffusion`) loaded once, a request's memory
preset, LoRAs, live preview and compile, the denoising loop in windows, then the VAE decoding a chunk at a time.

What the engine did in its steps 3-5 for this model, behind the Runner interface (:mod:`..base`).
"""

from __future__ import annotations

import logging
import threading
import time
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from ...devices import cpu_bf16, dtype_name
from ...diffusion.compilation import COMPILE_MODES
from ...diffusion.pipeline import check_models_dir
from ...exceptions import InvalidInput
from ...messages import Message
from ...models.layout import ModelPaths
from ..base import RunInputs, Runner, Variant

log = logging.getLogger(__name__)


class FypRunner(Runner):
    """``FollowYourPosePipeline`` from a models folder (real or demo weights: the same code path)."""

    def __init__(self, models_dir: Path, variant: Variant, *, device: Any, dtype: Any, settings: Any,
                 memory: str = "auto") -> None:
        super().__init__(models_dir, variant, device=device, dtype=dtype, settings=settings, memory=memory)
        self.paths = ModelPaths(self.models_dir)
        check_models_dir(self.models_dir)  # fail before any work, not after the pose stage
        self.compile = _check_compile(settings.compile)
        self._compile_told = False  # the first job says what compiling cost (or why it could not)
        self._pipe = None
        self._offloaded = False
        self._lock = threading.Lock()

    @property
    def demo(self) -> bool:
        return self.paths.is_demo

    @property
    def loaded(self) -> bool:
        return self._pipe is not None

    def load(self) -> None:
        self.pipeline  # noqa: B018 - loads it

    @property
    def pipeline(self):
        """The video pipeline, loaded on first use (once per runner)."""
        with self._lock:
            if self._pipe is None:
                self._pipe = self._load_pipeline()
                self._offloaded = False
            return self._pipe

    def _load_pipeline(self) -> Any:
        from ...diffusion.pipeline import FollowYourPosePipeline

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
            from ...models.demo import DEMO_WARNING

            log.warning(DEMO_WARNING)
        if self.device.type == "cpu":
            # oneDNN's convolutions and torch's group norm are faster on channels-last maps: a step of the
            # full-size UNet took 0.93x the time in bf16, 0.97x in fp32 (bench/unet_step.py, cpu-*-cl).
            pipe.unet.to(memory_format=torch.channels_last)
        if self.compile != "off":
            pipe.enable_compile(self.compile, cache_dir=self.settings.compile_cache_dir)
        return pipe

    # -- memory presets ------------------------------------------------------------------------------------------
    def _choose_preset(self, frames: int, width: int, height: int) -> Any:
        """The memory preset (text2video.models.presets) for this workload."""
        from ...models.presets import choose_preset

        free_gb = None
        if self.device.type == "cuda":
            free_gb = torch.cuda.mem_get_info(self.device)[0] / 2**30
            if self._pipe is not None and not self._offloaded:
                # What this process already holds (weights, allocator cache) is ours to use as well.
                free_gb += torch.cuda.memory_reserved(self.device) / 2**30
        device = "cpu" if self.device.type == "cpu" else str(self.device)
        return choose_preset(device, free_gb, cpu_bf16()[0], self.memory, frames=frames, width=width,
                             height=height)

    def _apply_memory_preset(self, pipe: Any, frames: int, width: int, height: int, warnings: list[str]) -> int:
        """Switch the pipeline's memory savers for this request; returns the VAE decode chunk size."""
        from ...models.presets import apply_preset

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

    # -- live preview -------------------------------------------------------------------------------------------
    @cached_property
    def _preview_decoder(self) -> Any:
        """The models folder's tiny learned preview decoder (``taesd/``), looked for once; None without one."""
        from ...diffusion.preview import load_tiny_decoder

        return load_tiny_decoder(self.paths.tiny_decoder, self.device, self.dtype)

    def _live_preview(self, path: Path | None, fps: float, on_file: Callable[[Path], None]) -> dict[str, Any]:
        """Pipeline arguments that write the live preview to ``path`` as the video is denoised (none without a
        path, or with ``preview_every_steps`` 0); ``on_file`` hears of each file written."""
        if path is None or self.settings.preview_every_steps <= 0:
            return {}
        from ...diffusion.preview import LivePreview

        live = LivePreview(Path(path), fps, every_steps=self.settings.preview_every_steps,
                           min_interval_s=self.settings.preview_min_interval_s,
                           max_frames=int(self.settings.gif_max_frames), decoder=self._preview_decoder,
                           on_written=on_file)
        return {"callback_on_step_end": live.on_step_end,
                "callback_on_step_end_tensor_inputs": ("pred_original_sample",)}

    # -- the run ------------------------------------------------------------------------------------------------
    def generate(self, inputs: RunInputs, *, on_step: Callable[[int, int], None], on_decoding: Callable[[], None],
                 preview_path: Path | None, warnings: list[str],
                 on_preview_file: Callable[[Path], None]) -> Iterator[Any]:
        """Denoise (in overlapping windows for long videos), then yield the decoded frames chunk by chunk."""
        from ...diffusion.streaming import decode_chunks

        latents, decode_chunk = self._denoise(self.pipeline, inputs, on_step, preview_path, warnings,
                                              on_preview_file)
        on_decoding()
        try:
            yield from decode_chunks(self.pipeline, latents, decode_chunk)
        finally:
            del latents  # the decoded video is on disk: free the latents before returning

    def _denoise(self, pipe: Any, inputs: RunInputs, on_step: Callable[[int, int], None], preview: Path | None,
                 warnings: list[str], on_preview_file: Callable[[Path], None]) -> tuple[Any, int]:
        from ...diffusion.lora import applied_loras
        from ...diffusion.windows import DEFAULT_OVERLAP, DEFAULT_WINDOW, count_windows

        pipe.set_scheduler(inputs.scheduler)
        frames = inputs.frames
        window = inputs.window or DEFAULT_WINDOW
        overlap = inputs.window_overlap if inputs.window_overlap is not None else min(DEFAULT_OVERLAP, window // 3)
        # Progress counts UNet passes: steps x windows (one window unless the video is long).
        passes = inputs.steps * count_windows(frames, window, overlap)
        # Memory follows the frames denoised at once: one window of a long video.
        decode_chunk = self._apply_memory_preset(pipe, min(frames, window), inputs.width, inputs.height, warnings)
        # A CPU generator gives the same noise for the same seed on every device.
        generator = torch.Generator(device="cpu").manual_seed(inputs.seed)
        on_step(0, passes)

        def callback(step: int, total: int) -> bool:
            on_step(step, total)
            return True

        # LoRAs change the loaded weights for this job only; the exact weights are back after the block.
        with applied_loras(pipe, inputs.loras):
            out = pipe(inputs.prompt, pose=inputs.pose, video_length=frames, height=inputs.height,
                       width=inputs.width, num_inference_steps=inputs.steps, guidance_scale=inputs.guidance_scale,
                       negative_prompt=inputs.negative_prompt, generator=generator, output_type="latent",
                       callback=callback, decode_chunk_size=decode_chunk, window_size=window,
                       window_overlap=overlap, anchor_first_frame=inputs.anchor_first_frame,
                       **self._live_preview(preview, inputs.fps, on_preview_file))
        self._tell_compile_cost(pipe, warnings)
        return out.frames, decode_chunk

    def _tell_compile_cost(self, pipe: Any, warnings: list[str]) -> None:
        """Once per runner, on its first job: what compiling the UNet cost, or why it runs eager instead."""
        compiled = pipe.compiled_unet
        if compiled is None or self._compile_told:
            return
        if compiled.failure is not None:
            warnings.append(Message("compile.eager_fallback", reason=compiled.failure))
        elif compiled.first_call_s is not None:
            warnings.append(Message("compile.first_job", seconds=round(compiled.first_call_s)))
        self._compile_told = True


def _check_compile(mode: str) -> str:
    if mode not in COMPILE_MODES:
        raise InvalidInput(f"compile mode {mode!r} is not supported", field="compile", value=mode,
                           hint=f"Use one of: {', '.join(COMPILE_MODES)} (--compile / TEXT2VIDEO_COMPILE).")
    return mode


__all__ = ["FypRunner"]
