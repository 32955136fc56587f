"""Gap filling measured on a real keypoint track: hide a limb joint for g sampled frames, repair, compare.

    from text2video.pose.repair_eval import measure_gaps
    rows = measure_gaps(xy, scores, fps=30, stride=5)   # xy (F, 17, 2) every source frame, scores (F, 17)
    rows[3]["p90"], rows[3]["filled"]                    # error in torso heights, fraction of hidden frames filled

The track is sampled like the product samples a video (every ``stride``-th frame, each of the ``stride`` phases
in turn), one joint is hidden for ``g`` consecutive sampled frames where the model saw it, the whole sampled track
goes through :func:`repair.repair_track`, and each filled frame's distance to what the model saw there is divided
by that frame's torso height (mid-shoulders to mid-hips), so the figures do not depend on the video's size.
Used by ``bench/pose_repair.py`` (prints the table) and by the test that holds the repair to its target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .parts import L_ANKLE, L_ELBOW, L_HIP, L_KNEE, L_SHOULDER, L_WRIST, R_ANKLE, R_ELBOW, R_HIP, R_KNEE, \
    R_SHOULDER, R_WRIST
from .repair import MISSING, RepairOptions, repair_track

LIMB_JOINTS = (L_ELBOW, R_ELBOW, L_WRIST, R_WRIST, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE)
GAPS = (1, 2, 3, 4, 5, 8)


@dataclass
class GapTrial:
    gap: int
    joint: int
    errors: np.ndarray  # torso heights, one per hidden frame that was filled
    hidden: int  # frames hidden


def torso_heights(xy: np.ndarray) -> np.ndarray:
    """(F, K, 2) -> (F,) distance from the shoulders' midpoint to the hips' midpoint."""
    shoulders = (xy[:, L_SHOULDER] + xy[:, R_SHOULDER]) / 2
    hips = (xy[:, L_HIP] + xy[:, R_HIP]) / 2
    return np.linalg.norm(shoulders - hips, axis=1)


def run_trials(xy: np.ndarray, scores: np.ndarray, *, fps: float, stride: int = 5, gaps=GAPS,
               joints=LIMB_JOINTS, options: RepairOptions | None = None, step: int = 1,
               scale: float | None = None) -> list[GapTrial]:
    """Every (phase, joint, gap, start) trial; ``step`` = spacing of the gap starts (1 = every sampled frame)."""
    options = options or RepairOptions()
    xy = np.asarray(xy, np.float64)
    scores = np.asarray(scores, np.float64)
    scale = float(scale or np.nanmax(xy[..., 1]))
    trials = []
    for phase in range(stride):
        sx, ss = xy[phase::stride], scores[phase::stride]
        seen = (ss >= options.score_threshold) & np.isfinite(sx).all(axis=2)
        torso = torso_heights(sx)
        n = len(sx)
        for joint in joints:
            for gap in gaps:
                for start in range(1, n - gap - 1, step):
                    stop = start + gap  # hidden: start .. stop-1; the frames either side must be seen
                    if not seen[start - 1:stop + 1, joint].all() or not np.isfinite(torso[start:stop]).all():
                        continue
                    hidden = ss.copy()
                    hidden[start:stop, joint] = 0.0
                    out, status = repair_track(sx, hidden, fps=fps / stride, scale=scale, options=options)
                    filled = status[start:stop, joint] != MISSING
                    err = np.linalg.norm(out[start:stop, joint] - sx[start:stop, joint], axis=1) / torso[start:stop]
                    trials.append(GapTrial(gap, int(joint), err[filled], gap))
    return trials


def summarise(trials: list[GapTrial], key: str = "gap") -> dict[int, dict[str, float]]:
    """Per gap (or per joint): trials, fraction of hidden frames filled, p50 / p90 / max error of the filled ones."""
    out: dict[int, dict[str, float]] = {}
    for value in sorted({getattr(t, key) for t in trials}):
        group = [t for t in trials if getattr(t, key) == value]
        errors = np.concatenate([t.errors for t in group]) if group else np.zeros(0)
        hidden = sum(t.hidden for t in group)
        row = {"trials": len(group), "filled": len(errors) / max(hidden, 1)}
        row.update({"p50": float(np.percentile(errors, 50)), "p90": float(np.percentile(errors, 90)),
                    "max": float(errors.max())} if len(errors) else {"p50": np.nan, "p90": np.nan, "max": np.nan})
        out[int(value)] = row
    return out


def measure_gaps(xy: np.ndarray, scores: np.ndarray, **kwargs) -> dict[int, dict[str, float]]:
    """:func:`run_trials` summarised per gap length."""
    return summarise(run_trials(xy, scores, **kwargs))
