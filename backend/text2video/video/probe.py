"""Safe opening and probing of video files (PyAV).

Uploads are untrusted, so every input is opened the same guarded way (:func:`open_input`):
- only the local ``file`` protocol (no http/ftp/concat:/subfile: protocols, even inside a container);
- only real container demuxers (``format_whitelist``): playlist and list demuxers such as ``hls`` and ``concat``
  would make FFmpeg open further files or URLs named inside the upload, so they are refused;
- a frame is actually decoded before a file counts as a video.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ..exceptions import InvalidInput, UnsupportedMedia
from ..messages import Message

log = logging.getLogger(__name__)

# Demuxers of real container formats (FFmpeg names; "mov" also covers mp4/m4v/3gp). No hls, concat, dash,
# image2, tee, data or subtitle formats.
ALLOWED_FORMATS = ("mov", "mp4", "matroska", "webm", "avi", "asf", "mpeg", "mpegts", "flv", "ogg")
ALLOWED_EXTENSIONS = (".mp4", ".m4v", ".mov", ".3gp", ".mkv", ".webm", ".avi", ".wmv", ".asf", ".mpg", ".mpeg",
                      ".ts", ".m2ts", ".flv", ".ogv")
SUPPORTED_TYPES = "MP4, MOV, MKV, WebM, AVI, WMV, MPEG, FLV"


def _supported_hint() -> Message:
    return Message("hint.video_file", types=SUPPORTED_TYPES)


@dataclass(frozen=True)
class VideoInfo:
    width: int  # coded size of the stream, before rotation
    height: int
    fps: float  # average frame rate (e.g. 59.84 for 3671040/61351)
    frame_count: int  # exact when the container stores it (or count_frames=True), else duration x fps
    duration: float  # seconds
    codec: str  # FFmpeg decoder name: h264, mpeg4, vp9...
    rotation: int  # clockwise degrees a player turns the picture to show it (0, 90, 180, 270)
    display_width: int  # size as shown, after rotation: what iter_frames yields without size=
    display_height: int
    has_video: bool = True
    frame_count_exact: bool = True
    pix_fmt: str = ""
    container: str = ""  # FFmpeg demuxer name
    rate: Fraction = Fraction(0)  # exact frame rate as stored

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rate"] = str(self.rate)
        return data


def _check_path(path: str | os.PathLike, name: str | None = None) -> Path:
    """``name``: how the person knows the file (their upload's name), shown instead of the path we stored it at."""
    p = Path(path)
    if not p.exists():
        raise InvalidInput(f"Video file not found: {str(path)!r}.", field="video", value=str(path),
                           hint="Check the path of the video file.")
    if not p.is_file():
        raise InvalidInput(f"Not a file: {str(path)!r}.", field="video", value=str(path),
                           hint="Give the path of a video file, not a folder.")
    if p.stat().st_size == 0:
        raise UnsupportedMedia(Message("video.empty", name=name or p.name), field="video", value=name or str(path),
                               hint=Message("hint.attach_again"))
    return p


def open_input(path: str | os.PathLike, name: str | None = None) -> "av.container.InputContainer":
    """Open a local video file for reading with the protocol and demuxer allow-lists; raises typed errors naming
    the file as ``name`` (default: its path). FFmpeg's own words (errno, our path) go to the log only."""
    p = _check_path(path, name)
    shown = name or p.name
    # "file:" + absolute path: FFmpeg must never read a name like "concat:a|b" or "http://..." as a protocol.
    url = "file:" + str(p.resolve())
    options = {"protocol_whitelist": "file", "format_whitelist": ",".join(ALLOWED_FORMATS)}
    try:
        container = av.open(url, mode="r", container_options=options, timeout=30.0)
    except av.error.FileNotFoundError:
        raise InvalidInput(f"Video file not found: {str(path)!r}.", field="video", value=str(path),
                           hint="Check the path of the video file.") from None
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        log.info("%s (%s) is not a readable video: %s: %s", p, shown, type(exc).__name__, exc)
        raise UnsupportedMedia(Message("video.not_video", name=shown), field="video", value=name or str(path),
                               hint=_supported_hint()) from None
    if video_stream(container) is None:
        container.close()
        raise UnsupportedMedia(Message("video.no_stream", name=shown), field="video", value=name or str(path),
                               hint=_supported_hint())
    return container


def video_stream(container):
    """The main video stream when there are several (a cover picture, a thumbnail track): not a still picture,
    then the most frames, the longest, the largest. None when the file has no video stream."""
    still = av.stream.Disposition.attached_pic | av.stream.Disposition.still_image

    def rank(stream):
        seconds = float(stream.duration * stream.time_base) if (stream.duration and stream.time_base) else 0.0
        ctx = stream.codec_context
        return (not (stream.disposition & still), stream.frames or 0, seconds, (ctx.width or 0) * (ctx.height or 0))

    streams = list(container.streams.video)
    return max(streams, key=rank) if streams else None


def stream_fps(stream) -> Fraction:
    """Average frame rate, falling back to the guessed/base rate for containers that do not store it."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and rate > 0:
            return Fraction(rate)
    return Fraction(0)


def orientation_of(frame) -> str:
    """How to turn a decoded frame for display, from its display matrix, following ffmpeg's autorotate.

    Returns one of "none", "clock", "cclock", "180", "hflip", "vflip", "transpose", "antitranspose".
    """
    matrix = None
    try:
        sd = frame.side_data.get("DISPLAYMATRIX")
        if sd is not None:
            import numpy as np
            matrix = np.frombuffer(bytes(sd), dtype="<i4")
    except Exception:  # side data is optional; a frame without it is shown as coded
        matrix = None
    if matrix is None or len(matrix) < 9:
        return "none"
    ccw = frame.rotation or 0  # counter-clockwise degrees of the matrix
    theta = (-round(ccw)) % 360  # clockwise degrees to turn for display (ffmpeg's get_rotation)
    theta = int(round(theta / 90.0)) * 90 % 360
    if theta == 90:
        return "transpose" if matrix[3] > 0 else "clock"
    if theta == 270:
        return "antitranspose" if matrix[3] < 0 else "cclock"
    if theta == 180:
        h, v = matrix[0] < 0, matrix[4] < 0
        return "180" if (h and v) else "hflip" if h else "vflip" if v else "none"
    if matrix[4] < 0:
        return "vflip"
    if matrix[0] < 0:
        return "hflip"
    return "none"


_ROTATION_OF = {"none": 0, "hflip": 0, "vflip": 0, "180": 180, "clock": 90, "transpose": 90, "cclock": 270,
                "antitranspose": 270}


def _check_limits(width: int, height: int, fps: float, duration: float, max_pixels, max_fps, max_seconds) -> None:
    if max_pixels is not None and width * height > max_pixels:
        raise InvalidInput(Message("video.too_many_pixels", width=width, height=height, pixels=width * height,
                                   max=int(max_pixels)), field="video", value=f"{width}x{height}",
                           hint=Message("hint.too_many_pixels"))
    if max_fps is not None and fps > max_fps:
        raise InvalidInput(Message("video.too_fast", fps=f"{fps:.2f}", max=f"{max_fps:g}"), field="video",
                           value=round(fps, 3), hint=Message("hint.too_fast"))
    if max_seconds is not None and duration > max_seconds:
        raise InvalidInput(Message("video.too_long", seconds=f"{duration:.1f}", max=f"{max_seconds:g}"),
                           field="video", value=round(duration, 3), hint=Message("hint.too_long"))


def probe_video(path: str | os.PathLike, *, max_pixels: int | None = None, max_fps: float | None = None,
                max_seconds: float | None = None, count_frames: bool = False, name: str | None = None) -> VideoInfo:
    """Describe a video file and prove it decodes (one frame is decoded).

    ``max_*`` limits are for upload validation (over them -> InvalidInput naming the value and the setting).
    ``count_frames=True`` counts the packets (no decoding) when the container does not store a frame count.
    ``name``: the file as the person knows it (an upload's own name), in every error instead of our path.
    """
    p = _check_path(path, name)
    shown = name or p.name
    with open_input(p, name=name) as container:
        stream = video_stream(container)
        ctx = stream.codec_context
        rate = stream_fps(stream)
        fps = float(rate)
        width, height = ctx.width, ctx.height
        duration = 0.0
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        frames = int(stream.frames or 0)
        exact = frames > 0
        # Refuse over-limit uploads from the header, before decoding anything (a huge frame costs memory).
        _check_limits(width, height, fps, duration, max_pixels, max_fps, max_seconds)
        # Decode the first frame: the header alone does not prove the codec data is usable.
        stream.thread_type = "AUTO"
        first = None
        try:
            for frame in container.decode(stream):
                first = frame
                break
        except av.error.FFmpegError as exc:
            log.info("%s (%s) could not be decoded: %s", p, shown, exc)
            raise UnsupportedMedia(Message("video.undecodable", name=shown), field="video", value=name or str(path),
                                   hint=_supported_hint()) from None
        if first is None:
            raise UnsupportedMedia(Message("video.no_frame", name=shown), field="video", value=name or str(path),
                                   hint=_supported_hint())
        width, height = width or first.width, height or first.height
        orientation = orientation_of(first)
        codec = ctx.name
        pix_fmt = ctx.pix_fmt or first.format.name
        fmt = container.format.name
    if not exact and count_frames:
        frames = count_packets(p)
        exact = frames > 0
    if not exact:
        frames = max(1, int(math.floor(duration * fps + 0.5))) if duration and fps else 1
    if not duration and fps and frames:
        duration = frames / fps
    if not fps and duration and frames:
        fps = frames / duration
        rate = Fraction(fps).limit_denominator(1001)
    rotation = _ROTATION_OF[orientation]
    swap = rotation in (90, 270)
    info = VideoInfo(width=width, height=height, fps=fps, frame_count=frames, duration=duration, codec=codec,
                     rotation=rotation, display_width=height if swap else width,
                     display_height=width if swap else height, has_video=True, frame_count_exact=exact,
                     pix_fmt=pix_fmt or "", container=fmt, rate=rate)
    _check_limits(width, height, fps, duration, max_pixels, max_fps, max_seconds)  # values the header lacked
    return info


def count_packets(path: str | os.PathLike) -> int:
    """Exact number of video frames by demuxing (reads the file, decodes nothing)."""
    with open_input(path) as container:
        stream = video_stream(container)
        return sum(1 for packet in container.demux(stream) if packet.size)


__all__ = ["VideoInfo", "probe_video", "open_input", "count_packets", "orientation_of", "stream_fps",
           "video_stream", "ALLOWED_FORMATS", "ALLOWED_EXTENSIONS"]
