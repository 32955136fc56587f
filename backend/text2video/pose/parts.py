"""The keypoint layout: COCO-17 body presets and the COCO-WholeBody 133 points of the ``wholebody`` preset.

One home for the index ranges; everything else reads them from here. A person's keypoints are ``xy (K, 2)``,
``scores (K,)``, ``status (K,)`` with K = 17 (body presets) or 133 (wholebody), in COCO-WholeBody order:

    0-16    body (COCO-17: nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles; left before right)
    17-22   feet (left big toe, left small toe, left heel, right big toe, right small toe, right heel)
    23-90   face (68 landmarks, the iBUG 300-W order: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67)
    91-111  left hand (21: wrist, then thumb, index, middle, ring, little finger, 4 points each from the palm out)
    112-132 right hand (21, same order)

Anything drawn from the body only reads ``[:17]`` (:data:`BODY`).
"""

from __future__ import annotations

import numpy as np

BODY = slice(0, 17)
FEET = slice(17, 23)
FACE = slice(23, 91)
LEFT_HAND = slice(91, 112)
RIGHT_HAND = slice(112, 133)
NUM_BODY = 17
NUM_WHOLEBODY = 133

BODY_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
FEET_NAMES = ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel")
_FINGERS = ("thumb", "index", "middle", "ring", "little")
HAND_POINT_NAMES = ("wrist",) + tuple(f"{f}_{i}" for f in _FINGERS for i in range(1, 5))
WHOLEBODY_NAMES = (BODY_NAMES + FEET_NAMES + tuple(f"face_{i}" for i in range(68))
                   + tuple(f"left_hand_{n}" for n in HAND_POINT_NAMES)
                   + tuple(f"right_hand_{n}" for n in HAND_POINT_NAMES))

# Body joints by name (indices into BODY).
NOSE, L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 0, 5, 6, 7, 8, 9, 10
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 11, 12, 13, 14, 15, 16

# Parts the pose report names (and the job page draws as rows), in reading order. Hands and face exist only
# with 133 points; a 17-point track reports the body parts.
REPORT_PARTS: dict[str, tuple[int, ...]] = {
    "head": (0, 1, 2, 3, 4),
    "left arm": (L_SHOULDER, L_ELBOW, L_WRIST),
    "right arm": (R_SHOULDER, R_ELBOW, R_WRIST),
    "left leg": (L_HIP, L_KNEE, L_ANKLE),
    "right leg": (R_HIP, R_KNEE, R_ANKLE),
    "left hand": tuple(range(LEFT_HAND.start, LEFT_HAND.stop)),
    "right hand": tuple(range(RIGHT_HAND.start, RIGHT_HAND.stop)),
    "face": tuple(range(FACE.start, FACE.stop)),
}

# Whole parts that are seen or not as one (a hand with a few confident fingers is not a hand to draw).
GATED_PARTS: dict[str, slice] = {"left hand": LEFT_HAND, "right hand": RIGHT_HAND, "face": FACE}


def names(count: int) -> tuple[str, ...]:
    """Keypoint names for a track of ``count`` points (17 or 133)."""
    if count == NUM_BODY:
        return BODY_NAMES
    if count == NUM_WHOLEBODY:
        return WHOLEBODY_NAMES
    raise ValueError(f"a pose has 17 or 133 keypoints, got {count}")


def report_parts(count: int) -> dict[str, tuple[int, ...]]:
    """The report's parts that exist in a track of ``count`` points."""
    return {part: joints for part, joints in REPORT_PARTS.items() if max(joints) < count}


def parents(count: int) -> np.ndarray:
    """Parent of each keypoint for gap filling (-1 = a root, filled on its own): a limb joint moves with the joint
    it hangs from (elbow about shoulder, wrist about elbow, knee about hip, ankle about knee); feet hang from the
    ankles, hands from the body wrists, the face from the nose."""
    parent = np.full(len(names(count)), -1, np.int64)
    for child, par in ((L_ELBOW, L_SHOULDER), (R_ELBOW, R_SHOULDER), (L_WRIST, L_ELBOW), (R_WRIST, R_ELBOW),
                       (L_KNEE, L_HIP), (R_KNEE, R_HIP), (L_ANKLE, L_KNEE), (R_ANKLE, R_KNEE)):
        parent[child] = par
    if count == NUM_WHOLEBODY:
        parent[FEET.start:FEET.start + 3] = L_ANKLE
        parent[FEET.start + 3:FEET.stop] = R_ANKLE
        parent[FACE] = NOSE
        parent[LEFT_HAND] = L_WRIST
        parent[RIGHT_HAND] = R_WRIST
    return parent


def fill_order(parent: np.ndarray) -> list[int]:
    """Keypoint indices with every parent before its children (roots first, then by depth)."""
    depth = np.zeros(len(parent), np.int64)
    for j in range(len(parent)):
        k = j
        while parent[k] >= 0:
            depth[j] += 1
            k = parent[k]
    return [int(j) for j in np.argsort(depth, kind="stable")]
