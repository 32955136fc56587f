"""iter_frames / read_frames: sampling, seeking, rotation, resize+crop, streaming."""

from __future__ import annotations

import tracemalloc
import types
from fractions import Fraction

import numpy as np
import pytest

from text2video.exceptions import InvalidInput
from text2video.video import (iter_frames, iter_sampled, probe_video, read_frames, resize_and_crop, sampled_fps,
                              sampled_frame_count)
from tests.media import frame_number, make_video, numbered_frame, shared_videos

ALL_SHARED = shared_videos("raw") + shared_videos("skeleton")


def test_stride_picks_every_kth_frame(gop_video):
    frames = list(iter_sampled(gop_video, stride=7))
    assert [f.index for f in frames] == list(range(0, 60, 7))
    assert [frame_number(f.image) for f in frames] == list(range(0, 60, 7))
    assert [f.time for f in frames] == pytest.approx([i / 24 for i in range(0, 60, 7)])


def test_start_frame_seeks_and_keeps_exact_frames(gop_video):
    # Starts between keyframes (every 10): the reader must land on 37, not on the keyframe 30.
    frames = list(iter_sampled(gop_video, start_frame=37, stride=3, max_frames=5))
    assert [f.index for f in frames] == [37, 40, 43, 46, 49]
    assert [frame_number(f.image) for f in frames] == [37, 40, 43, 46, 49]


def test_max_frames_and_frames_past_the_end(gop_video):
    assert len(read_frames(gop_video, max_frames=4)) == 4
    assert read_frames(gop_video, max_frames=0).shape[0] == 0
    assert read_frames(gop_video, start_frame=500).shape[0] == 0
    assert len(read_frames(gop_video, stride=25)) == 3  # 0, 25, 50


def test_too_few_frames_is_a_clear_error(gop_video):
    with pytest.raises(InvalidInput) as err:
        read_frames(gop_video, stride=5, min_frames=24)
    message = str(err.value)
    assert "12 frames" in message and "stride 5" in message and "24" in message
    assert err.value.field == "frames"


@pytest.mark.parametrize("kwargs,field", [
    (dict(stride=0), "stride"), (dict(stride=2.5), "stride"), (dict(target_fps=-1), "target_fps"),
    (dict(stride=2, target_fps=8), "stride"), (dict(max_frames=-1), "max_frames"),
    (dict(start_frame=-3), "start_frame"), (dict(size=(512,)), "size"), (dict(size=(0, 64)), "size"),
])
def test_bad_sampling_arguments(gop_video, kwargs, field):
    with pytest.raises(InvalidInput) as err:
        next(iter_frames(gop_video, **kwargs))
    assert err.value.field == field


def test_iter_frames_streams(shared_data):
    """A generator that holds one frame at a time: 60 frames of 1080p (3.5 MB each) in far less than 60 frames."""
    path = shared_data / "skeleton" / "skeleton_solo_1080p24.mp4"
    gen = iter_frames(path, max_frames=60)
    assert isinstance(gen, types.GeneratorType)
    tracemalloc.start()
    try:
        count = 0
        for frame in gen:
            assert frame.shape == (1080, 1080, 3) and frame.dtype == np.uint8
            count += 1
            del frame
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 60
    assert peak < 6 * 1080 * 1080 * 3, f"peak {peak / 1e6:.0f} MB: frames are being accumulated"


@pytest.mark.parametrize("path", ALL_SHARED, ids=lambda p: p.name)
def test_size_gives_exact_output_on_real_videos(shared_data, path):
    frames = read_frames(path, stride=5, max_frames=2, size=(320, 192))
    assert frames.shape == (2, 192, 320, 3) and frames.dtype == np.uint8
    # Same picture as resizing the full frame with resize_and_crop (different scalers: small differences only).
    full = read_frames(path, stride=5, max_frames=1)[0]
    reference = resize_and_crop(full, 320, 192)
    assert np.abs(frames[0].astype(int) - reference.astype(int)).mean() < 4


@pytest.mark.parametrize("path", ALL_SHARED, ids=lambda p: p.name)
def test_stride_counts_at_the_end_of_real_videos(shared_data, path):
    # Seek close to the end (decodes one GOP, not the file): the last sampled frames and their count are right.
    info = probe_video(path)
    start = info.frame_count - 12
    sampled = list(iter_sampled(path, stride=5, start_frame=start, size=(64, 64)))
    assert [s.index for s in sampled] == [start, start + 5, start + 10]
    assert sampled_frame_count(info, stride=5, start_frame=start) == 3
    times = [s.time for s in sampled]
    assert 0 < times[0] < times[1] < times[2] <= info.duration
    assert sampled_fps(info, 5) == pytest.approx(info.fps / 5)


def test_stride_counts_whole_video(shared_data):
    path = shared_data / "skeleton" / "skeleton_solo_1080p30.mov"
    info = probe_video(path)
    sampled = list(iter_sampled(path, stride=5, size=(32, 32)))
    assert len(sampled) == sampled_frame_count(info, stride=5) == -(-info.frame_count // 5) == 28
    assert [s.index for s in sampled] == list(range(0, info.frame_count, 5))


def test_target_fps_on_59_84_fps_video(shared_data):
    path = shared_data / "raw" / "dance_studio_1326x1252p60.mp4"
    info = probe_video(path)
    sampled = list(iter_sampled(path, target_fps=12, size=(32, 32)))
    expected = info.duration * 12
    assert abs(len(sampled) - expected) <= 1
    assert abs(len(sampled) - sampled_frame_count(info, target_fps=12)) <= 1
    gaps = np.diff([s.time for s in sampled])
    assert gaps.mean() == pytest.approx(1 / 12, rel=0.02)
    assert gaps.min() >= 1 / 12 - 1.01 / info.fps and gaps.max() <= 1 / 12 + 1.01 / info.fps
    assert sampled_fps(info, target_fps=12) == 12


def test_target_fps_above_source_keeps_every_frame_once(gop_video):
    assert [frame_number(f) for f in iter_frames(gop_video, target_fps=100)] == list(range(60))
    assert len(list(iter_frames(gop_video, target_fps=8))) == 20  # 60 frames at 24 fps = 2.5 s


@pytest.mark.parametrize("name", ["skeleton/skeleton_solo_1080p30.mov", "raw/dance_studio_1326x1252p60.mp4"])
def test_seeking_matches_sequential_decoding(shared_data, name):
    # MPEG-4 Part 2 in QuickTime; H.264 whose average rate (59.84) differs from its frame spacing (1/60 s).
    path = shared_data / name
    direct = list(iter_sampled(path, start_frame=50, stride=4, max_frames=3, size=(96, 96)))
    assert [s.index for s in direct] == [50, 54, 58]
    sequential = [s for s in iter_sampled(path, stride=1, max_frames=59, size=(96, 96))][50::4]
    assert [s.index for s in sequential] == [50, 54, 58]
    for a, b in zip(direct, sequential):
        assert a.time == b.time
        assert np.array_equal(a.image, b.image)


# Rotation as written by PyAV (counter-clockwise degrees, then the mirror), shown as a player shows it.
@pytest.mark.parametrize("degrees,hflip,turn", [
    (90, False, lambda a: np.rot90(a, 1)),
    (-90, False, lambda a: np.rot90(a, -1)),
    (180, False, lambda a: a[::-1, ::-1]),
    (90, True, lambda a: np.rot90(a, 1)[:, ::-1]),
    (0, True, lambda a: a[:, ::-1]),
])
def test_rotation_metadata_is_honoured(tmp_path, degrees, hflip, turn):
    path = make_video(tmp_path / "rotated.mp4", 6, width=64, height=48, rotation=degrees, hflip=hflip)
    info = probe_video(path)
    quarter = degrees % 180 == 90
    assert (info.width, info.height) == (64, 48)
    assert (info.display_width, info.display_height) == ((48, 64) if quarter else (64, 48))
    assert info.rotation == {90: 270, -90: 90, 180: 180, 0: 0}[degrees] or hflip
    frames = read_frames(path)
    for i, frame in enumerate(frames):
        expected = turn(numbered_frame(i, 64, 48))
        assert frame.shape == expected.shape
        assert np.abs(frame.astype(int) - expected.astype(int)).mean() < 6


def test_rotation_with_resize_and_crop(tmp_path):
    path = make_video(tmp_path / "portrait.mp4", 3, width=64, height=48, rotation=-90)  # shown 48 x 64
    frames = read_frames(path, size=(24, 24))
    expected = resize_and_crop(np.rot90(numbered_frame(0, 64, 48), -1), 24, 24)
    assert frames.shape == (3, 24, 24, 3)
    assert np.abs(frames[0].astype(int) - expected.astype(int)).mean() < 8


def test_upscaling_and_odd_sizes(tmp_path):
    path = make_video(tmp_path / "small.mp4", 2, width=34, height=26)
    frames = read_frames(path, size=(128, 64))
    assert frames.shape == (2, 64, 128, 3)


@pytest.mark.parametrize("suffix,codec,fmt", [
    (".mov", "libx264", "mov"), (".mkv", "libx264", "matroska"), (".webm", "libvpx-vp9", "webm"),
    (".avi", "mpeg4", "avi"), (".wmv", "wmv2", "asf"), (".flv", "flv", "flv"),
])
def test_containers_read_back(tmp_path, suffix, codec, fmt):
    path = make_video(tmp_path / f"clip{suffix}", 9, fps=Fraction(15), codec=codec, fmt=fmt)
    info = probe_video(path)
    assert (info.display_width, info.display_height) == (64, 48)
    assert info.fps == pytest.approx(15)
    numbers = [frame_number(f) for f in iter_frames(path)]
    assert numbers == list(range(9))
    assert [frame_number(f) for f in iter_frames(path, stride=4)] == [0, 4, 8]


def test_cut_off_recording_gives_the_frames_before_the_cut(tmp_path):
    # Index at the front (faststart), the last 40 % of the frame data missing: what decodes comes out, in order.
    from text2video.video import write_mp4

    rng = np.random.default_rng(0)  # noise so that frames have real size and the cut lands mid-video
    frames = [np.clip(numbered_frame(i, 128, 96).astype(int) + rng.integers(-30, 30, (96, 128, 3)), 0, 255)
              for i in range(60)]
    full = write_mp4((f.astype(np.uint8) for f in frames), tmp_path / "full.mp4", fps=24)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * 0.6)])
    numbers = [frame_number(f) for f in iter_frames(cut)]
    assert 10 < len(numbers) < 60 and numbers == list(range(len(numbers)))
    with pytest.raises(InvalidInput, match="60 are needed"):
        read_frames(cut, min_frames=60)
