"""Tell a ready-made skeleton video (mostly black, strokes in the three limb colours) from an ordinary video."""

from __future__ import annotations

import logging
import os

import numpy as np

from ..exceptions import InvalidInput
from .skeleton import CENTER, LEFT, RIGHT

log = logging.getLogger(__name__)

INPUT_TYPES = ("auto", "video", "skeleton")
_REFS = np.array([LEFT, RIGHT, CENTER], np.float32)


def frame_looks_like_skeleton(frame: np.ndarray) -> bool | None:
    """True / False for a decoded RGB frame; None when it is (nearly) all black and says nothing either way."""
    img = frame.astype(np.float32)
    peak = img.max(axis=2)
    if float((peak > 50).mean()) < 0.002:
        return None
    lit = peak > 150  # stroke cores: soft edges are too dark for their hue to mean much after re-encoding
    black_fraction = float((peak < 35).mean())
    # Compare hues, not intensities: re-encoded skeleton videos darken the colours but roughly keep their ratios.
    colours = img[lit] / peak[lit][:, None] * 255.0
    refs = _REFS / _REFS.max(axis=1, keepdims=True) * 255.0
    dist = np.linalg.norm(colours[:, None, :] - refs[None], axis=-1).min(axis=1)
    on_palette = float((dist < 100).mean()) if lit.any() else 0.0
    return black_fraction > 0.7 and on_palette > 0.6


def detect_input_kind(path: str | os.PathLike, input_type: str = "auto", *, samples: int = 5) -> str:
    """``"skeleton"`` or ``"video"``. ``input_type`` video/skeleton force the answer; auto samples a few frames."""
    if input_type not in INPUT_TYPES:
        raise InvalidInput(f"input_type must be one of {', '.join(INPUT_TYPES)}, got {input_type!r}",
                           field="input_type", value=input_type,
                           hint="Use auto to detect, video for a recording of a person, skeleton for a pose video.")
    if input_type != "auto":
        return input_type
    from ..video import iter_sampled, probe_video

    info = probe_video(path)
    count = max(1, info.frame_count)
    positions = sorted({int(count * (i + 0.5) / samples) for i in range(samples)})
    votes = []
    for start in positions:
        # Seek to each position and decode one small frame: cost independent of the video's length.
        for sampled in iter_sampled(path, start_frame=min(start, count - 1), max_frames=1, size=(256, 256)):
            votes.append(frame_looks_like_skeleton(sampled.image))
    decided = [v for v in votes if v is not None]
    kind = "skeleton" if decided and sum(decided) * 2 > len(decided) else "video"
    log.info("input %s looks like a %s video (skeleton votes %s)", os.fspath(path), kind, votes)
    return kind
