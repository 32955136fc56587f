"""The pose stage: a video (raw or skeleton) -> skeleton frames at the generation resolution + a pose report.

Raw video, in two passes so memory does not grow with the video's length:
1. decode only the sampled frames (streaming), detect people, estimate keypoints (17 COCO body points, or 133
   COCO-WholeBody points with the wholebody preset); keep keypoints only;
2. track people by box overlap, pick the subject, repair and smooth its keypoints (tiny arrays), then render
   the skeleton frames lazily in the training style.
Skeleton video: sampled, resized and centre-cropped exactly like a raw video's output, no estimation.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..exceptions import InvalidInput, NoPersonFound
from ..messages import Message
from ..models.layout import POSE_PRESETS, ModelPaths
from .detector import PersonDetector
from .estimator import PoseEstimator
from .input_kind import detect_input_kind
from .parts import BODY
from .repair import MISSING, RepairOptions, repair_track, runs
from .report import FramePose, PersonPose, PoseReport
from .session import create_session
from .skeleton import render_skeleton
from .tracking import IoUTracker, choose_subject, follow_subject

log = logging.getLogger(__name__)

DRAW_MODES = ("subject", "all")
ProgressFn = Callable[[int, int], None]


@dataclass
class PoseOptions:
    detection_threshold: float = 0.5  # person box score
    nms_threshold: float = 0.45
    max_people: int = 6  # largest boxes per frame that get a pose estimate
    subject: str = "auto"  # auto (big and central) | largest | central
    choose_frames: int = 5  # the subject is chosen over the first frames where anyone is seen
    max_lost: int = 8  # sampled frames a track survives without a detection (occlusions)
    relink_frames: int = 30  # a lost subject is picked up again by a new track starting this soon, nearby
    min_track_frames: int = 3  # draw=all: people seen in fewer sampled frames are dropped (false detections)
    min_subject_fraction: float = 0.5  # subject seen in fewer sampled frames -> NoPersonFound
    work_short_side: int = 720  # people are detected on frames at least this big (never above the source)
    repair: RepairOptions = field(default_factory=RepairOptions)


# --- models ------------------------------------------------------------------------------------------------------
class PoseModels:
    """The detector + estimator ONNX sessions of one preset; load once, reuse for every video."""

    def __init__(self, models_dir: str | os.PathLike, preset: str = "balanced", device: str = "auto") -> None:
        if preset not in POSE_PRESETS:
            raise InvalidInput(f"unknown pose preset {preset!r}", field="pose_preset", value=preset,
                               hint=f"Use one of: {', '.join(POSE_PRESETS)}.")
        paths = ModelPaths(Path(models_dir))
        det_path, pose_path = paths.pose_models(preset)
        det_session, det_provider, det_warning = create_session(det_path, device)
        pose_session, pose_provider, pose_warning = create_session(pose_path, device)
        self.warnings = list(dict.fromkeys(w for w in (det_warning, pose_warning) if w))
        self.preset = preset
        self.detector = PersonDetector(det_session)  # thresholds come from PoseOptions at each call
        self.estimator = PoseEstimator(pose_session, input_size=POSE_PRESETS[preset]["input_size"],
                                       keypoints=POSE_PRESETS[preset]["keypoints"])
        self.provider = det_provider if det_provider == pose_provider else f"{det_provider}+{pose_provider}"
        self.demo = paths.is_demo or (paths.root / "pose" / "DEMO").exists()
        if self.demo:
            log.warning("pose models in %s are DEMO models (fixed templates): skeletons will be meaningless", models_dir)


@functools.lru_cache(maxsize=4)
def _cached_models(root: str, preset: str, device: str) -> PoseModels:
    return PoseModels(root, preset, device)


def load_pose_models(models_dir: str | os.PathLike | None = None, preset: str = "balanced",
                     device: str = "auto") -> PoseModels:
    """Shared, cached :class:`PoseModels` (``models_dir`` "demo" = the tiny demo folder, None = settings)."""
    from ..models.demo import resolve_models_dir

    if models_dir is None:
        from ..settings import Settings

        models_dir = Settings.load().models_dir
    root = resolve_models_dir(models_dir)
    return _cached_models(str(Path(root).resolve()), preset, device)


# --- results -----------------------------------------------------------------------------------------------------
class PoseStream:
    """Skeleton frames produced lazily (iterate once or many times); ``len()`` is the number of frames."""

    def __init__(self, *, kind: str, fps: float, width: int, height: int, frames_fn: Callable[[], Iterator],
                 count: int, report: PoseReport | None, provider: str | None) -> None:
        self.kind = kind
        self.fps = fps
        self.width = width
        self.height = height
        self.report = report
        self.provider = provider
        self._frames_fn = frames_fn
        self._count = count

    def __iter__(self) -> Iterator[np.ndarray]:
        return self._frames_fn()

    def __len__(self) -> int:
        return self._count

    def save_keypoints(self, path: str | os.PathLike) -> Path | None:
        """keypoints.json (atomic); None for skeleton input (nothing was estimated)."""
        return self.report.save(path) if self.report is not None else None


@dataclass
class PoseVideo:
    frames: np.ndarray  # (F, height, width, 3) uint8 RGB skeleton frames
    fps: float
    kind: str  # video | skeleton
    report: PoseReport | None
    provider: str | None

    def save_keypoints(self, path: str | os.PathLike) -> Path | None:
        return self.report.save(path) if self.report is not None else None

    @property
    def summary(self) -> str | None:
        return self.report.summary() if self.report is not None else None

    @property
    def warnings(self) -> list[str]:
        """Things the user should know (pose ran on the CPU although CUDA was asked for, demo models...)."""
        return list(self.report.warnings) if self.report is not None else []


# --- the stage -----------------------------------------------------------------------------------------------------
def _check(width, height, draw) -> None:
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 16:
            raise InvalidInput(f"{name} must be an integer >= 16, got {value!r}", field=name, value=value,
                               hint="Use the generation size, e.g. 512.")
    if draw not in DRAW_MODES:
        raise InvalidInput(f"draw must be one of {', '.join(DRAW_MODES)}, got {draw!r}", field="draw", value=draw,
                           hint="subject draws the main person only; all draws everyone detected.")


def iter_pose_frames(video_path: str | os.PathLike, *, width: int, height: int, stride: int = 5,
                     max_frames: int | None = None, target_fps: float | None = None, input_type: str = "auto",
                     models_dir: str | os.PathLike | None = None, preset: str = "balanced", device: str = "auto",
                     draw: str = "subject", progress: ProgressFn | None = None, models: PoseModels | None = None,
                     options: PoseOptions | None = None, info=None,
                     renderer: Callable[..., np.ndarray] = render_skeleton) -> PoseStream:
    """Like :func:`prepare_pose_video` but frames come lazily (long videos; rendering costs ~10 ms a frame).
    ``info``: the video's probe when the caller already has it (it is not probed again). ``renderer(people,
    width, height)`` draws each frame's keypoints: the style the video model was trained on (its family's)."""
    from ..video import iter_frames, probe_video, sampled_fps, sampled_frame_count

    _check(width, height, draw)
    info = info or probe_video(video_path)
    kind = detect_input_kind(video_path, input_type)
    fps = sampled_fps(info, stride, target_fps)
    expected = sampled_frame_count(info, stride, target_fps)
    if max_frames is not None:
        expected = min(expected, max_frames)
    if kind == "skeleton":
        def skeleton_frames() -> Iterator[np.ndarray]:
            for i, frame in enumerate(iter_frames(video_path, stride=stride, target_fps=target_fps,
                                                  max_frames=max_frames, size=(width, height))):
                if progress:
                    progress(i, expected)
                yield frame

        return PoseStream(kind=kind, fps=fps, width=width, height=height, frames_fn=skeleton_frames,
                          count=expected, report=None, provider=None)

    if models is None:
        models = load_pose_models(models_dir, preset, device)
    report = estimate_poses(video_path, models, width=width, height=height, stride=stride, max_frames=max_frames,
                            target_fps=target_fps, fps=fps, expected=expected, progress=progress,
                            options=options or PoseOptions(), info=info)
    log.debug("pose: %s", report.summary())

    def rendered() -> Iterator[np.ndarray]:
        for frame in report.frames:
            yield renderer(frame.drawable(draw), width, height)

    return PoseStream(kind=kind, fps=fps, width=width, height=height, frames_fn=rendered,
                      count=len(report.frames), report=report, provider=models.provider)


def prepare_pose_video(video_path: str | os.PathLike, *, width: int, height: int, stride: int = 5,
                       max_frames: int | None = None, target_fps: float | None = None, input_type: str = "auto",
                       models_dir: str | os.PathLike | None = None, preset: str = "balanced", device: str = "auto",
                       draw: str = "subject", progress: ProgressFn | None = None,
                       models: PoseModels | None = None, options: PoseOptions | None = None,
                       info=None, renderer: Callable[..., np.ndarray] = render_skeleton) -> PoseVideo:
    """Skeleton frames for the video model, from a raw video (pose estimated) or a skeleton video (resized)."""
    stream = iter_pose_frames(video_path, width=width, height=height, stride=stride, max_frames=max_frames,
                              target_fps=target_fps, input_type=input_type, models_dir=models_dir, preset=preset,
                              device=device, draw=draw, progress=progress, models=models, options=options,
                              info=info, renderer=renderer)
    frames = list(stream)
    array = np.stack(frames) if frames else np.zeros((0, height, width, 3), np.uint8)
    return PoseVideo(frames=array, fps=stream.fps, kind=stream.kind, report=stream.report, provider=stream.provider)


def _work_size(src_w: int, src_h: int, width: int, height: int, short_side: int) -> tuple[int, int] | None:
    """Size to decode at: the output's covering size, enlarged to ``short_side`` (never above the source)."""
    scale = max(width / src_w, height / src_h)
    cover_w, cover_h = src_w * scale, src_h * scale
    k = min(src_w / cover_w, max(1.0, short_side / min(cover_w, cover_h)))
    w, h = int(round(cover_w * k)), int(round(cover_h * k))
    return None if (w, h) == (src_w, src_h) else (w, h)


def _to_output(work_w: int, work_h: int, width: int, height: int) -> tuple[float, np.ndarray]:
    """Scale and offset mapping work-frame pixels to output pixels (resize to cover, centre crop)."""
    s = max(width / work_w, height / work_h)
    return s, np.array([(work_w * s - width) / 2, (work_h * s - height) / 2])


def _frame_ranges(frames: np.ndarray, times: list[float], limit: int = 5) -> Message:
    items = []
    for s, e in runs(frames):
        items.append(f"{s}-{e} ({times[s]:.1f}-{times[e]:.1f} s)" if s != e else f"{s} ({times[s]:.1f} s)")
    if len(items) > limit:
        return Message("pose.ranges_more", list=", ".join(items[:limit]), more=len(items) - limit)
    return Message("pose.ranges", list=", ".join(items))


def estimate_poses(video_path, models: PoseModels, *, width: int, height: int, stride: int,
                   max_frames: int | None, target_fps: float | None, fps: float, expected: int,
                   progress: ProgressFn | None, options: PoseOptions, info=None) -> PoseReport:
    """Pass 1 (streaming detection + estimation) and pass 2 (tracking, subject, repair) -> PoseReport."""
    from ..video import iter_sampled, probe_video

    info = info or probe_video(video_path)
    size = _work_size(info.display_width, info.display_height, width, height, options.work_short_side)
    boxes_per_frame, det_scores, kps_per_frame, kscores_per_frame, meta = [], [], [], [], []
    for i, sampled in enumerate(iter_sampled(video_path, stride=stride, target_fps=target_fps,
                                             max_frames=max_frames, size=size)):
        image = sampled.image
        s, offset = _to_output(image.shape[1], image.shape[0], width, height)
        dets = models.detector(image, score_threshold=options.detection_threshold,
                               nms_threshold=options.nms_threshold)
        order = np.argsort(-(dets.boxes[:, 2] - dets.boxes[:, 0]) * (dets.boxes[:, 3] - dets.boxes[:, 1]))
        order = order[:options.max_people]
        boxes = dets.boxes[order]
        kps, kscores = models.estimator(image, boxes)
        boxes_per_frame.append(boxes * s - np.tile(offset, 2))
        det_scores.append(dets.scores[order])
        kps_per_frame.append(kps * s - offset)
        kscores_per_frame.append(kscores)
        meta.append((sampled.index, sampled.time))
        if progress:
            progress(i, max(expected, i + 1))
    n = len(meta)
    if n == 0:
        raise InvalidInput(f"no frames could be sampled from {os.fspath(video_path)}", field="video",
                           value=os.fspath(video_path), hint="Use a longer video or a smaller stride.")

    # Pass 2: tracks, subject, repair. Boxes are clipped to the output frame for choosing who is in view.
    tracker = IoUTracker(max_lost=options.max_lost)
    for i, boxes in enumerate(boxes_per_frame):
        tracker.update(i, boxes)
    subject = choose_subject(_clip_tracks(tracker.tracks, width, height), (width, height), mode=options.subject,
                             choose_frames=options.choose_frames)
    times = [t for _, t in meta]
    if subject is None:
        raise NoPersonFound(Message("error.no_person_any", frames=n, last=n - 1, start=f"{times[0]:.1f}",
                                    end=f"{times[-1]:.1f}"), field="video", value=os.fspath(video_path),
                            hint=Message("hint.no_person_any"))
    subject = tracker.tracks[subject.id]
    chain = follow_subject(tracker.tracks, subject, relink_frames=options.relink_frames)
    chain_ids = {t.id for t in chain}
    seen = np.zeros(n, bool)
    for t in chain:
        seen[list(t.boxes)] = True
    if seen.mean() < options.min_subject_fraction:
        raise NoPersonFound(Message("error.no_person_few", seen=int(seen.sum()), frames=n,
                                    missing=_frame_ranges(~seen, times)), field="video", value=os.fspath(video_path),
                            hint=Message("hint.no_person_few"))

    frames = [FramePose(index=i, source_index=int(meta[i][0]), time=float(meta[i][1])) for i in range(n)]
    others = [[t] for t in tracker.tracks
              if t.id not in chain_ids and len(t.boxes) >= options.min_track_frames]
    for tracks in [chain] + others:
        is_subject = tracks is chain
        # The subject spans the whole video (gaps are repaired); anyone else only the span they were tracked,
        # which also keeps the cost proportional to the number of detections, not people x frames.
        start, stop = (0, n) if is_subject else (tracks[0].first, tracks[-1].last + 1)
        span = stop - start
        count = models.estimator.keypoints
        xy = np.full((span, count, 2), np.nan)
        sc = np.zeros((span, count))
        boxes: list = [None] * span
        box_scores = np.zeros(span)
        for t in tracks:
            for f, d in t.detections.items():
                xy[f - start], sc[f - start] = kps_per_frame[f][d], kscores_per_frame[f][d]
                boxes[f - start], box_scores[f - start] = boxes_per_frame[f][d], det_scores[f][d]
        fixed, status = repair_track(xy, sc, fps=fps, scale=float(height), options=options.repair)
        for k in range(span):
            if not is_subject and (status[k] == MISSING).all():
                continue
            frames[start + k].people.append(PersonPose(track_id=tracks[0].id, subject=is_subject, box=boxes[k],
                                                       score=float(box_scores[k]), xy=fixed[k], scores=sc[k],
                                                       status=status[k]))
    return PoseReport(frames=frames, fps=fps, width=width, height=height, stride=stride, provider=models.provider,
                      preset=models.preset, demo=models.demo, subject_seen=seen, warnings=list(models.warnings))


def _clip_tracks(tracks, width: int, height: int):
    """Copies of the tracks with boxes clipped to the output frame (people outside the crop score zero)."""
    from .tracking import Track

    out = []
    for t in tracks:
        boxes = {f: np.clip(b, [0, 0, 0, 0], [width, height, width, height]) for f, b in t.boxes.items()}
        out.append(Track(id=t.id, boxes=boxes, detections=dict(t.detections)))
    return out
