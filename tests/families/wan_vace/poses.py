"""Hand-made COCO-WholeBody keypoints for the drawing tests, laid out so that every limb, face dot and hand edge can
be looked at on its own (long limbs, separate dots, fingers fanned out)."""

from __future__ import annotations

import numpy as np

# COCO-17 (x, y) in pixels of an 832 x 480 frame: facing the camera, so the person's right side is on screen left.
DANCER_832x480 = np.array([
    (416, 100), (466, 60), (366, 60), (516, 30), (316, 30),  # nose, left eye, right eye, left ear, right ear
    (516, 200), (316, 200), (596, 260), (236, 260), (676, 320), (156, 320),  # shoulders, elbows, wrists (L, R)
    (466, 330), (366, 330), (486, 400), (346, 400), (506, 470), (326, 470),  # hips, knees, ankles (L, R)
], dtype=np.float64)


def dancer(width: int = 832, height: int = 480, score: float = 0.9) -> np.ndarray:
    """(133, 3) x, y, score: the dancer's body scaled to the frame, feet unknown, face dots in two rows of 34
    (20 px apart at 832 x 480), left hand fanned out around (150, 420), right hand around (700, 420)."""
    sx, sy = width / 832, height / 480
    points = np.full((133, 3), score)
    points[:17, :2] = DANCER_832x480
    points[17:23, :2] = np.nan
    points[23:57, :2] = np.c_[60 + 20 * np.arange(34), np.full(34, 150.0)]
    points[57:91, :2] = np.c_[70 + 20 * np.arange(34), np.full(34, 175.0)]
    points[91:112, :2] = fanned_hand((150, 420))
    points[112:133, :2] = fanned_hand((700, 420))
    points[:, :2] *= (sx, sy)
    return points


def fanned_hand(wrist: tuple[float, float], segment: float = 18.0) -> np.ndarray:
    """(21, 2): the wrist, then 5 fingers of 4 segments each, spread over 160 degrees upwards."""
    out = [np.asarray(wrist, np.float64)]
    for finger in range(5):
        angle = np.radians(-170 + 40 * finger)
        step = segment * np.array([np.cos(angle), np.sin(angle)])
        out += [out[0] + step * (j + 1) for j in range(4)]
    return np.array(out)
