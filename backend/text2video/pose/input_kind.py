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


def _keyframes(path: str | os.PathLike, samples: int) -> list[np.ndarray]:
    """Up to ``samples`` keyframes spread over the video, small (256 px).

    Seeking lands on a keyframe and we decode just that one frame: the cost does not depend on the video's length
    or GOP size (decoding from a keyframe up to an exact position can mean hundreds of frames per sample).
    """
    import av
    import cv2

    from ..video.probe import open_input

    frames, seen = [], set()
    with open_input(path) as container:
        stream = container.streams.video[0]
        duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else (
            container.duration / 1e6 if container.duration else 0.0)
        start = stream.start_time or 0
        for i in range(samples):
            try:
                if duration > 0 and stream.time_base:
                    target = start + int(duration * i / samples / stream.time_base)
                    container.seek(target, stream=stream, backward=True, any_frame=False)
                elif i:
                    break  # no duration: the first frame is all we can cheaply get
                frame = next(iter(container.decode(stream)), None)
            except av.error.FFmpegError:
                break  # a damaged tail: judge on what decoded
            if frame is not None:
                if frame.pts not in seen:
                    seen.add(frame.pts)
                    image = frame.to_ndarray(format="rgb24")
                    scale = 256 / max(image.shape[:2])
                    if scale < 1:
                        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                    frames.append(image)
    return frames


def detect_input_kind(path: str | os.PathLike, input_type: str = "auto", *, samples: int = 5) -> str:
    """``"skeleton"`` or ``"video"``. ``input_type`` video/skeleton force the answer; auto samples a few frames."""
    if input_type not in INPUT_TYPES:
        raise InvalidInput(f"input_type must be one of {', '.join(INPUT_TYPES)}, got {input_type!r}",
                           field="input_type", value=input_type,
                           hint="Use auto to detect, video for a recording of a person, skeleton for a pose video.")
    if input_type != "auto":
        return input_type
    votes = [frame_looks_like_skeleton(frame) for frame in _keyframes(path, samples)]
    decided = [v for v in votes if v is not None]
    kind = "skeleton" if decided and sum(decided) * 2 > len(decided) else "video"
    log.info("input %s looks like a %s video (skeleton votes %s)", os.fspath(path), kind, votes)
    return kind
