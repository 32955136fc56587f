"""Media for the tests: the shared real videos in ../shared/data; small real files written with PyAV whose frames
can be identified after lossy compression (each frame a flat colour that encodes its index, plus a corner mark that
shows orientation); synthetic skeleton frames in the training colours."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_videos(kind: str) -> list[Path]:
    """For parametrize: files of ../shared/data/<kind> (empty when absent; use with the shared_data fixture)."""
    folder = SHARED_DATA / kind
    return sorted(folder.iterdir()) if folder.is_dir() else []


STEP = 16  # levels per digit: base-16 digits in red (low) and green (high) survive lossy coding (errors < 8)


def numbered_frame(i: int, width: int = 64, height: int = 48) -> np.ndarray:
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[:] = ((i % 16) * STEP + STEP // 2, (i // 16 % 16) * STEP + STEP // 2, 160)
    # A bright block in the top-left corner: where it ends up shows how the picture was turned.
    frame[: height // 4, : width // 4] = 255
    return frame


def frame_number(frame: np.ndarray) -> int:
    """Index encoded by numbered_frame (read from the bottom-right quarter, away from the mark; < 256)."""
    h, w = frame.shape[:2]
    red, green = frame[h // 2:, w // 2:, :2].reshape(-1, 2).mean(axis=0)
    return int(green // STEP) * 16 + int(red // STEP)


def make_video(path: Path, frames: int, *, width: int = 64, height: int = 48, fps=Fraction(24),
               codec: str = "libx264", fmt: str | None = None, gop: int | None = None,
               rotation: int | None = None, hflip: bool = False, pix_fmt: str = "yuv420p") -> Path:
    """Write ``frames`` numbered frames straight with PyAV (independent of the writer under test)."""
    container = av.open(str(path), mode="w", format=fmt)
    options = {"g": str(gop)} if gop else {}
    stream = container.add_stream(codec, rate=Fraction(fps), options=options)
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    if codec in ("mpeg4", "wmv2", "flv", "mpeg2video"):  # no CRF: fixed high quality, else numbers blur
        stream.codec_context.qscale = True
        stream.codec_context.global_quality = 2 * 118
    if rotation is not None or hflip:
        stream.set_display_rotation(rotation or 0, hflip=hflip)
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(numbered_frame(i, width, height), format="rgb24")
        frame.pts = i
        frame.time_base = 1 / Fraction(fps)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    return path


def top_level_boxes(path: Path) -> list[str]:
    """Names of the top-level ISO-BMFF boxes in file order (to check moov precedes mdat)."""
    names = []
    with open(path, "rb") as fh:
        data = fh.read()
    pos = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        name = data[pos + 4:pos + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[pos + 8:pos + 16], "big")
        elif size == 0:
            size = len(data) - pos
        names.append(name)
        if size < 8:
            break
        pos += size
    return names


def skeleton_frames(n: int, width: int = 80, height: int = 96) -> list[np.ndarray]:
    """A stick figure in the training colours (left green, right blue, torso orange) on black, arms moving."""
    frames = []
    for i in range(n):
        img = np.zeros((height, width, 3), np.uint8)
        x = width // 2 + int(8 * np.sin(i / 3))
        cv2.line(img, (x, 20), (x, 60), (255, 153, 51), 3)
        cv2.line(img, (x, 30), (x - 15, 45 + i % 7), (0, 255, 0), 3)
        cv2.line(img, (x, 30), (x + 15, 45 - i % 7), (0, 128, 255), 3)
        cv2.line(img, (x, 60), (x - 10, 90), (0, 255, 0), 3)
        cv2.line(img, (x, 60), (x + 10, 90), (0, 128, 255), 3)
        frames.append(img)
    return frames
