"""Repair a keypoint track: fill short gaps, hold briefly or drop long ones (never invent), smooth jitter.

Works on one person's track over the sampled frames: ``xy`` (F, 17, 2) and ``scores`` (F, 17); a frame where
the person was not seen has score 0. Keypoints under ``score_threshold`` count as missing.
- a gap of up to ``max_gap`` frames with known values on both sides is interpolated linearly in time;
- a longer gap (or one at the start/end of the video) keeps the nearest known value for ``hold`` frames on each
  side and stays missing in between: a limb is drawn only when both its ends are known, so it disappears;
- One-Euro filtering (run forwards and backwards and averaged, so there is no lag) removes jitter while letting
  fast movements through; it restarts after every missing stretch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DETECTED, REPAIRED, MISSING = 0, 1, 2
STATUS_NAMES = ("detected", "repaired", "missing")


@dataclass
class RepairOptions:
    score_threshold: float = 0.3  # RTMPose SimCC confidence under which a keypoint is missing
    max_gap: int = 10  # sampled frames: longest gap filled by interpolation
    hold: int = 2  # sampled frames a known value is held into a longer gap (each side)
    smooth: bool = True
    min_cutoff: float = 1.5  # One-Euro: Hz; lower = smoother at rest
    beta: float = 1.0  # One-Euro: speed coefficient (per frame-height per second); higher = less lag when moving
    d_cutoff: float = 1.0  # One-Euro: Hz, for the speed estimate


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) index pairs of the True runs of a 1-D boolean array."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        return []
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(s), int(e) - 1) for s, e in zip(edges[::2], edges[1::2])]


def fill_gaps(xy: np.ndarray, known: np.ndarray, *, max_gap: int, hold: int) -> tuple[np.ndarray, np.ndarray]:
    """Fill gaps in one keypoint's track: xy (F, 2), known (F,) -> (xy, status (F,))."""
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


def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def one_euro(values: np.ndarray, dt: float, *, min_cutoff: float, beta: float, d_cutoff: float) -> np.ndarray:
    """Causal One-Euro filter over the first axis of ``values`` (T, D), sampled every ``dt`` seconds."""
    values = np.asarray(values, np.float64)
    out = np.empty_like(values)
    if not len(values):
        return out
    x_prev = values[0].copy()
    dx_prev = np.zeros_like(x_prev)
    out[0] = x_prev
    a_d = _alpha(d_cutoff, dt)
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
    """Zero-lag One-Euro smoothing of each run of usable frames; xy (F, 2) in pixels, ``scale`` = frame height."""
    xy = np.array(xy, np.float64)
    dt = 1.0 / max(fps, 1e-6)
    for s, e in runs(usable):
        if e - s < 2:
            continue
        seg = xy[s:e + 1] / scale  # the speed term is in frame-heights per second, whatever the resolution
        kw = dict(min_cutoff=options.min_cutoff, beta=options.beta, d_cutoff=options.d_cutoff)
        forward = one_euro(seg, dt, **kw)
        backward = one_euro(seg[::-1], dt, **kw)[::-1]
        xy[s:e + 1] = (forward + backward) / 2 * scale
    return xy


def repair_track(xy: np.ndarray, scores: np.ndarray, *, fps: float, scale: float,
                 options: RepairOptions | None = None) -> tuple[np.ndarray, np.ndarray]:
    """xy (F, K, 2), scores (F, K) -> repaired xy (NaN where missing) and status (F, K) of DETECTED/REPAIRED/MISSING."""
    options = options or RepairOptions()
    xy = np.asarray(xy, np.float64)
    scores = np.asarray(scores, np.float64)
    frames, joints = scores.shape
    out = np.full((frames, joints, 2), np.nan)
    status = np.full((frames, joints), MISSING, np.int8)
    for j in range(joints):
        known = (scores[:, j] >= options.score_threshold) & np.isfinite(xy[:, j]).all(axis=1)
        filled, st = fill_gaps(xy[:, j], known, max_gap=options.max_gap, hold=options.hold)
        if options.smooth:
            filled = smooth_track(filled, st != MISSING, fps, scale, options)
        out[:, j] = filled
        status[:, j] = st
    return out, status
