"""assets/sample_skeleton.mp4: the bundled demo input is a small, browser-playable skeleton video."""

from __future__ import annotations

from pathlib import Path

import pytest

from text2video.video import probe_video, read_frames
from tests.media import top_level_boxes

SAMPLE = Path(__file__).resolve().parents[2] / "assets" / "sample_skeleton.mp4"
# Limb colour families of the training style (shared/reference/README.md): left green, right blue, torso orange.
# Matched by hue rather than exact value: the source file's green strokes decode darker, about (0, 160, 0).
FAMILIES = {
    "green": lambda r, g, b: (g > 100) & (r < 70) & (b < 70),
    "blue": lambda r, g, b: (b > 150) & (r < 70) & (g > 60) & (g < 180),
    "orange": lambda r, g, b: (r > 180) & (g > 100) & (g < 200) & (b < 130),
}


def test_sample_is_small_h264_faststart():
    assert SAMPLE.stat().st_size <= 400 * 1024
    info = probe_video(SAMPLE)
    assert (info.codec, info.pix_fmt, info.width, info.height) == ("h264", "yuv420p", 512, 512)
    assert info.fps == pytest.approx(24) and info.frame_count >= 120  # 24 frames at stride 5 (the defaults)
    boxes = top_level_boxes(SAMPLE)
    assert boxes.index("moov") < boxes.index("mdat")


def test_sample_is_a_training_style_skeleton():
    frames = read_frames(SAMPLE, stride=30).astype(int)
    black = (frames.max(axis=-1) < 40).mean()
    assert black > 0.85  # black background, thin strokes
    r, g, b = frames[..., 0], frames[..., 1], frames[..., 2]
    for name, family in FAMILIES.items():
        share = family(r, g, b).mean(axis=(1, 2))
        assert (share > 0.001).all(), f"{name} limbs missing in some frames: {share}"
