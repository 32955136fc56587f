"""The pose video in the style Wan VACE was trained on: what VACE's own pre-processing (its DWPose ``pose`` annotator)
writes for the same keypoints.

Facts (ali-vilab/VACE ``vace/annotators/pose.py``, ``dwpose/util.py``, ``dwpose/wholebody.py``; the measured
agreement with that code is in tests/families/wan_vace/test_drawing.py):
- OpenPose-18 body from COCO-17 (neck = the shoulders' midpoint, there only when both shoulders are), drawn on a
  black canvas at the annotator's working size (shorter side 1024, both sides rounded to multiples of 64), then
  resized to the frame (INTER_AREA when the frame is smaller than the working canvas, INTER_LANCZOS4 when larger).
- 17 limbs as filled ellipses of half-width 4 working pixels in the OpenPose colours; the canvas is then multiplied
  by 0.6; then each joint with score > 0.3 is a filled circle of radius 4 at full colour.
- Hands (optional): 20 edges per hand as 2-px lines in HSV-rainbow colours, joints as radius-4 dots (0, 0, 255).
  Face (default): 68 landmarks as white radius-3 dots. Face and hand points are drawn when their score is >= 0.3.
- Red and blue are swapped on screen: the annotator reverses the channels of its map and VACE writes that as RGB,
  so the colours below (the annotator's) appear reversed in the returned RGB frame: neck->right shoulder
  (255, 0, 0) x 0.6 is dark blue (0, 0, 153) on screen.
"""

from __future__ import annotations

import colorsys
import math
from typing import Iterable

import cv2
import numpy as np

WORKING_SHORT_SIDE = 1024  # VACE's RESIZE_SIZE default
WORKING_MULTIPLE = 64
STICKWIDTH = 4  # limb ellipse half-width, working pixels
JOINT_RADIUS = 4
LIMB_DIMMING = 0.6
BODY_THRESHOLD = 0.3  # a body joint is drawn when its score is above this
PART_THRESHOLD = 0.3  # a face or hand point is drawn when its score is at least this
FACE_RADIUS = 3
FACE_COLOR = (255, 255, 255)
HAND_LINE_WIDTH = 2
HAND_DOT_RADIUS = 4
HAND_DOT_COLOR = (0, 0, 255)  # annotator order: red on screen

BODY_POINTS = 17  # COCO-17
WHOLEBODY_POINTS = 133  # COCO-WholeBody: 0-16 body, 17-22 feet, 23-90 face, 91-111 left hand, 112-132 right hand
FACE = slice(23, 91)
LEFT_HAND = slice(91, 112)
RIGHT_HAND = slice(112, 133)

# OpenPose-18 point i is COCO point COCO_OF_OPENPOSE[i]; None = the neck (made from the shoulders, COCO 5 and 6).
OPENPOSE_NAMES = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
                  "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
                  "right_eye", "left_eye", "right_ear", "left_ear")
COCO_OF_OPENPOSE = (0, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3)
SHOULDERS = (5, 6)

# OpenPose limbs (0-based OpenPose-18 indices), limb i drawn in OPENPOSE_COLORS[i]; joint j in OPENPOSE_COLORS[j].
LIMBS = ((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
         (1, 0), (0, 14), (14, 16), (0, 15), (15, 17))
OPENPOSE_COLORS = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
                   (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
                   (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85))

# The annotator's ``(canvas * 0.6).astype(np.uint8)`` as a table: the same values without a float64 copy of the canvas.
_DIMMED = (np.arange(256) * LIMB_DIMMING).astype(np.uint8)

HAND_EDGES = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11), (11, 12),
              (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20))
# Edge i's colour: hue i/20 at full saturation and value, as floats (cv2 rounds them as the annotator's call does).
HAND_COLORS = tuple(tuple(255 * c for c in colorsys.hsv_to_rgb(i / len(HAND_EDGES), 1.0, 1.0))
                    for i in range(len(HAND_EDGES)))


def _keypoints_with_scores(keypoints: np.ndarray, field: str = "keypoints") -> np.ndarray:
    """(K, 2+) x, y[, score] -> (K, 3) float64; a point with a NaN coordinate gets score 0 (unknown)."""
    kps = np.asarray(keypoints, dtype=np.float64)
    if kps.ndim != 2 or kps.shape[0] not in (BODY_POINTS, WHOLEBODY_POINTS) or kps.shape[1] < 2:
        raise ValueError(f"{field} must have shape (17, 2+) (COCO-17) or (133, 2+) (COCO-WholeBody) with x, y and "
                         f"optionally a score per point; got {kps.shape}")
    out = np.ones((kps.shape[0], 3))
    out[:, :2] = kps[:, :2]
    if kps.shape[1] >= 3:
        out[:, 2] = kps[:, 2]
    unknown = ~np.isfinite(out).all(axis=1)
    out[unknown] = (np.nan, np.nan, 0.0)
    return out


def to_openpose18(keypoints: np.ndarray) -> np.ndarray:
    """COCO-17 (or the body of COCO-WholeBody) -> OpenPose-18 (18, 3): x, y, score in OPENPOSE_NAMES order.

    ``keypoints``: (17 | 133, 2+) x, y[, score]; NaN coordinates = unknown (score 0; without a score column a known
    point scores 1). The neck is the shoulders' midpoint with score 1 when both shoulders score above 0.3 and is
    unknown (NaN, score 0) otherwise, as the annotator decides it.
    """
    kps = _keypoints_with_scores(keypoints)
    body = np.empty((len(COCO_OF_OPENPOSE), 3))
    for i, coco in enumerate(COCO_OF_OPENPOSE):
        if coco is not None:
            body[i] = kps[coco]
    shoulders = kps[list(SHOULDERS)]
    if (shoulders[:, 2] > BODY_THRESHOLD).all():
        body[1] = (*shoulders[:, :2].mean(axis=0), 1.0)
    else:
        body[1] = (np.nan, np.nan, 0.0)
    return body


def working_size(width: int, height: int) -> tuple[int, int]:
    """The annotator's canvas (width, height) for a frame: shorter side 1024, each side rounded to a multiple of 64."""
    k = WORKING_SHORT_SIDE / min(width, height)
    return (int(np.round(width * k / WORKING_MULTIPLE)) * WORKING_MULTIPLE,
            int(np.round(height * k / WORKING_MULTIPLE)) * WORKING_MULTIPLE)


def _to_working(people: list[np.ndarray], width: int, height: int, work: tuple[int, int]) -> list[np.ndarray]:
    """Frame pixels -> working pixels, pixel centres aligned (where the detector would have found them on the frame
    resized to the working canvas)."""
    scale = np.array([work[0] / width, work[1] / height])
    out = []
    for kps in people:
        moved = kps.copy()
        moved[:, :2] = (kps[:, :2] + 0.5) * scale - 0.5
        out.append(moved)
    return out


def _as_annotator_stores(points: np.ndarray, work: tuple[int, int]) -> np.ndarray:
    """The annotator stores coordinates divided by its canvas size and multiplies them back before truncating to
    int: done here too, so that every point lands on the same pixel as in its drawing."""
    out = points.copy()
    size = np.array(work, np.float64)
    out[:, :2] = (points[:, :2] / size) * size
    return out


def _draw_bodies(canvas: np.ndarray, bodies: list[np.ndarray]) -> np.ndarray:
    """Limbs (limb-major over people, as the annotator loops), dimming, then joints. Returns the new canvas."""
    for limb, (a, b) in enumerate(LIMBS):
        for body in bodies:
            if not (body[a, 2] > BODY_THRESHOLD and body[b, 2] > BODY_THRESHOLD):
                continue
            (xa, ya), (xb, yb) = body[a, :2], body[b, :2]
            length = math.hypot(ya - yb, xa - xb)
            angle = math.degrees(math.atan2(ya - yb, xa - xb))
            centre = (int(np.mean([xa, xb])), int(np.mean([ya, yb])))
            polygon = cv2.ellipse2Poly(centre, (int(length / 2), STICKWIDTH), int(angle), 0, 360, 1)
            cv2.fillConvexPoly(canvas, polygon, OPENPOSE_COLORS[limb])
    canvas = cv2.LUT(canvas, _DIMMED)
    for joint in range(len(COCO_OF_OPENPOSE)):
        for body in bodies:
            if body[joint, 2] > BODY_THRESHOLD:
                x, y = body[joint, :2]
                cv2.circle(canvas, (int(x), int(y)), JOINT_RADIUS, OPENPOSE_COLORS[joint], thickness=-1)
    return canvas


def _pixel(point: np.ndarray) -> tuple[int, int] | None:
    """A face or hand point's pixel, or None where the annotator leaves it out (low score, unknown, or on the
    canvas's first row or column: its test is ``int(x) > 0.01``)."""
    if not point[2] >= PART_THRESHOLD:
        return None
    x, y = int(point[0]), int(point[1])
    return (x, y) if x > 0 and y > 0 else None


def _draw_hands(canvas: np.ndarray, hands: list[np.ndarray]) -> None:
    for hand in hands:
        pixels = [_pixel(p) for p in hand]
        for edge, (a, b) in enumerate(HAND_EDGES):
            if pixels[a] is not None and pixels[b] is not None:
                cv2.line(canvas, pixels[a], pixels[b], HAND_COLORS[edge], thickness=HAND_LINE_WIDTH)
        for pixel in pixels:
            if pixel is not None:
                cv2.circle(canvas, pixel, HAND_DOT_RADIUS, HAND_DOT_COLOR, thickness=-1)


def _draw_faces(canvas: np.ndarray, faces: list[np.ndarray]) -> None:
    for face in faces:
        for pixel in map(_pixel, face):
            if pixel is not None:
                cv2.circle(canvas, pixel, FACE_RADIUS, FACE_COLOR, thickness=-1)


def draw_pose(people: Iterable[np.ndarray], width: int, height: int, *, hands: bool = False,
              face: bool = True) -> np.ndarray:
    """Draw people on a black (height, width, 3) uint8 RGB frame as VACE's pose annotator writes it.

    ``people``: arrays (17 | 133, 2+) of x, y[, score] in pixels of this frame, as ``render_skeleton`` takes them
    (``FramePose.drawable()``); NaN coordinates = unknown. 133 points also give the face (default on) and the hands
    (``hands=True``); 17 points draw the body only. Unknown or low-score points and their limbs are left out.
    """
    if not all(isinstance(v, (int, np.integer)) and v >= 1 for v in (width, height)):
        raise ValueError(f"width and height must be positive whole pixel counts; got {width!r} x {height!r}")
    width, height = int(width), int(height)
    people = [_keypoints_with_scores(p, f"people[{i}]") for i, p in enumerate(people)]
    work = working_size(width, height)
    people = _to_working(people, width, height, work)  # before the neck is made, as the annotator's order is
    canvas = np.zeros((work[1], work[0], 3), np.uint8)
    canvas = _draw_bodies(canvas, [_as_annotator_stores(to_openpose18(p), work) for p in people])
    whole = [p for p in people if len(p) == WHOLEBODY_POINTS]
    if hands:  # all left hands, then all right hands: the annotator's stacking order
        stacked = [p[LEFT_HAND] for p in whole] + [p[RIGHT_HAND] for p in whole]
        _draw_hands(canvas, [_as_annotator_stores(h, work) for h in stacked])
    if face:
        _draw_faces(canvas, [_as_annotator_stores(p[FACE], work) for p in whole])
    shown = np.ascontiguousarray(canvas[..., ::-1])  # VACE's channel reversal: what its videos show
    larger = width * height > work[0] * work[1]
    return cv2.resize(shown, (width, height), interpolation=cv2.INTER_LANCZOS4 if larger else cv2.INTER_AREA)
