"""probe_video on the real test videos and on files that must be refused."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from text2video.exceptions import InvalidInput, UnsupportedMedia
from text2video.video import count_packets, probe_video
from tests.media import make_video, shared_videos

# What the files in ../shared/data are (measured independently of our code: see shared/reference/README.md).
EXPECTED = {
    "dance_room_1080p30.mp4": dict(width=1080, height=1080, fps=30.0, codec="h264"),
    "dance_studio_1326x1252p60.mp4": dict(width=1326, height=1252, fps=59.84, codec="h264"),
    "skeleton_group_1080x1084p24.mp4": dict(width=1080, height=1084, fps=24.0, codec="h264"),
    "skeleton_solo_1080p24.mp4": dict(width=1080, height=1080, fps=24.0, codec="h264"),
    "skeleton_solo_1080p30.mov": dict(width=1080, height=1080, fps=30.0, codec="mpeg4"),
    "skeleton_solo_1080x1084p24.mp4": dict(width=1080, height=1084, fps=24.0, codec="h264"),
}
ALL_SHARED = shared_videos("raw") + shared_videos("skeleton")


@pytest.mark.parametrize("path", ALL_SHARED, ids=lambda p: p.name)
def test_probe_shared_videos(shared_data, path: Path):
    info = probe_video(path)
    expected = EXPECTED[path.name]
    assert (info.width, info.height) == (expected["width"], expected["height"])
    assert (info.display_width, info.display_height) == (expected["width"], expected["height"])
    assert info.rotation == 0
    assert info.fps == pytest.approx(expected["fps"], abs=0.005)
    assert info.codec == expected["codec"]
    assert info.pix_fmt == "yuv420p"
    assert info.has_video and info.frame_count_exact
    # The stored count matches the packets actually in the file, and the duration agrees with count / fps.
    assert info.frame_count == count_packets(path)
    assert info.duration == pytest.approx(info.frame_count / info.fps, rel=0.02)


def test_mpeg4_in_quicktime_is_recognised(shared_data):
    info = probe_video(shared_data / "skeleton" / "skeleton_solo_1080p30.mov")
    assert info.codec == "mpeg4" and info.container.startswith("mov")


def test_non_integer_frame_rate_is_exact(shared_data):
    info = probe_video(shared_data / "raw" / "dance_studio_1326x1252p60.mp4")
    assert info.rate == Fraction(3671040, 61351)
    assert round(info.fps, 2) == 59.84


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(InvalidInput) as err:
        probe_video(missing)
    assert not isinstance(err.value, UnsupportedMedia)
    assert str(missing) in str(err.value) and err.value.field == "video"


def test_url_is_a_missing_file_not_a_download(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidInput, match="not found"):
        probe_video("http://127.0.0.1:9/video.mp4")


def test_text_file_named_mp4_is_unsupported(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 50)
    with pytest.raises(UnsupportedMedia) as err:
        probe_video(fake)
    assert err.value.http_status == 415 and "notes.mp4" in str(err.value)


def test_empty_file_is_unsupported(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(UnsupportedMedia, match="empty"):
        probe_video(empty)


def test_image_is_not_a_video(tmp_path):
    from PIL import Image

    image = tmp_path / "photo.mp4"
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(image, format="PNG")
    with pytest.raises(UnsupportedMedia):
        probe_video(image)


def test_audio_only_file_has_no_video(tmp_path):
    path = tmp_path / "sound.mp4"
    container = av.open(str(path), "w")
    stream = container.add_stream("aac", rate=16000)
    samples = (np.sin(np.arange(16000) / 10.0) * 0.3).astype(np.float32)[None, :]
    frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
    frame.sample_rate = 16000
    for packet in stream.encode(frame):
        container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    with pytest.raises(UnsupportedMedia, match="no video stream"):
        probe_video(path)


CONCAT = "ffconcat version 1.0\nfile '{target}'\n"
HLS = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{target}\n#EXT-X-ENDLIST\n"


@pytest.mark.parametrize("name,text", [("list.mp4", CONCAT), ("list.txt", CONCAT), ("playlist.m3u8", HLS)])
def test_playlists_that_reference_other_files_are_refused(tmp_path, gop_video, name, text):
    # Each points at a real, decodable video next to it: FFmpeg's concat/hls demuxers would happily open it.
    (tmp_path / "target.mp4").write_bytes(gop_video.read_bytes())
    playlist = tmp_path / name
    playlist.write_text(text.format(target="target.mp4"))
    with av.open(str(playlist)) as unguarded:  # proves the file is a working playlist for plain FFmpeg
        assert unguarded.format.name in ("concat", "hls")
    with pytest.raises(UnsupportedMedia):
        probe_video(playlist)


def test_limits_for_uploads(shared_data):
    path = shared_data / "raw" / "dance_studio_1326x1252p60.mp4"
    probe_video(path, max_pixels=1326 * 1252, max_fps=60, max_seconds=4)  # at the limits: fine
    with pytest.raises(InvalidInput, match="1326x1252") as err:
        probe_video(path, max_pixels=1920 * 1080 // 2)
    assert err.value.field == "video" and "TEXT2VIDEO_MAX_VIDEO_PIXELS" in str(err.value)
    with pytest.raises(InvalidInput, match="59.84 fps"):
        probe_video(path, max_fps=30)
    with pytest.raises(InvalidInput, match="3.96 s|4.0 s"):
        probe_video(path, max_seconds=2)


def test_truncated_file_is_unsupported(tmp_path, gop_video):
    # gop.mp4 has its index (moov) at the end: cutting the file loses it.
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(gop_video.read_bytes()[: gop_video.stat().st_size // 2])
    with pytest.raises(UnsupportedMedia):
        probe_video(cut)


def test_estimated_and_counted_frames_without_stored_count(tmp_path):
    path = make_video(tmp_path / "clip.mkv", 17, fps=Fraction(12), fmt="matroska")
    info = probe_video(path)
    assert not info.frame_count_exact and abs(info.frame_count - 17) <= 1
    counted = probe_video(path, count_frames=True)
    assert counted.frame_count_exact and counted.frame_count == 17


def test_cover_picture_stream_is_not_taken_for_the_video(tmp_path):
    # An MKV whose first video stream is a one-frame 32x32 picture (cover art), the second the real clip.
    from tests.media import frame_number, numbered_frame
    from text2video.video import iter_frames

    path = tmp_path / "cover.mkv"
    container = av.open(str(path), "w")
    cover = container.add_stream("mjpeg", rate=1)
    cover.width, cover.height, cover.pix_fmt = 32, 32, "yuvj420p"
    video = container.add_stream("libx264", rate=Fraction(10))
    video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
    picture = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 200, np.uint8), format="rgb24")
    picture.pts, picture.time_base = 0, Fraction(1)
    for packet in [*cover.encode(picture), *cover.encode(None)]:
        container.mux(packet)
    for i in range(5):
        frame = av.VideoFrame.from_ndarray(numbered_frame(i), format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, 10)
        for packet in video.encode(frame):
            container.mux(packet)
    for packet in video.encode(None):
        container.mux(packet)
    container.close()
    info = probe_video(path)
    assert (info.codec, info.width, info.height) == ("h264", 64, 48)
    assert [frame_number(f) for f in iter_frames(path)] == [0, 1, 2, 3, 4]
