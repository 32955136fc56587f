"""Repair a keypoint track: fill short gaps, hold briefly or drop long ones (never invent), smooth jitter.

Works on one person's track over the sampled frames: ``xy`` (F, K, 2) and ``scores`` (F, K), K = 17 or 133
(layout in :mod:`.parts`); a frame where the person was not seen has score 0. Keypoints under ``score_threshold``
count as missing, and so does a whole hand or the face in a frame where its points' mean score is under
``part_threshold`` (a hand the model barely sees is not drawn at all, rather than as a few stray fingers).
- a gap of up to ``max_gap`` frames with known values on both sides is filled. With ``fill="bone"`` a joint whose
  parent (:func:`.parts.parents`: elbow -> shoulder, wrist -> elbow, knee -> hip, ankle -> knee, hand -> wrist,
  face -> nose, foot -> ankle) is known through the gap moves with it: the bone's angle and length are
  interpolated about the parent. Otherwise (roots, parent also lost, or ``fill="linear"``) the position is
  interpolated linearly in time;
- a longer gap (or one at the start/end of the video) keeps the nearest known value (its bone, when the parent is
  known) for ``hold`` frames on each side and stays missing in between: a limb is drawn only when both its ends
  are known, so it disappears;
- One-Euro filtering (run forwards and backwards and averaged, so there is no lag) removes jitter while letting
  fast movements through; it restarts after every missing stretch.

The defaults come from ``bench/pose_repair.py`` on a real dance track (figures in the README's pose section).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .parts import GATED_PARTS, fill_order, parents

DETECTED, REPAIRED, MISSING = 0, 1, 2
STATUS_NAMES = ("detected", "repaired", "missing")
FILL_METHODS = ("bone", "linear")


@dataclass
class RepairOptions:
    score_threshold: float = 0.3  # SimCC confidence under which a keypoint is missing
    part_threshold: float = 0.3  # hands, face: mean confidence of the part under which the whole part is missing
    fill: str = "bone"  # bone: limb joints move with their parent | linear: every joint in a straight line
    max_gap: int = 8  # sampled frames: longest gap filled (measured: beyond it the p90 error passes 0.3 torso heights)
    max_turn: float = 60.0  # degrees: a bone turning more across a gap is left missing (fast motion: a guess)
    turn_min_length: float = 0.02  # of the frame height: shorter bones (nose to nose tip) have no reliable angle
    hold: int = 0  # sampled frames a known value is held into a longer gap (each side)
    smooth: bool = True
    min_cutoff: float = 1.5  # One-Euro: Hz; lower = smoother at rest
    beta: float = 1.0  # One-Euro: speed coefficient (per frame-height per second); higher = less lag when moving
    d_cutoff: float = 1.0  # One-Euro: Hz, for the speed estimate

    def __post_init__(self) -> None:
        if self.fill not in FILL_METHODS:
            from ..exceptions import InvalidInput

            raise InvalidInput(f"unknown fill method {self.fill!r}", field="fill", value=self.fill,
                               hint=f"Use one of: {', '.join(FILL_METHODS)}.")


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) index pairs of the True runs of a 1-D boolean array."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        return []
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(s), int(e) - 1) for s, e in zip(edges[::2], edges[1::2])]


def fill_gaps(xy: np.ndarray, known: np.ndarray, *, max_gap: int, hold: int) -> tuple[np.ndarray, np.ndarray]:
    """Fill gaps in one keypoint's track linearly: xy (F, 2), known (F,) -> (xy, status (F,))."""
    xy = np.array(xy, np.float64)
    n = len(known)
    status = np.where(known, DETECTED, MISSING).astype(np.int8)
    xy[~known] = np.nan
    if not known.any():
        return xy, status
    for s, e in runs(~known):
        inner = s > 0 and e < n - 1
        if inner and e - s + 1 <= max_gap:
            a, b = xy[s - 1], xy[e + 1]
            t = (np.arange(s, e + 1) - (s - 1)) / (e + 2 - s)
            xy[s:e + 1] = a + (b - a) * t[:, None]
            status[s:e + 1] = REPAIRED
            continue
        if s > 0:
            stop = min(e, s + hold - 1)
            xy[s:stop + 1] = xy[s - 1]
            status[s:stop + 1] = REPAIRED
        if e < n - 1:
            start = max(s, e - hold + 1)
            fill = status[start:e + 1] == MISSING
            xy[start:e + 1][fill] = xy[e + 1]
            status[start:e + 1][fill] = REPAIRED
    return xy, status


def bone_turn(start: np.ndarray, end: np.ndarray) -> float:
    """Signed angle (radians, -pi..pi) from bone vector ``start`` to ``end``, the shorter way round."""
    a0, a1 = math.atan2(start[1], start[0]), math.atan2(end[1], end[0])
    return (a1 - a0 + math.pi) % (2 * math.pi) - math.pi


def _bones(start: np.ndarray, end: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Bone vectors (T, 2) turning from ``start`` to ``end`` (the shorter way round) and stretching linearly."""
    angle = math.atan2(start[1], start[0]) + bone_turn(start, end) * t
    length = np.hypot(*start) + (np.hypot(*end) - np.hypot(*start)) * t
    return np.stack([np.cos(angle), np.sin(angle)], axis=1) * length[:, None]


def fill_about_parent(xy: np.ndarray, known: np.ndarray, parent_xy: np.ndarray, parent_ok: np.ndarray, *,
                      max_gap: int, hold: int, max_turn: float = 180.0,
                      min_length: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`fill_gaps`, but where the parent is known through a gap the joint moves with it: bone angle and
    length interpolated about the parent (short gaps), or the last bone kept (held frames). A short gap across
    which a bone of at least ``min_length`` pixels turns by more than ``max_turn`` degrees stays missing: the limb
    swung too fast to guess (a shorter bone's angle is mostly jitter, and its error small whatever it does)."""
    out, status = fill_gaps(xy, known, max_gap=max_gap, hold=hold)
    n = len(known)
    for s, e in runs(~known):
        if s > 0 and e < n - 1 and e - s + 1 <= max_gap:
            if parent_ok[s - 1:e + 2].all():
                t = (np.arange(s, e + 1) - (s - 1)) / (e + 2 - s)
                start, end = out[s - 1] - parent_xy[s - 1], out[e + 1] - parent_xy[e + 1]
                long_bone = min(np.hypot(*start), np.hypot(*end)) >= min_length
                if long_bone and abs(bone_turn(start, end)) > math.radians(max_turn):
                    out[s:e + 1], status[s:e + 1] = np.nan, MISSING
                    continue
                out[s:e + 1] = parent_xy[s:e + 1] + _bones(start, end, t)
            continue
        for anchor, frames in ((s - 1, range(s, min(e, s + hold - 1) + 1)),
                               (e + 1, range(max(s, e - hold + 1), e + 1))):
            if 0 <= anchor < n and parent_ok[anchor]:
                for f in frames:
                    if status[f] == REPAIRED and parent_ok[f] and np.isfinite(out[anchor]).all():
                        out[f] = parent_xy[f] + out[anchor] - parent_xy[anchor]
    return out, status


def one_euro(values: np.ndarray, dt: float, *, min_cutoff: float, beta: float, d_cutoff: float) -> np.ndarray:
    """Causal One-Euro filter over the first axis of ``values`` (T, D), sampled every ``dt`` seconds; each column
    is filtered on its own (so many keypoints can go through one call)."""
    values = np.asarray(values, np.float64)
    out = np.empty_like(values)
    if not len(values):
        return out
    x_prev = values[0].copy()
    dx_prev = np.zeros_like(x_prev)
    out[0] = x_prev
    tau_d = 1.0 / (2 * math.pi * d_cutoff)
    a_d = 1.0 / (1.0 + tau_d / dt)
    for i in range(1, len(values)):
        dx = (values[i] - x_prev) / dt
        dx_hat = a_d * dx + (1 - a_d) * dx_prev
        cutoff = min_cutoff + beta * np.abs(dx_hat)
        tau = 1.0 / (2 * math.pi * cutoff)
        a = 1.0 / (1.0 + tau / dt)
        x_hat = a * values[i] + (1 - a) * x_prev
        out[i] = x_hat
        x_prev, dx_prev = x_hat, dx_hat
    return out


def smooth_track(xy: np.ndarray, usable: np.ndarray, fps: float, scale: float, options: RepairOptions) -> np.ndarray:
    """Zero-lag One-Euro smoothing of each run of usable frames; xy (F, 2) or (F, J, 2) in pixels with usable
    (F,) shared by the J joints; ``scale`` = frame height."""
    xy = np.array(xy, np.float64)
    dt = 1.0 / max(fps, 1e-6)
    for s, e in runs(usable):
        if e - s < 2:
            continue
        seg = xy[s:e + 1].reshape(e + 1 - s, -1) / scale  # speed in frame-heights per second, any resolution
        kw = dict(min_cutoff=options.min_cutoff, beta=options.beta, d_cutoff=options.d_cutoff)
        forward = one_euro(seg, dt, **kw)
        backward = one_euro(seg[::-1], dt, **kw)[::-1]
        xy[s:e + 1] = ((forward + backward) / 2 * scale).reshape(xy[s:e + 1].shape)
    return xy


def known_points(xy: np.ndarray, scores: np.ndarray, options: RepairOptions) -> np.ndarray:
    """(F, K) the model saw this point: confident, finite, and (hands, face) its whole part confident enough."""
    known = (scores >= options.score_threshold) & np.isfinite(xy).all(axis=2)
    for part in GATED_PARTS.values():
        if part.stop <= scores.shape[1]:
            seen = scores[:, part].mean(axis=1) >= options.part_threshold
            known[:, part] &= seen[:, None]
    return known


def repair_track(xy: np.ndarray, scores: np.ndarray, *, fps: float, scale: float,
                 options: RepairOptions | None = None) -> tuple[np.ndarray, np.ndarray]:
    """xy (F, K, 2), scores (F, K) -> repaired xy (NaN where missing) and status (F, K) of DETECTED/REPAIRED/MISSING.
    K = 17 or 133; another K is repaired joint by joint with no parents (linear fill)."""
    options = options or RepairOptions()
    xy = np.asarray(xy, np.float64)
    scores = np.asarray(scores, np.float64)
    frames, joints = scores.shape
    out = np.full((frames, joints, 2), np.nan)
    status = np.full((frames, joints), MISSING, np.int8)
    known = known_points(xy, scores, options)
    try:
        parent = parents(joints) if options.fill == "bone" else np.full(joints, -1)
    except ValueError:
        parent = np.full(joints, -1)
    for j in fill_order(parent):
        p = parent[j]
        if p < 0:
            out[:, j], status[:, j] = fill_gaps(xy[:, j], known[:, j], max_gap=options.max_gap, hold=options.hold)
        else:
            out[:, j], status[:, j] = fill_about_parent(xy[:, j], known[:, j], out[:, p], status[:, p] != MISSING,
                                                        max_gap=options.max_gap, hold=options.hold,
                                                        max_turn=options.max_turn,
                                                        min_length=options.turn_min_length * scale)
    _whole_parts(out, status)
    if options.smooth:
        _smooth_all(out, status != MISSING, fps, scale, options)
    return out, status


def _whole_parts(out: np.ndarray, status: np.ndarray) -> None:
    """A hand or the face that the model did not see in a frame is filled whole or not at all (no stray fingers):
    where none of its points was detected and some could not be filled, all of them are missing."""
    for part in GATED_PARTS.values():
        if part.stop > status.shape[1]:
            continue
        st = status[:, part]
        unfilled = ~(st == DETECTED).any(axis=1) & (st == MISSING).any(axis=1)
        status[unfilled, part] = MISSING
        out[unfilled, part] = np.nan


def _smooth_all(out: np.ndarray, usable: np.ndarray, fps: float, scale: float, options: RepairOptions) -> None:
    """Smooth every joint in place, in one filter pass per group of joints that are usable in the same frames
    (elementwise the same as one joint at a time, and 133 points cost about as much as a few)."""
    groups: dict[bytes, list[int]] = {}
    for j in range(usable.shape[1]):
        groups.setdefault(np.packbits(usable[:, j]).tobytes() + bytes([len(usable) % 8]), []).append(j)
    for members in groups.values():
        out[:, members] = smooth_track(out[:, members], usable[:, members[0]], fps, scale, options)
