"""What the pose stage saw and where it had to guess: per-frame report, keypoints.json, a summary in words."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..messages import Message
from .parts import BODY, FACE, FEET, GATED_PARTS, LEFT_HAND, RIGHT_HAND, names, report_parts
from .repair import DETECTED, MISSING, REPAIRED, STATUS_NAMES, runs

_RANGES = {"body": BODY, "feet": FEET, "face": FACE, "left_hand": LEFT_HAND, "right_hand": RIGHT_HAND}


@dataclass
class PersonPose:
    track_id: int
    subject: bool
    box: np.ndarray | None  # x1 y1 x2 y2 in output pixels (None when not seen in this frame)
    score: float  # detector score (0 when not seen)
    xy: np.ndarray  # (K, 2) output pixels after repair (NaN = missing); K = 17 or 133 (parts.py)
    scores: np.ndarray  # (K,) model confidence (0 where not seen)
    status: np.ndarray  # (K,) DETECTED / REPAIRED / MISSING

    def to_dict(self) -> dict[str, Any]:
        kps = []
        for (x, y), s, st in zip(self.xy, self.scores, self.status):
            known = st != MISSING and np.isfinite(x) and np.isfinite(y)
            kps.append([round(float(x), 2) if known else None, round(float(y), 2) if known else None,
                        round(float(s), 4), STATUS_NAMES[int(st)]])
        return {"track_id": int(self.track_id), "subject": bool(self.subject),
                "box": None if self.box is None else [round(float(v), 2) for v in self.box],
                "score": round(float(self.score), 4), "keypoints": kps}


@dataclass
class FramePose:
    index: int  # sampled (output) frame number
    source_index: int  # frame number in the source video
    time: float  # seconds in the source video
    people: list[PersonPose] = field(default_factory=list)

    @property
    def subject(self) -> PersonPose | None:
        return next((p for p in self.people if p.subject), None)

    def drawable(self, draw: str = "subject") -> list[np.ndarray]:
        """(K, 2) per person drawn, NaN where missing (body-only drawings take ``[:17]``)."""
        chosen = self.people if draw == "all" else [p for p in self.people if p.subject]
        return [np.where((p.status != MISSING)[:, None], p.xy, np.nan) for p in chosen]


def _ranges(frames: list[int] | np.ndarray, limit: int = 3) -> Message:
    """"frame 3" / "frames 3\u20135, 9 and 2 more"."""
    mask = np.zeros(max(frames) + 1 if len(frames) else 0, bool)
    mask[list(frames)] = True
    parts = [f"{s}" if s == e else f"{s}\u2013{e}" for s, e in runs(mask)]
    text = ", ".join(parts[:limit])
    if len(parts) > limit:
        return Message("pose.frames_more", list=text, more=len(parts) - limit)
    return Message("pose.frame" if len(frames) == 1 else "pose.frames", list=text)


@dataclass
class PoseReport:
    frames: list[FramePose]
    fps: float  # of the sampled frames
    width: int
    height: int
    stride: int
    provider: str
    preset: str
    demo: bool = False
    subject_seen: np.ndarray | None = None  # (F,) the subject was detected in this frame (not filled)
    warnings: list[str] = field(default_factory=list)

    # --- per-frame figures ---------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        status = self._subject_status()
        return {name: int((status == code).sum()) for code, name in enumerate(STATUS_NAMES)}

    @property
    def keypoints(self) -> int:
        """17 or 133: the subject's keypoint count (every person of a report has the same)."""
        return next((len(p.status) for f in self.frames for p in f.people), 17)

    def _subject_status(self) -> np.ndarray:
        k = self.keypoints
        rows = [f.subject.status if f.subject is not None else np.full(k, MISSING, np.int8) for f in self.frames]
        return np.array(rows, np.int8).reshape(-1, k)

    def part_status(self) -> dict[str, np.ndarray]:
        """Per report part (head, arms, legs, hands, face), the subject's status in each sampled frame: MISSING
        where the part is not drawn whole (a body part: any of its points; a hand or the face: all of them, as they
        are seen or lost as one), else REPAIRED where any of its points was filled, else DETECTED."""
        status = self._subject_status()
        out = {}
        for part, joints in report_parts(status.shape[1]).items():
            sub = status[:, list(joints)]
            lost = (sub == MISSING).all(axis=1) if part in GATED_PARTS else (sub == MISSING).any(axis=1)
            out[part] = np.where(lost, MISSING, np.where((sub == REPAIRED).any(axis=1), REPAIRED, DETECTED))
        return out

    def part_timeline(self) -> dict[str, Any]:
        """The job page's picture of :meth:`part_status`: one row per part, sampled frames along x."""
        return {"codes": list(STATUS_NAMES), "frames": [f.index for f in self.frames],
                "times": [round(f.time, 3) for f in self.frames],
                "rows": [{"part": part, "code": "pose.part." + part.replace(" ", "_"),
                          "status": "".join("drm"[int(s)] for s in row)}
                         for part, row in self.part_status().items()]}

    def per_frame(self) -> list[dict[str, Any]]:
        status = self._subject_status()
        out = []
        for f, st in zip(self.frames, status):
            s = f.subject
            out.append({"index": f.index, "detected": int((st == DETECTED).sum()),
                        "repaired": int((st == REPAIRED).sum()), "missing": int((st == MISSING).sum()),
                        "box": None if s is None or s.box is None else [round(float(v), 1) for v in s.box],
                        "score": 0.0 if s is None else round(float(s.score), 3)})
        return out

    def summary(self) -> str:
        """The report in sentences: a :class:`Message` (English text + codes; a warning without a code is kept as
        English text)."""
        n = len(self.frames)
        if not n:
            return Message("pose.no_frames")
        status = self._subject_status()
        total = status.size
        det, rep, mis = (round(float((status == c).sum() / total * 100)) for c in (DETECTED, REPAIRED, MISSING))
        lines = []
        if self.demo:
            lines.append(Message("pose.demo"))
        seen = self.subject_seen if self.subject_seen is not None else np.ones(n, bool)
        lines.append(Message("pose.stats", frames=n, fps=f"{self.fps:.3g}", seen=int(seen.sum()), detected=det,
                             repaired=rep, missing=mis))
        absent = np.flatnonzero(~seen)
        if len(absent):
            lines.append(Message("pose.absent", frames=_ranges(absent)))
        for part, row in self.part_status().items():
            repaired = np.flatnonzero((row == REPAIRED) & seen)
            missing = np.flatnonzero(row == MISSING)
            name = Message("pose.part." + part.replace(" ", "_"))
            if len(repaired):
                lines.append(Message("pose.part_repaired", part=name, frames=_ranges(repaired)))
            if len(missing):
                lines.append(Message("pose.part_missing", part=name, frames=_ranges(missing)))
        lines.append(Message("pose.runtime", provider=self.provider, preset=self.preset))
        lines.extend(w if w.endswith(".") else w + "." for w in self.warnings)
        return Message.join(lines)

    # --- keypoints.json ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 2,
            "format": ("COCO-17 body (17 keypoints) or COCO-WholeBody (133); x, y in pixels of the output frame; "
                       "status detected|repaired|missing"),
            "keypoint_names": list(names(self.keypoints)),
            "parts": {name: [part.start, part.stop] for name, part in _RANGES.items()
                      if part.stop <= self.keypoints},
            "part_status": self.part_timeline(),
            "width": self.width, "height": self.height, "fps": self.fps, "stride": self.stride,
            "provider": self.provider, "preset": self.preset, "demo": self.demo,
            "summary": self.summary(), "counts": self.counts(), "warnings": list(self.warnings),
            "frames": [{"index": f.index, "source_index": f.source_index, "time": round(f.time, 4),
                        "people": [p.to_dict() for p in f.people]} for f in self.frames],
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write keypoints.json atomically (temp file + rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(self.to_dict(), fh, separators=(",", ":"))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path
