"""Follow people across sampled frames by box overlap, and pick the main subject.

Tracks are matched greedily by IoU between each live track's predicted box (last box moved by its recent
velocity, so two people crossing keep their identities) and the new detections. A track that finds no match is
kept alive for ``max_lost`` frames (short occlusions); the subject is re-linked to a new track that starts near
where it was lost, so a longer occlusion does not switch to someone else standing elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..exceptions import InvalidInput
from .detector import box_iou

SUBJECT_MODES = ("auto", "largest", "central")


@dataclass
class Track:
    id: int
    boxes: dict[int, np.ndarray] = field(default_factory=dict)  # frame -> box
    detections: dict[int, int] = field(default_factory=dict)  # frame -> detection index in that frame
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))
    lost: int = 0

    @property
    def first(self) -> int:
        return min(self.boxes)

    @property
    def last(self) -> int:
        return max(self.boxes)

    def predict(self, frame: int) -> np.ndarray:
        return self.boxes[self.last] + self.velocity * (frame - self.last)


class IoUTracker:
    def __init__(self, *, iou_threshold: float = 0.2, max_lost: int = 8) -> None:
        self.iou_threshold = iou_threshold
        self.max_lost = max_lost
        self.tracks: list[Track] = []
        self._live: list[Track] = []

    def update(self, frame: int, boxes: np.ndarray) -> list[int]:
        """Assign each box of ``frame`` to a track; returns the track id of each box."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        ids = [-1] * len(boxes)
        if self._live and len(boxes):
            predicted = np.stack([t.predict(frame) for t in self._live])
            iou = box_iou(predicted, boxes)
            while True:
                ti, di = np.unravel_index(np.argmax(iou), iou.shape)
                if iou[ti, di] < self.iou_threshold:
                    break
                track = self._live[ti]
                last = track.boxes[track.last]
                step = frame - track.last
                # Smoothed velocity: enough to carry a box through a crossing, not enough to fling it on jitter.
                track.velocity = 0.5 * track.velocity + 0.5 * (boxes[di] - last) / max(step, 1)
                track.boxes[frame] = boxes[di]
                track.detections[frame] = int(di)
                track.lost = 0
                ids[di] = track.id
                iou[ti, :] = -1
                iou[:, di] = -1
        for track in self._live:
            if frame not in track.boxes:
                track.lost += 1
        self._live = [t for t in self._live if t.lost <= self.max_lost]
        for di, tid in enumerate(ids):
            if tid < 0:
                track = Track(id=len(self.tracks), boxes={frame: boxes[di]}, detections={frame: di})
                self.tracks.append(track)
                self._live.append(track)
                ids[di] = track.id
        return ids


def _subject_score(box: np.ndarray, frame_size: tuple[int, int], mode: str) -> float:
    w, h = frame_size
    area = max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]) / (w * h)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    # 1 at the centre, 0 at a corner
    centrality = 1.0 - np.hypot((cx - w / 2) / (w / 2), (cy - h / 2) / (h / 2)) / np.sqrt(2)
    if mode == "largest":
        return area
    if mode == "central":
        return centrality
    return area * (0.25 + centrality)  # auto: big and near the middle; size dominates


def choose_subject(tracks: list[Track], frame_size: tuple[int, int], *, mode: str = "auto",
                   choose_frames: int = 5) -> Track | None:
    """The track that is the largest / most central over the first ``choose_frames`` frames in which anyone is seen."""
    if mode not in SUBJECT_MODES:
        raise InvalidInput(f"unknown subject mode {mode!r}", field="subject", value=mode,
                           hint=f"Use one of: {', '.join(SUBJECT_MODES)}.")
    if not tracks:
        return None
    frames = sorted({f for t in tracks for f in t.boxes})[:choose_frames]
    best, best_score = None, -1.0
    for track in tracks:
        seen = [f for f in frames if f in track.boxes]
        if not seen:
            continue
        # Averaged over ALL the window frames: someone seen only once scores low.
        score = sum(_subject_score(track.boxes[f], frame_size, mode) for f in seen) / len(frames)
        if score > best_score:
            best, best_score = track, score
    return best


def follow_subject(tracks: list[Track], subject: Track, *, relink_frames: int = 30,
                   relink_distance: float = 1.0) -> list[Track]:
    """The subject's track followed by the tracks that continue it after it was lost (re-identified by place/size).

    A later track continues the subject when it starts within ``relink_frames`` of the subject's last sighting,
    its centre lies within ``relink_distance`` box diagonals of where the subject was last seen, and its size is
    within a factor 2.
    """
    chain = [subject]
    used = {subject.id}
    while True:
        current = chain[-1]
        end = current.last
        box = current.boxes[end]
        diag = np.hypot(box[2] - box[0], box[3] - box[1])
        centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
        area = max(1e-6, (box[2] - box[0]) * (box[3] - box[1]))
        candidates = []
        for t in tracks:
            if t.id in used or t.first <= end or t.first - end > relink_frames:
                continue
            b = t.boxes[t.first]
            c = np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])
            ratio = (b[2] - b[0]) * (b[3] - b[1]) / area
            dist = np.linalg.norm(c - centre) / max(diag, 1e-6)
            if dist <= relink_distance and 0.5 <= ratio <= 2.0:
                candidates.append((t.first, dist, t))
        if not candidates:
            return chain
        candidates.sort(key=lambda c: (c[0], c[1]))
        chain.append(candidates[0][2])
        used.add(candidates[0][2].id)
