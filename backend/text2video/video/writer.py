"""Atomic, streaming video writers: H.264 MP4 (faststart), GIF preview, side-by-side MP4.

Every writer writes to a hidden temporary file in the destination folder and renames it over the final name only
when the file is complete, so readers (the API serving a job's files) never see a half-written video; on an
exception the temporary file is removed.
"""

from __future__ import annotations

import math
import os
import uuid
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Iterator

import av
import cv2
import numpy as np

from ..exceptions import InvalidInput
from .transforms import as_rgb_uint8, fit_height, pad_to_even

# File suffix -> FFmpeg muxer. The muxer is named explicitly because the temporary name must not decide it.
MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi",
          ".wmv": "asf", ".asf": "asf", ".flv": "flv"}
_CRF_CODECS = {"libx264", "libx265", "libvpx", "libvpx-vp9", "libsvtav1"}
_SUBSAMPLED = ("420", "422", "411", "nv12", "nv21")


def _temp_path(path: Path) -> Path:
    # Hidden, unique, same folder (so the rename is atomic) and same suffix (tools recognise the type).
    return path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.part{path.suffix}")


def as_rate(fps: float | Fraction | int) -> Fraction:
    """Frame rate as an exact fraction (30000/1001 stays exact); rejects non-positive and non-finite values."""
    if isinstance(fps, Fraction):
        rate = fps
    else:
        try:
            value = float(fps)
        except (TypeError, ValueError):
            value = float("nan")
        if not math.isfinite(value) or value <= 0:
            raise InvalidInput(f"fps must be a positive number, got {fps!r}.", field="fps", value=fps,
                               hint="For example fps=8 (source fps / stride).")
        rate = Fraction(value).limit_denominator(1001)
    if rate <= 0:
        raise InvalidInput(f"fps must be a positive number, got {fps!r}.", field="fps", value=str(fps),
                           hint="For example fps=8 (source fps / stride).")
    return rate


class VideoWriter:
    """Streaming encoder to ``path`` (H.264 yuv420p MP4 with faststart by default), used as a context manager::

        with VideoWriter("out.mp4", fps=8) as writer:
            for frame in frames:          # RGB uint8 (H, W, 3), all the same size
                writer.write(frame)

    The size is taken from the first frame; odd sizes get one repeated row/column (yuv420p needs even sizes).
    The file appears under its final name only after a successful close.
    """

    def __init__(self, path: str | os.PathLike, fps: float | Fraction, *, codec: str = "libx264", crf: int = 18,
                 pix_fmt: str = "yuv420p", preset: str = "medium", options: dict[str, str] | None = None,
                 metadata: dict[str, str] | None = None):
        self.path = Path(path)
        self.rate = as_rate(fps)
        self.codec = codec
        self.crf = crf
        self.pix_fmt = pix_fmt
        self.preset = preset
        self.extra_options = dict(options or {})  # extra encoder options, e.g. {"tune": "animation"}
        self.metadata = {str(k): str(v) for k, v in (metadata or {}).items()}  # container tags: title, comment
        suffix = self.path.suffix.lower()
        if suffix not in MUXERS:
            raise InvalidInput(f"Cannot write a video named {self.path.name!r}: unknown extension {suffix!r}.",
                               field="path", value=str(self.path),
                               hint=f"Use one of {', '.join(sorted(MUXERS))} (.mp4 for browsers).")
        self.format = MUXERS[suffix]
        try:
            av.codec.Codec(codec, "w")
        except Exception:
            raise InvalidInput(f"Video encoder {codec!r} is not available in this PyAV build.", field="codec",
                               value=codec, hint="Use libx264 (MP4/MOV/MKV/AVI) or libvpx-vp9 (WebM).") from None
        if not self.path.parent.is_dir():
            raise InvalidInput(f"Output folder {str(self.path.parent)!r} does not exist.", field="path",
                               value=str(self.path), hint="Create the folder first.")
        self.frames_written = 0
        self.size: tuple[int, int] | None = None  # (width, height) as encoded
        self._input_size: tuple[int, int] | None = None
        self._tmp: Path | None = None
        self._container = None
        self._stream = None
        self._closed = False

    # --- context manager ----------------------------------------------------------------------------------------
    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # --- writing ------------------------------------------------------------------------------------------------
    def _open(self, width: int, height: int) -> None:
        self._tmp = _temp_path(self.path)
        options = {"movflags": "+faststart"} if self.format in ("mp4", "mov") else {}
        self._container = av.open(str(self._tmp), mode="w", format=self.format, options=options)
        self._container.metadata.update(self.metadata)
        codec_options = {}
        if self.codec in _CRF_CODECS and self.crf is not None:
            codec_options["crf"] = str(self.crf)
        if self.codec in ("libx264", "libx265") and self.preset:
            codec_options["preset"] = self.preset
        if self.codec == "libx264":
            # x264's CPU-specific macroblock-tree code gave different bytes for identical frames between runs (1 in
            # 5 generations on a thread pinned to one CPU); its canonical code makes the file a function of the frames.
            codec_options["x264-params"] = "cpu-independent=1"
        if self.codec == "libvpx-vp9":
            codec_options.setdefault("b", "0")  # constant quality mode: crf alone
        codec_options.update(self.extra_options)
        try:
            stream = self._container.add_stream(self.codec, rate=self.rate, options=codec_options)
        except (ValueError, av.error.FFmpegError) as exc:
            raise InvalidInput(f"The {self.format} container cannot hold {self.codec!r} video ({exc}).",
                               field="codec", value=self.codec,
                               hint="Use libx264 for .mp4/.mov/.mkv/.avi, libvpx-vp9 for .webm.") from None
        stream.width, stream.height = width, height
        stream.pix_fmt = self.pix_fmt
        # Tag BT.709 and convert with it, so browsers show the colours we meant (HD video defaults to 709).
        ctx = stream.codec_context
        ctx.colorspace, ctx.color_primaries, ctx.color_trc, ctx.color_range = 1, 1, 1, 1  # BT709, MPEG range
        # One encoder thread: x264's output depends on its thread count, and its automatic count is read from the
        # CPU affinity of the thread that opens it, so "auto" gave different bytes for the same frames on another
        # machine or a pinned thread. Several writers already run in parallel (diffusion/streaming.py).
        ctx.thread_count = 1
        if self.codec not in _CRF_CODECS and self.crf is not None and "b" not in self.extra_options:
            # Encoders without CRF (mpeg4, wmv2, flv...): fixed quantiser 2, the "-q:v 2" of ffmpeg (high quality).
            ctx.qscale = True
            ctx.global_quality = 2 * 118  # FF_QP2LAMBDA
        self._stream = stream
        self.size = (width, height)

    def write(self, frame: Any) -> None:
        """Encode one RGB frame (uint8 HxWx3; float 0..1, grey, RGBA and PIL images are converted)."""
        if self._closed:
            raise RuntimeError("write() after close()")
        image = as_rgb_uint8(frame)
        h, w = image.shape[:2]
        if self._input_size is None:
            self._input_size = (w, h)
            padded_w, padded_h = (w + w % 2, h + h % 2) if any(s in self.pix_fmt for s in _SUBSAMPLED) else (w, h)
            self._open(padded_w, padded_h)
        elif (w, h) != self._input_size:
            raise InvalidInput(
                f"Frame {self.frames_written} is {w}x{h}, earlier frames were {self._input_size[0]}x"
                f"{self._input_size[1]}.", field="frames", value=f"{w}x{h}",
                hint="All frames of one video must have the same size.")
        if self.size != (w, h):
            image = pad_to_even(image)
        video_frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        video_frame = video_frame.reformat(format=self.pix_fmt, dst_colorspace="ITU709")
        video_frame.pts = self.frames_written
        video_frame.time_base = 1 / self.rate
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)
        self.frames_written += 1

    def write_many(self, frames: Iterable[Any]) -> int:
        """Encode frames from any iterable (a generator streams: one frame in memory at a time)."""
        count = 0
        for frame in frames:
            self.write(frame)
            count += 1
        return count

    # --- finishing ----------------------------------------------------------------------------------------------
    def close(self) -> Path:
        """Flush the encoder, finish the file (faststart moves the index to the front) and rename it into place."""
        if self._closed:
            return self.path
        if self.frames_written == 0:
            self.abort()
            raise InvalidInput(f"No frames were given for {self.path.name!r}.", field="frames", value=0,
                               hint="Pass at least one frame.")
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
            self._container = None
            with open(self._tmp, "rb") as fh:  # data on disk before the name points at it
                os.fsync(fh.fileno())
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.path

    def abort(self) -> None:
        """Drop everything written so far (no file is left behind)."""
        self._closed = True
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # the container may be in a broken state; the temp file goes anyway
                pass
            self._container = None
        if self._tmp is not None:
            try:
                self._tmp.unlink()
            except FileNotFoundError:
                pass


def write_mp4(frames: Iterable[Any], path: str | os.PathLike, fps: float | Fraction, **kwargs: Any) -> Path:
    """Write frames (any iterable) to an H.264 yuv420p faststart MP4 atomically; returns the path."""
    with VideoWriter(path, fps, **kwargs) as writer:
        writer.write_many(frames)
    return writer.path


def _palettised(image: np.ndarray) -> "av.VideoFrame":
    """An RGB frame as a pal8 frame with its own adaptive 256-colour palette (Pillow fast octree + dithering:
    ~100x faster than median cut for a barely larger error)."""
    from PIL import Image

    quantised = Image.fromarray(image).quantize(colors=256, method=Image.Quantize.FASTOCTREE,
                                                dither=Image.Dither.FLOYDSTEINBERG)
    palette = np.zeros((256, 4), dtype=np.uint8)
    palette[:, 0] = 255  # ARGB: opaque
    rgb = np.asarray(quantised.getpalette()[:768], dtype=np.uint8).reshape(-1, 3)
    palette[: len(rgb), 1:] = rgb
    return av.VideoFrame.from_ndarray((np.asarray(quantised, dtype=np.uint8), palette), format="pal8")


def write_gif(frames: Iterable[Any], path: str | os.PathLike, fps: float, *, max_side: int | None = 256,
              loop: int = 0) -> Path:
    """Looping GIF preview, longest side scaled down to ``max_side``; ``loop=0`` repeats forever, -1 plays once.

    Streams like the MP4 writer (FFmpeg's GIF encoder via PyAV, one frame in memory); each frame gets its own
    adaptive palette, and the delays (whole centiseconds in GIF) are spread so the average rate stays exact.
    """
    path = Path(path)
    rate = as_rate(fps)
    if not path.parent.is_dir():
        raise InvalidInput(f"Output folder {str(path.parent)!r} does not exist.", field="path", value=str(path),
                           hint="Create the folder first.")
    tmp = _temp_path(path)
    container = stream = None
    count = 0
    try:
        for frame in frames:
            image = as_rgb_uint8(frame)
            h, w = image.shape[:2]
            if max_side and max(h, w) > max_side:
                scale = max_side / max(h, w)
                image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                                   interpolation=cv2.INTER_AREA)
            if container is None:
                container = av.open(str(tmp), mode="w", format="gif", options={"loop": str(loop)})
                stream = container.add_stream("gif", rate=rate)
                stream.width, stream.height, stream.pix_fmt = image.shape[1], image.shape[0], "pal8"
                stream.codec_context.time_base = Fraction(1, 100)
                size = image.shape[:2]
            elif image.shape[:2] != size:
                raise InvalidInput(f"GIF frame {count} is {w}x{h}, unlike the frames before it.", field="frames",
                                   value=f"{w}x{h}", hint="All frames of one video must have the same size.")
            video_frame = _palettised(image)
            video_frame.pts = int(round(count * 100 / rate))  # centiseconds
            video_frame.time_base = Fraction(1, 100)
            for packet in stream.encode(video_frame):
                container.mux(packet)
            count += 1
        if container is None:
            raise InvalidInput(f"No frames were given for {path.name!r}.", field="frames", value=0,
                               hint="Pass at least one frame.")
        for packet in stream.encode(None):
            container.mux(packet)
        container.close()
        container = None
        os.replace(tmp, path)
    except BaseException:
        if container is not None:
            try:
                container.close()
            except Exception:  # already failing; the temporary file is removed below
                pass
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_side_by_side(left_frames: Iterable[Any], right_frames: Iterable[Any], path: str | os.PathLike,
                       fps: float | Fraction, **kwargs: Any) -> Path:
    """One MP4 with ``left`` (the skeleton) and ``right`` (the generated video) next to each other.

    The left panel is scaled to the right panel's height; both sequences must have the same length. A comparison
    view, twice as wide as the result: encoded with x264's "veryfast" preset unless ``preset`` is given.
    """
    kwargs.setdefault("preset", "veryfast")
    def pairs() -> Iterator[np.ndarray]:
        left_iter, right_iter = iter(left_frames), iter(right_frames)
        n = 0
        while True:
            left = next(left_iter, None)
            right = next(right_iter, None)
            if left is None and right is None:
                return
            if left is None or right is None:
                short = "left (skeleton)" if left is None else "right (generated)"
                raise InvalidInput(f"Side-by-side: the {short} video ended after {n} frames, the other did not.",
                                   field="frames", value=n, hint="Give both videos the same number of frames.")
            right = as_rgb_uint8(right)
            left = fit_height(as_rgb_uint8(left), right.shape[0])
            yield np.concatenate([left, right], axis=1)
            n += 1

    return write_mp4(pairs(), path, fps, **kwargs)


__all__ = ["VideoWriter", "write_mp4", "write_gif", "write_side_by_side", "as_rate", "MUXERS"]
