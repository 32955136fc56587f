"""Decode the latents of a (long) generated video a chunk of frames at a time (the VAE), as uint8 RGB chunks for
:func:`text2video.video.streams.write_streams`: the decoded video never exists in RAM as a whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np
import torch

from ..video.streams import gif_stride, write_streams


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """(F, 3, H, W) float in [0, 1] -> (F, H, W, 3) uint8 (rounded)."""
    return (video.permute(0, 2, 3, 1).float().clamp(0, 1) * 255.0).round().to(torch.uint8).numpy()


def decode_chunks(pipe: Any, latents: torch.Tensor, decode_chunk: int = 8) -> Iterator[np.ndarray]:
    """``latents`` (1, 4, F, h, w) decoded ``decode_chunk`` frames at a time -> (F_chunk, H, W, 3) uint8."""
    total = latents.shape[2]
    for start in range(0, total, decode_chunk):
        with torch.no_grad():  # around the decode only: grad mode is global state, a yield must not hold it
            video = pipe.decode_latents(latents[:, :, start:start + decode_chunk], decode_chunk)[0]
            chunk = to_uint8(video)
        del video
        yield chunk


def decode_to_writers(pipe: Any, latents: torch.Tensor, skeleton: np.ndarray, out_dir: Path, fps: float, *,
                      decode_chunk: int = 8, gif_max_frames: int = 96, metadata: Optional[dict] = None,
                      on_chunk: Optional[Callable[[int, int], None]] = None) -> dict[str, Path]:
    """Decode ``latents`` chunk by chunk and stream them into ``result.mp4``, ``result.gif`` and
    ``side_by_side.mp4`` in ``out_dir`` (see :func:`~text2video.video.streams.write_streams`)."""
    return write_streams(decode_chunks(pipe, latents, decode_chunk), skeleton, out_dir, fps,
                         total=latents.shape[2], gif_max_frames=gif_max_frames, metadata=metadata,
                         on_chunk=on_chunk)


__all__ = ["decode_chunks", "decode_to_writers", "gif_stride", "to_uint8"]
