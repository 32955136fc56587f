"""Streaming frame reader: decode a video once, keep only the sampled frames, never hold the whole video."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Iterator

import av
import numpy as np

from ..exceptions import InvalidInput, UnsupportedMedia
from .probe import VideoInfo, open_input, orientation_of, stream_fps, video_stream
from .transforms import apply_orientation, center_crop, cover_size

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SampledFrame:
    index: int  # frame number in the source video (0-based, decode order = display order)
    time: float  # seconds from the start of the stream
    image: np.ndarray  # RGB uint8 (H, W, 3), turned for display, resized/cropped when size= was given


def _check_sampling(stride, target_fps, max_frames, start_frame, size) -> None:
    if not isinstance(stride, (int, np.integer)) or isinstance(stride, bool) or stride < 1:
        raise InvalidInput(f"stride must be an integer >= 1, got {stride!r}.", field="stride", value=stride,
                           hint="Use 1 for every frame, 5 for every 5th frame.")
    if target_fps is not None:
        if not isinstance(target_fps, (int, float)) or not math.isfinite(target_fps) or target_fps <= 0:
            raise InvalidInput(f"target_fps must be a positive number, got {target_fps!r}.", field="target_fps",
                               value=target_fps, hint="For example target_fps=8.")
        if stride != 1:
            raise InvalidInput(f"Give either stride ({stride}) or target_fps ({target_fps}), not both.",
                               field="stride", value=stride, hint="Leave stride at 1 when using target_fps.")
    if max_frames is not None and (not isinstance(max_frames, (int, np.integer)) or max_frames < 0):
        raise InvalidInput(f"max_frames must be an integer >= 0, got {max_frames!r}.", field="max_frames",
                           value=max_frames, hint="Use None for all frames.")
    if not isinstance(start_frame, (int, np.integer)) or start_frame < 0:
        raise InvalidInput(f"start_frame must be an integer >= 0, got {start_frame!r}.", field="start_frame",
                           value=start_frame, hint="0 starts at the first frame.")
    if size is not None:
        ok = (isinstance(size, (tuple, list)) and len(size) == 2
              and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in size))
        if not ok:
            raise InvalidInput(f"size must be (width, height) in pixels, got {size!r}.", field="size", value=size,
                               hint="For example size=(512, 512).")


def iter_sampled(path: str | os.PathLike, *, stride: int = 1, target_fps: float | None = None,
                 max_frames: int | None = None, start_frame: int = 0,
                 size: tuple[int, int] | None = None) -> Iterator[SampledFrame]:
    """Like :func:`iter_frames`, with each frame's source index and time (for keypoints.json and the like)."""
    _check_sampling(stride, target_fps, max_frames, start_frame, size)
    if max_frames == 0:
        return
    container = open_input(path)
    yielded, index = 0, -1
    try:
        stream = video_stream(container)
        stream.thread_type = "AUTO"  # frame + slice threads: decoding is the cost, conversion is cheap
        fps = float(stream_fps(stream)) or 25.0
        tb = stream.time_base or 0
        t0 = stream.start_time if stream.start_time is not None else None
        if target_fps is not None and target_fps >= fps:
            target_fps = None  # never duplicate frames: every frame is already denser than asked
        period = 1.0 / target_fps if target_fps else 0.0

        index = -1  # index of the last decoded frame
        start_pts = _pts_of_frame(container, stream, start_frame) if start_frame > 0 else None
        if start_pts is not None:
            # Jump to the keyframe before the start frame; decoding resumes there, the start frame is known by its
            # timestamp (exact for variable frame rates too).
            try:
                container.seek(start_pts, stream=stream, backward=True, any_frame=False)
                index = None
            except av.error.FFmpegError:
                start_pts = None
        if start_frame > 0 and start_pts is None:
            # No timestamps or not seekable: reopen, decode from the start and count (slower, still exact).
            container.close()
            container = open_input(path)
            stream = video_stream(container)
            stream.thread_type = "AUTO"
        next_time = None  # target_fps mode: time of the next frame to keep
        orientation = None
        for frame in container.decode(stream):
            pts = frame.pts
            time = float((pts - (t0 or 0)) * tb) if (pts is not None and tb) else None
            if index is None:
                if pts is None or pts < start_pts:
                    continue  # between the keyframe and the start frame
                index = start_frame
            else:
                index += 1
            if time is None:
                time = index / fps
            if index < start_frame:
                continue
            if target_fps is None:
                if (index - start_frame) % stride:
                    continue
            else:
                # Keep the first frame at or after each tick of the target clock (half a source frame of slack).
                if next_time is not None and time < next_time - 0.5 / fps:
                    continue
                next_time = (time if next_time is None else next_time) + period
                while next_time <= time + 0.5 / fps:
                    next_time += period
            if orientation is None:
                orientation = orientation_of(frame)
            yield SampledFrame(index=index, time=time, image=_convert(frame, orientation, size))
            yielded += 1
            if max_frames is not None and yielded >= max_frames:
                return  # stop decoding as soon as enough frames are out
    except av.error.FFmpegError as exc:
        if yielded:
            # A damaged tail (common with phone recordings cut short): keep what decoded, like ffmpeg does.
            logger.warning("decoding %s stopped after frame %s: %s", os.fspath(path), index, exc)
            return
        raise UnsupportedMedia(f"Decoding {os.fspath(path)!r} failed: {exc}.", field="video", value=os.fspath(path),
                               hint="The file may be truncated or damaged; re-export it and upload again.") from None
    finally:
        container.close()


def _pts_of_frame(container, stream, number: int, reorder_margin: int = 32) -> int | None:
    """Presentation timestamp of frame ``number`` (display order), found by demuxing packets, which is cheap.

    Decode order differs from display order by at most the codec's reordering depth, so the ``number``-th
    smallest timestamp among the first ``number + margin`` packets is the frame's. None when there is no such
    frame or the packets carry no timestamps.
    """
    stamps: list[int] = []
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        if packet.pts is None:
            return None
        stamps.append(packet.pts)
        if len(stamps) >= number + reorder_margin:
            break
    if len(stamps) <= number:
        return None if not stamps else max(stamps) + 1  # past the end: nothing will be >= it
    return sorted(stamps)[number]


def _convert(frame: "av.VideoFrame", orientation: str, size: tuple[int, int] | None) -> np.ndarray:
    swap = orientation in ("clock", "cclock", "transpose", "antitranspose")
    if size is None:
        image = frame.to_ndarray(format="rgb24")
        return apply_orientation(image, orientation)
    width, height = int(size[0]), int(size[1])
    disp_w, disp_h = (frame.height, frame.width) if swap else (frame.width, frame.height)
    cov_w, cov_h = cover_size(disp_w, disp_h, width, height)
    coded_w, coded_h = (cov_h, cov_w) if swap else (cov_w, cov_h)
    # Scale in swscale straight from YUV to the covering RGB size: no full-resolution RGB copy.
    interpolation = "AREA" if coded_w * coded_h < frame.width * frame.height else "BILINEAR"
    image = frame.reformat(width=coded_w, height=coded_h, format="rgb24", interpolation=interpolation).to_ndarray()
    image = apply_orientation(image, orientation)
    return np.ascontiguousarray(center_crop(image, width, height))


def iter_frames(path: str | os.PathLike, *, stride: int = 1, target_fps: float | None = None,
                max_frames: int | None = None, start_frame: int = 0,
                size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """Yield RGB uint8 (H, W, 3) frames, turned as the rotation metadata says.

    Sampling: every ``stride``-th frame from ``start_frame``, or (instead) about ``target_fps`` frames per second;
    decoding stops once ``max_frames`` are out. ``size=(w, h)``: shorter side scaled to cover, centre-cropped.
    """
    for sampled in iter_sampled(path, stride=stride, target_fps=target_fps, max_frames=max_frames,
                                start_frame=start_frame, size=size):
        yield sampled.image


def read_frames(path: str | os.PathLike, *, stride: int = 1, target_fps: float | None = None,
                max_frames: int | None = None, start_frame: int = 0, size: tuple[int, int] | None = None,
                min_frames: int | None = None) -> np.ndarray:
    """All sampled frames as one (F, H, W, 3) array (short clips only: this holds them in memory).

    ``min_frames``: fewer sampled frames than this -> InvalidInput saying how many there were and what to change.
    """
    frames = list(iter_frames(path, stride=stride, target_fps=target_fps, max_frames=max_frames,
                              start_frame=start_frame, size=size))
    if min_frames is not None and len(frames) < min_frames:
        how = f"at {target_fps:g} fps" if target_fps else f"with stride {stride}"
        raise InvalidInput(
            f"The video gives only {len(frames)} frames {how} (from frame {start_frame}); {min_frames} are needed.",
            field="frames", value=min_frames,
            hint="Ask for fewer frames, lower the stride, or use a longer video.")
    if not frames:
        h, w = (size[1], size[0]) if size else (0, 0)
        return np.zeros((0, h, w, 3), dtype=np.uint8)
    return np.stack(frames)


def sampled_fps(info: VideoInfo | float, stride: int = 1, target_fps: float | None = None) -> float:
    """Frame rate of the sampled frames: the source fps divided by the stride (or the target fps, if lower)."""
    fps = info.fps if isinstance(info, VideoInfo) else float(info)
    if target_fps:
        return min(float(target_fps), fps)
    return fps / stride


def sampled_frame_count(info: VideoInfo, stride: int = 1, target_fps: float | None = None,
                        start_frame: int = 0) -> int:
    """How many frames :func:`iter_frames` yields with these settings (estimated when the frame count is)."""
    remaining = max(0, info.frame_count - start_frame)
    if target_fps and target_fps < info.fps:
        return int(math.ceil(remaining / info.fps * target_fps - 1e-9))
    return (remaining + stride - 1) // stride


__all__ = ["SampledFrame", "iter_sampled", "iter_frames", "read_frames", "sampled_fps", "sampled_frame_count"]
