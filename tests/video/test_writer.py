"""VideoWriter, write_mp4, write_gif, write_side_by_side: real files, decoded back."""

from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from text2video.exceptions import InvalidInput
from text2video.video import (VideoWriter, iter_frames, iter_sampled, probe_video, read_frames, write_gif, write_mp4,
                              write_side_by_side)
from tests.media import frame_number, numbered_frame, top_level_boxes


def test_mp4_round_trip_h264_yuv420p_faststart(tmp_path):
    path = tmp_path / "out.mp4"
    frames = [numbered_frame(i, 64, 48) for i in range(20)]
    assert write_mp4(frames, path, fps=8) == path
    info = probe_video(path)
    assert (info.codec, info.pix_fmt, info.container.split(",")[0]) == ("h264", "yuv420p", "mov")
    assert (info.width, info.height, info.frame_count) == (64, 48, 20)
    assert info.fps == pytest.approx(8) and info.duration == pytest.approx(2.5)
    boxes = top_level_boxes(path)
    assert "moov" in boxes and "mdat" in boxes and boxes.index("moov") < boxes.index("mdat"), boxes
    back = read_frames(path)
    assert [frame_number(f) for f in back] == list(range(20))
    assert np.abs(back.astype(int) - np.stack(frames).astype(int)).mean() < 3  # crf 18: close to the input
    with av.open(str(path)) as container:  # browser-friendly: a profile every browser decodes
        assert container.streams.video[0].codec_context.profile in ("High", "Main", "Constrained Baseline")


def test_odd_sizes_are_padded_to_even(tmp_path):
    frames = [numbered_frame(i, 65, 47) for i in range(3)]
    info = probe_video(write_mp4(frames, tmp_path / "odd.mp4", fps=10))
    assert (info.width, info.height) == (66, 48)
    back = read_frames(tmp_path / "odd.mp4")
    # The original picture is intact, the extra row/column repeats the edge.
    assert np.abs(back[:, :47, :65].astype(int) - np.stack(frames).astype(int)).mean() < 3


def test_fractional_output_rate(tmp_path):
    fps = 3671040 / 61351 / 5  # the 59.84 fps source at stride 5
    info = probe_video(write_mp4([numbered_frame(i) for i in range(6)], tmp_path / "f.mp4", fps=fps))
    assert info.fps == pytest.approx(fps, rel=1e-3)
    exact = probe_video(write_mp4([numbered_frame(i) for i in range(6)], tmp_path / "n.mp4", fps=Fraction(30000, 1001)))
    assert exact.rate == Fraction(30000, 1001)


def test_streaming_from_a_generator(tmp_path):
    def frames():
        for i in range(30):
            yield numbered_frame(i).astype(np.float32) / 255.0  # float frames in [0, 1] are accepted

    path = write_mp4(frames(), tmp_path / "gen.mp4", fps=15)
    assert [frame_number(f) for f in iter_frames(path, stride=10)] == [0, 10, 20]


def test_reencode_a_real_video_streaming(shared_data, tmp_path):
    source = shared_data / "skeleton" / "skeleton_solo_1080x1084p24.mp4"
    out = write_mp4(iter_frames(source, stride=5, max_frames=6, size=(256, 256)), tmp_path / "s.mp4", fps=24 / 5)
    info = probe_video(out)
    assert (info.width, info.height, info.frame_count) == (256, 256, 6)
    assert info.fps == pytest.approx(4.8)


@pytest.mark.parametrize("suffix,codec,container", [
    (".mov", "libx264", "mov"), (".mkv", "libx264", "matroska"), (".webm", "libvpx-vp9", "matroska"),
    (".avi", "mpeg4", "avi"),
])
def test_other_containers(tmp_path, suffix, codec, container):
    path = write_mp4([numbered_frame(i) for i in range(5)], tmp_path / f"v{suffix}", fps=10, codec=codec)
    info = probe_video(path)
    assert info.container.startswith(container)
    assert [frame_number(f) for f in iter_frames(path)] == list(range(5))


def test_atomic_writer_leaves_nothing_on_exception(tmp_path):
    path = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(path, fps=10) as writer:
            for i in range(80):  # past the encoder's look-ahead, so packets reach the file
                writer.write(numbered_frame(i))
            assert list(tmp_path.iterdir()) != []  # the temporary file exists while writing...
            assert not path.exists()  # ...but never under the final name
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_the_previous_file(tmp_path):
    path = write_mp4([numbered_frame(i) for i in range(4)], tmp_path / "keep.mp4", fps=10)
    before = path.read_bytes()

    def frames():
        yield numbered_frame(0)
        raise ValueError("generator failed")

    with pytest.raises(ValueError):
        write_mp4(frames(), path, fps=10)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["keep.mp4"]


def test_frame_size_change_is_an_error(tmp_path):
    with pytest.raises(InvalidInput, match="same size") as err:
        write_mp4([numbered_frame(0, 64, 48), numbered_frame(1, 32, 32)], tmp_path / "x.mp4", fps=10)
    assert err.value.field == "frames"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("call,field", [
    (lambda d: write_mp4([], d / "empty.mp4", fps=10), "frames"),
    (lambda d: write_mp4([numbered_frame(0)], d / "x.mp4", fps=0), "fps"),
    (lambda d: write_mp4([numbered_frame(0)], d / "x.mp4", fps=float("nan")), "fps"),
    (lambda d: write_mp4([numbered_frame(0)], d / "x.xyz", fps=10), "path"),
    (lambda d: write_mp4([numbered_frame(0)], d / "missing" / "x.mp4", fps=10), "path"),
    (lambda d: write_mp4([numbered_frame(0)], d / "x.webm", fps=10), "codec"),  # H.264 is not allowed in WebM
    (lambda d: write_mp4([numbered_frame(0)], d / "x.mp4", fps=10, codec="nonexistent"), "codec"),
    (lambda d: write_mp4([np.zeros((4, 4, 5), np.uint8)], d / "x.mp4", fps=10), "frame"),
    (lambda d: write_gif([], d / "x.gif", fps=10), "frames"),
])
def test_bad_writer_arguments(tmp_path, call, field):
    with pytest.raises(InvalidInput) as err:
        call(tmp_path)
    assert err.value.field == field
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_gif_decodes_and_loops(tmp_path):
    frames = [numbered_frame(i, 400, 300) for i in range(12)]
    path = write_gif(iter(frames), tmp_path / "preview.gif", fps=8, max_side=200)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 12
        assert gif.size == (200, 150)
        assert gif.info.get("loop") == 0
        total_ms, numbers = 0, []
        for k in range(gif.n_frames):
            gif.seek(k)
            total_ms += gif.info["duration"]
            numbers.append(frame_number(np.asarray(gif.convert("RGB"))))
    assert numbers == list(range(12))
    assert total_ms == pytest.approx(12 / 8 * 1000, abs=10)
    assert [p.name for p in tmp_path.iterdir()] == ["preview.gif"]


def test_side_by_side_width_is_the_sum(tmp_path):
    left = [numbered_frame(i, 96, 96) for i in range(6)]  # the skeleton, at another resolution
    right = [numbered_frame(i + 100, 64, 64) for i in range(6)]
    info = probe_video(write_side_by_side(iter(left), iter(right), tmp_path / "sbs.mp4", fps=6))
    assert (info.width, info.height, info.frame_count) == (64 + 64, 64, 6)
    same = probe_video(write_side_by_side(right, right, tmp_path / "same.mp4", fps=6))
    assert same.width == 2 * 64
    frames = read_frames(tmp_path / "sbs.mp4")
    assert [frame_number(f[:, :64]) for f in frames] == list(range(6))
    assert [frame_number(f[:, 64:]) for f in frames] == [i + 100 for i in range(6)]


def test_side_by_side_length_mismatch(tmp_path):
    with pytest.raises(InvalidInput, match="ended after 3 frames"):
        write_side_by_side([numbered_frame(i) for i in range(3)], [numbered_frame(i) for i in range(4)],
                           tmp_path / "sbs.mp4", fps=6)
    assert list(tmp_path.iterdir()) == []


def test_written_file_reads_with_times(tmp_path):
    path = write_mp4([numbered_frame(i) for i in range(10)], tmp_path / "t.mp4", fps=5)
    assert [round(s.time, 3) for s in iter_sampled(path, stride=3)] == [0.0, 0.6, 1.2, 1.8]


def test_skeleton_colours_survive_a_round_trip(tmp_path):
    # The training-style limb colours (and black/white) come back within a few levels: BT.709 tagged and used
    # on both sides, so the pose adapter sees the colours that were drawn.
    colours = [(0, 255, 0), (0, 128, 255), (255, 153, 51), (0, 0, 0), (255, 255, 255)]
    frame = np.concatenate([np.full((64, 64, 3), c, np.uint8) for c in colours], axis=1)
    path = write_mp4([frame] * 3, tmp_path / "colours.mp4", fps=5)
    back = read_frames(path)[1].astype(int)
    for k, colour in enumerate(colours):
        assert np.abs(back[32, k * 64 + 32] - np.array(colour)).max() <= 4, colour


def test_gif_play_once_and_small_inputs(tmp_path):
    path = write_gif([numbered_frame(i, 30, 20) for i in range(3)], tmp_path / "once.gif", fps=4, loop=-1)
    with Image.open(path) as gif:
        assert gif.n_frames == 3 and gif.size == (30, 20)  # never enlarged
        assert "loop" not in gif.info


def test_metadata_tags_are_written(tmp_path):
    # The engine states the output rate in the file itself (issue 7: "stated in the job and in the file").
    tags = {"comment": "12 fps = 60 fps source / stride 5", "title": "Text2Video"}
    path = write_mp4([numbered_frame(i) for i in range(3)], tmp_path / "m.mp4", fps=12, metadata=tags)
    with av.open(str(path)) as container:
        assert container.metadata.get("comment") == tags["comment"]
        assert container.metadata.get("title") == tags["title"]


def _write_in_thread(frames, path, cpus=None):
    """write_mp4 from a fresh thread, optionally pinned to ``cpus`` (Linux affinity is per thread)."""
    import threading

    errors = []

    def run():
        try:
            if cpus is not None:
                os.sched_setaffinity(0, cpus)
            write_mp4(frames, path, fps=8)
        except BaseException as exc:  # re-raised in the test thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs at least 2 CPUs and Linux thread affinity")
def test_same_frames_give_the_same_bytes_whatever_cpus_the_writer_may_use(tmp_path):
    # x264 output depends on its thread count, and "auto" threads are read from the CPU affinity of the thread
    # that opens the encoder: the same frames written on a pinned thread (taskset, a busy box, another machine)
    # gave another file. The writer must not depend on that (issue 13 item 5).
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    frames = [np.roll(base, 3 * i, axis=1) for i in range(6)]
    _write_in_thread(frames, tmp_path / "all.mp4")
    _write_in_thread(frames, tmp_path / "one.mp4", cpus={min(os.sched_getaffinity(0))})
    assert (tmp_path / "all.mp4").read_bytes() == (tmp_path / "one.mp4").read_bytes()
