"""COCO-17 skeleton definition and rendering in the style Follow-Your-Pose was trained on.

Style (measured on the reference skeleton videos, see shared/reference/README.md): black background, 19 limbs,
the person's LEFT limbs green (0, 255, 0), RIGHT limbs blue (0, 128, 255), torso and head links orange
(255, 153, 51), stroke about 1.3 % of the frame's shorter side, round line caps, anti-aliased edges, no joint dots.
(The old prototype swapped red and blue and drew thin strokes with dots: out of the adapter's training distribution.)
"""

from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np

from .parts import BODY, NUM_WHOLEBODY
from .parts import BODY_NAMES as KEYPOINT_NAMES

NUM_KEYPOINTS = len(KEYPOINT_NAMES)

LEFT = (0, 255, 0)
RIGHT = (0, 128, 255)
CENTER = (255, 153, 51)
COLORS = {"left": LEFT, "right": RIGHT, "center": CENTER}

# (a, b, side), in the drawing order of the training renders (later limbs paint over earlier ones).
LIMBS: tuple[tuple[int, int, str], ...] = (
    (15, 13, "left"), (13, 11, "left"), (16, 14, "right"), (14, 12, "right"),
    (11, 12, "center"), (5, 11, "center"), (6, 12, "center"), (5, 6, "center"),
    (5, 7, "left"), (6, 8, "right"), (7, 9, "left"), (8, 10, "right"),
    (1, 2, "center"), (0, 1, "center"), (0, 2, "center"), (1, 3, "center"), (2, 4, "center"),
    (3, 5, "center"), (4, 6, "center"),
)

# Calibrated on the reference renders: at 1080 px the stroke core is ~11 px (2 x area / perimeter of the limb masks)
# and ~13-14 px with the soft edge, as the reference README measures it; at 512 px ~5.4 px.
STROKE_FRACTION = 0.0108  # of the shorter side


def stroke_width(width: int, height: int) -> float:
    """Stroke width in pixels for a frame of this size (about 11.7 px at 1080, 5.5 px at 512)."""
    return STROKE_FRACTION * min(width, height)


def render_skeleton(people: Iterable[np.ndarray], width: int, height: int, *,
                    thickness: float | None = None) -> np.ndarray:
    """Draw people on a black RGB frame of ``height x width``.

    ``people``: arrays of shape (17, 2+) or (133, 2+) with x, y in pixels of this frame (of whole-body points only
    the 17 body points are drawn: the model was trained on body skeletons); a keypoint whose x or y is NaN is
    unknown, and a limb is drawn only when both of its ends are known.

    The training renders were drawn large and resized, so their strokes have fractional widths and soft edges:
    we draw on a supersampled canvas and area-downsample to get the same look at any output size.
    """
    people = [np.asarray(k, dtype=np.float64) for k in people]
    for kps in people:
        if kps.ndim != 2 or kps.shape[0] not in (NUM_KEYPOINTS, NUM_WHOLEBODY) or kps.shape[1] < 2:
            raise ValueError(f"keypoints must have shape (17, 2+) or (133, 2+), got {kps.shape}")
    people = [kps[BODY] for kps in people]
    t = stroke_width(width, height) if thickness is None else float(thickness)
    longest = max(width, height)
    ss = 4 if longest <= 640 else 2 if longest <= 1440 else 1
    frame = np.zeros((height, width, 3), np.uint8)
    segments = []  # (a_xy, b_xy, colour) in output pixels
    for kps in people:
        xy = kps[:, :2]
        known = np.isfinite(xy).all(axis=1)
        segments += [(xy[a], xy[b], COLORS[side]) for a, b, side in LIMBS if known[a] and known[b]]
    if not segments:
        return frame
    # Draw only the region the strokes can touch (a skeleton covers a small part of the frame): the supersampled
    # canvas is then small, and block-averaging it gives exactly the pixels a full-frame canvas would.
    ends = np.array([p for a, b, _ in segments for p in (a, b)])
    margin = t / 2 + 2
    x0, y0 = (max(0, int(np.floor(v))) for v in ends.min(axis=0) - margin)
    x1 = min(width, int(np.ceil(ends[:, 0].max() + margin)))
    y1 = min(height, int(np.ceil(ends[:, 1].max() + margin)))
    if x1 <= x0 or y1 <= y0:
        return frame  # entirely outside the frame
    canvas = np.zeros(((y1 - y0) * ss, (x1 - x0) * ss, 3), np.uint8)
    line_t = max(1, int(round(t * ss)))
    shift = 4  # sub-pixel endpoints: cv2 takes fixed-point coordinates with `shift` fractional bits
    scale = ss * (1 << shift)
    limit = 1 << 20  # keep far-off points inside cv2's coordinate range (cv2 clips the line itself)
    origin = np.array([x0, y0], np.float64)

    def fixed(p: np.ndarray) -> tuple[int, int]:
        # pixel centres: output pixel x covers canvas pixels [x*ss, (x+1)*ss), centre (x + 0.5) * ss - 0.5
        q = np.clip((p - origin + 0.5) * scale - (1 << shift) / 2, -limit, limit).round()
        return int(q[0]), int(q[1])

    for a, b, colour in segments:
        # Thick cv2 lines have round caps, like the training renders; LINE_AA gives their soft edges.
        cv2.line(canvas, fixed(a), fixed(b), colour, line_t, lineType=cv2.LINE_AA, shift=shift)
    if ss > 1:
        canvas = cv2.resize(canvas, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    frame[y0:y1, x0:x1] = canvas
    return frame


def measure_style(frame: np.ndarray) -> dict:
    """Colour and stroke width of each limb class in an RGB skeleton frame (tests, calibration, input detection).

    Returns ``{"left"|"right"|"center": {"color": (r, g, b), "width": px, "pixels": n} | None,
    "black_fraction": f, "limb_fraction": f}``. Colour = median of pixels close to the class colour; width =
    2 x area / perimeter of the class mask (a long stroke of width w and length L has area wL, perimeter ~2L).
    ``limb_fraction``: share of the non-black pixels that are close to one of the three limb colours.
    """
    peak = frame.max(axis=2)
    lit = peak > 60
    ys, xs = np.nonzero(lit)
    pixels = frame[ys, xs].astype(np.float32)  # only the lit pixels: a skeleton frame is mostly black
    refs = np.array([LEFT, RIGHT, CENTER], np.float32)
    dist = np.linalg.norm(pixels[:, None, :] - refs[None], axis=-1)
    label = dist.argmin(axis=-1)
    result: dict = {
        "black_fraction": float((peak < 40).mean()),
        "limb_fraction": float((dist.min(axis=-1) < 100).sum() / max(1, len(pixels))),
    }
    for k, name in enumerate(("left", "right", "center")):
        close = (dist[:, k] < 60) & (label == k)
        if close.sum() < 20:
            result[name] = None
            continue
        member = (dist[:, k] < 100) & (label == k)
        mask = np.zeros(frame.shape[:2], np.uint8)
        mask[ys[member], xs[member]] = 1
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        perimeter = sum(cv2.arcLength(c, True) for c in contours)
        color = tuple(int(v) for v in np.median(pixels[close], axis=0).round())
        result[name] = {"color": color, "width": float(2 * member.sum() / max(perimeter, 1e-6)),
                        "pixels": int(close.sum())}
    return result
