"""Live preview of a video while it is denoised: the current estimate of the final video, without the VAE.

At every denoising step the scheduler knows its prediction of the clean latents (``pred_original_sample``, x0).
A fixed linear map turns SD-1.x latents into approximate RGB colours (4 x 3 matrix + bias, a few multiply-adds per
latent pixel), upscaled 2x with bilinear filtering: a blurry but faithful picture of where the video is heading,
at 1/4 of the output size. Every ``every_steps`` steps (and at most once per ``min_interval_s`` seconds) the
frames are written as a looping GIF (``preview.gif``), which every browser plays in an ``<img>``; the file is
written under a temporary name and renamed (``text2video.video.write_gif``), so a reader never sees half of one.

When the models folder holds a tiny learned decoder (``models/taesd/``: diffusers ``AutoencoderTiny``, e.g.
madebyollin/taesd), it decodes x0 instead of the projection: sharper shapes and truer colours for a few ms per frame
on a GPU, at the same preview size. It is optional and never downloaded by ``manage.py download``.

Long videos: the windows' noise predictions are fused before each scheduler step, so x0 always covers the whole
video: the preview shows the whole video (every k-th frame beyond ``max_frames``, as ``result.gif``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..video import write_gif
from ..video.streams import gif_stride

UPSCALE = 2  # latents are 1/8 of the output size; 2x makes a 512 px video a 128 px preview

# Latent -> RGB for SD-1.x latents as the UNet sees them (VAE latents x 0.18215): the least-squares factors
# published by ComfyUI (comfy/latent_formats.py, class SD15, "latent_rgb_factors"), which map to [-1, 1];
# halved here, with a bias of 0.5, so the map lands in [0, 1] directly. Rows: latent channels 0-3; columns: R, G, B.
LATENT_RGB_WEIGHT = torch.tensor([[0.3512, 0.2297, 0.3227],
                                  [0.3250, 0.4974, 0.2350],
                                  [-0.2829, 0.1762, 0.2721],
                                  [-0.2120, -0.2616, -0.7177]]) / 2
LATENT_RGB_BIAS = torch.tensor([0.5, 0.5, 0.5])


def latents_to_rgb(latents: torch.Tensor, frame_step: int = 1, upscale: int = UPSCALE) -> np.ndarray:
    """Latents (1, 4, F, h, w) -> approximate colours (ceil(F / frame_step), h*upscale, w*upscale, 3) uint8.

    Computed on the latents' device (a GPU stays busy with tiny work); only the small uint8 frames are copied."""
    x = latents[0, :, ::frame_step].float()  # (4, f, h, w)
    weight = LATENT_RGB_WEIGHT.to(x.device)
    rgb = torch.einsum("cfhw,cr->frhw", x, weight) + LATENT_RGB_BIAS.to(x.device).view(1, 3, 1, 1)
    if upscale > 1:
        rgb = F.interpolate(rgb, scale_factor=upscale, mode="bilinear", align_corners=False)
    return (rgb.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def load_tiny_decoder(folder: Path, device: Any, dtype: torch.dtype) -> Optional[Any]:
    """The AutoencoderTiny in ``folder`` (``ModelPaths.tiny_decoder``) on ``device``, or None when there is none."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        return None
    from diffusers import AutoencoderTiny

    return AutoencoderTiny.from_pretrained(folder, torch_dtype=dtype).to(device).eval()


def tiny_decoder_to_rgb(decoder: Any, latents: torch.Tensor, frame_step: int = 1) -> np.ndarray:
    """Latents (1, 4, F, h, w) decoded by the tiny decoder, scaled to the projection's preview size: the same
    (ceil(F / frame_step), h*UPSCALE, w*UPSCALE, 3) uint8 as :func:`latents_to_rgb`. Its scaling factor is 1: it reads
    the UNet's latents as they are, and writes [-1, 1]."""
    x = latents[0, :, ::frame_step].permute(1, 0, 2, 3).to(decoder.dtype)  # frames as the batch
    with torch.no_grad():
        image = decoder.decode(x).sample.float()
    image = F.interpolate(image, size=(x.shape[2] * UPSCALE, x.shape[3] * UPSCALE), mode="area")
    return (((image + 1) / 2).clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


class LivePreview:
    """Writes ``path`` from the denoising loop's x0 every ``every_steps`` steps, at most every ``min_interval_s``
    seconds (the last step is skipped: the decoded result follows at once). Use :meth:`on_step_end` as the
    pipeline's ``callback_on_step_end`` with ``callback_on_step_end_tensor_inputs=["pred_original_sample"]``.

    ``decoder``: a tiny learned decoder (:func:`load_tiny_decoder`) used instead of the linear projection.
    ``project(x0, frame_step)`` and ``frame_count(x0)``: another model family's projection and the number of video
    frames its latents stand for (default: SD-1.x's, one video frame per latent frame).
    ``on_written(path)`` is told of every new preview (the engine reports it as a job file)."""

    def __init__(self, path: Path, fps: float, *, every_steps: int, min_interval_s: float, max_frames: int,
                 decoder: Optional[Any] = None, on_written: Optional[Callable[[Path], None]] = None,
                 clock: Callable[[], float] = time.monotonic,
                 project: Optional[Callable[[torch.Tensor, int], np.ndarray]] = None,
                 frame_count: Optional[Callable[[torch.Tensor], int]] = None):
        self.path = Path(path)
        self.fps = fps
        self.every_steps = every_steps
        self.min_interval_s = min_interval_s
        self.max_frames = max_frames
        self.decoder = decoder
        self.on_written = on_written
        self.clock = clock
        self.project = project
        self.frame_count = frame_count
        self.written = 0  # previews written so far
        self.seconds = 0.0  # time spent making them (bench/preview.py reports it per step)
        self._last_at: Optional[float] = None

    def due(self, step: int, total: int) -> bool:
        """``step`` counts from 1 (steps done)."""
        if self.every_steps <= 0 or step >= total or step % self.every_steps:
            return False
        return self._last_at is None or self.clock() - self._last_at >= self.min_interval_s

    def write(self, x0: torch.Tensor) -> Path:
        """The preview of x0 (1, C, F, h, w), every k-th frame beyond ``max_frames``."""
        started = time.perf_counter()
        stride = gif_stride(x0.shape[2] if self.frame_count is None else self.frame_count(x0), self.max_frames)
        if self.project is not None:
            frames = self.project(x0, stride)
        elif self.decoder is None:
            frames = latents_to_rgb(x0, stride)
        else:
            frames = tiny_decoder_to_rgb(self.decoder, x0, stride)
        write_gif(frames, self.path, self.fps / stride)
        self.seconds += time.perf_counter() - started
        self.written += 1
        self._last_at = self.clock()
        if self.on_written is not None:
            self.on_written(self.path)
        return self.path

    def on_step_end(self, pipe: Any, index: int, timestep: Any, tensors: dict[str, torch.Tensor]) -> dict:
        """diffusers-style ``callback_on_step_end(pipe, step_index, timestep, callback_kwargs)``."""
        if self.due(index + 1, pipe.num_timesteps):
            self.write(tensors["pred_original_sample"])
        return {}

    def discard(self) -> None:
        """Remove the preview (a failed or canceled run leaves nothing behind)."""
        self.path.unlink(missing_ok=True)


__all__ = ["LATENT_RGB_WEIGHT", "LATENT_RGB_BIAS", "LivePreview", "latents_to_rgb",
           "load_tiny_decoder", "tiny_decoder_to_rgb"]
