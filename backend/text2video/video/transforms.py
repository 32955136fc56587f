"""Frame-level transforms on RGB uint8 arrays (H, W, 3)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ..exceptions import InvalidInput


def cover_size(src_w: int, src_h: int, dst_w: int, dst_h: int) -> tuple[int, int]:
    """Size that scales (src_w, src_h) uniformly so that it covers (dst_w, dst_h): the shorter side fits."""
    scale = max(dst_w / src_w, dst_h / src_h)
    # Rounding must never leave the scaled picture a pixel short of the crop.
    return max(dst_w, int(round(src_w * scale))), max(dst_h, int(round(src_h * scale)))


def center_crop(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = frame.shape[:2]
    if w < width or h < height:
        raise ValueError(f"cannot crop {w}x{h} to {width}x{height}")
    top, left = (h - height) // 2, (w - width) // 2
    return frame[top:top + height, left:left + width]


def resize_and_crop(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale so the picture covers ``width`` x ``height`` (shorter side fits), then crop the centre.

    This is how Follow-Your-Pose prepares its pose video (shorter side to 512, centre crop).
    """
    _check_size(width, height)
    h, w = frame.shape[:2]
    if (w, h) != (width, height):
        new_w, new_h = cover_size(w, h, width, height)
        if (new_w, new_h) != (w, h):
            # AREA averages when shrinking (no aliasing on thin skeleton strokes); LINEAR when enlarging.
            interp = cv2.INTER_AREA if new_w * new_h < w * h else cv2.INTER_LINEAR
            frame = cv2.resize(frame, (new_w, new_h), interpolation=interp)
        frame = center_crop(frame, width, height)
    return np.ascontiguousarray(frame)


def _check_size(width: Any, height: Any) -> None:
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
            raise InvalidInput(f"{name} must be a positive integer, got {value!r}.", field=name, value=value,
                               hint=f"Pass a size such as {name}=512.")


def apply_orientation(frame: np.ndarray, orientation: str) -> np.ndarray:
    """Turn a decoded picture for display (orientation names as returned by probe.orientation_of)."""
    if orientation == "none":
        return frame
    if orientation == "clock":
        out = np.rot90(frame, -1)
    elif orientation == "cclock":
        out = np.rot90(frame, 1)
    elif orientation == "180":
        out = frame[::-1, ::-1]
    elif orientation == "hflip":
        out = frame[:, ::-1]
    elif orientation == "vflip":
        out = frame[::-1]
    elif orientation == "transpose":  # 90 counter-clockwise then vertical flip
        out = frame.swapaxes(0, 1)
    elif orientation == "antitranspose":  # 90 clockwise then vertical flip
        out = frame[::-1, ::-1].swapaxes(0, 1)
    else:
        raise ValueError(f"unknown orientation {orientation!r}")
    return np.ascontiguousarray(out)


def as_rgb_uint8(frame: Any) -> np.ndarray:
    """Accept HxWx3 uint8, HxWx4 (alpha dropped), HxW grey, float in [0, 1], or a PIL image; return HxWx3 uint8."""
    if hasattr(frame, "detach"):  # a torch tensor: no torch import here
        frame = frame.detach().cpu().numpy()
    arr = np.asarray(frame)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise InvalidInput(f"A video frame must be an HxWx3 RGB array, got shape {arr.shape}.", field="frame",
                           value=tuple(arr.shape), hint="Pass frames as (height, width, 3) arrays.")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating):
            arr = np.clip(np.nan_to_num(arr) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        elif np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
            arr = np.clip(arr, 0, 255).astype(np.uint8)
        else:
            raise InvalidInput(f"Unsupported frame dtype {arr.dtype}.", field="frame", value=str(arr.dtype),
                               hint="Use uint8 in 0..255 or float in 0..1.")
    return np.ascontiguousarray(arr)


def pad_to_even(frame: np.ndarray) -> np.ndarray:
    """H.264 yuv420p needs even width and height: repeat the last row/column where one is odd."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def fit_height(frame: np.ndarray, height: int) -> np.ndarray:
    """Scale to ``height`` keeping the aspect ratio (for side-by-side panels)."""
    h, w = frame.shape[:2]
    if h == height:
        return frame
    new_w = max(1, int(round(w * height / h)))
    interp = cv2.INTER_AREA if height < h else cv2.INTER_LINEAR
    return cv2.resize(frame, (new_w, height), interpolation=interp)


__all__ = ["resize_and_crop", "center_crop", "cover_size", "apply_orientation", "as_rgb_uint8", "pad_to_even",
           "fit_height"]
