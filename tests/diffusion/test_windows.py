"""Window schedule and fusion weights for long videos (text2video.diffusion.windows): pure functions, exhaustive."""

from __future__ import annotations

import pytest
import torch

from text2video.diffusion.streaming import gif_stride
from text2video.diffusion.windows import (DEFAULT_OVERLAP, DEFAULT_WINDOW, blend_weights, count_windows,
                                          frame_windows, window_weights)
from text2video.exceptions import InvalidInput

CASES = [(length, window, overlap) for length in (1, 2, 3, 5, 23, 24, 25, 40, 41, 100, 200, 1024)
         for window, overlap in ((2, 0), (2, 1), (3, 1), (8, 0), (8, 3), (16, 4), (24, 8), (24, 23), (32, 8))]


@pytest.mark.parametrize("length,window,overlap", CASES)
def test_schedule_covers_every_frame_with_full_windows(length, window, overlap):
    windows = frame_windows(length, window, overlap)
    covered = torch.zeros(length, dtype=torch.int64)
    for start, end in windows:
        assert 0 <= start < end <= length
        covered[start:end] += 1
    assert bool((covered >= 1).all()), f"uncovered frames {torch.nonzero(covered == 0).flatten().tolist()}"
    assert windows[0][0] == 0 and windows[-1][1] == length  # first at the start, last aligned to the end
    if length <= window:
        assert windows == [(0, length)]
        return
    starts = [s for s, _ in windows]
    assert starts == sorted(set(starts))  # strictly increasing, no duplicate window
    for (s0, e0), (s1, e1) in zip(windows, windows[1:]):
        assert e0 - s0 == window and e1 - s1 == window  # every window is full length (no short tail window)
        assert e0 - s1 >= overlap  # consecutive windows share at least the overlap
    # As few windows as the overlap allows, evenly spread: advances differ by at most one frame.
    assert len(windows) == 1 + -(-(length - window) // (window - overlap))
    advances = [b - a for a, b in zip(starts, starts[1:])]
    assert max(advances) <= window - overlap and max(advances) - min(advances) <= 1
    assert count_windows(length, window, overlap) == len(windows)


@pytest.mark.parametrize("length,window,overlap", CASES)
def test_weights_positive_fall_off_at_edges_and_sum_to_one(length, window, overlap):
    windows = frame_windows(length, window, overlap)
    weights = window_weights(windows, length)
    total = torch.zeros(length, dtype=torch.float64)
    for (start, end), w in zip(windows, weights):
        assert w.shape == (end - start,) and w.dtype == torch.float32
        assert bool((w > 0).all()), "every frame a window sees must contribute"
        assert bool((w <= 1).all())
        total[start:end] += w.double()
    torch.testing.assert_close(total, torch.ones(length, dtype=torch.float64), rtol=0, atol=1e-6)
    coverage = torch.zeros(length, dtype=torch.int64)
    for start, end in windows:
        coverage[start:end] += 1
    for k, ((start, end), w) in enumerate(zip(windows, weights)):
        # A window's edge frame shared with a neighbour weighs less than its best frame (unless 2-frame windows).
        if k + 1 < len(windows) and end > windows[k + 1][0] and window > 2:
            assert float(w[-1]) < float(w.max())
        if k > 0 and windows[k - 1][1] > start and window > 2:
            assert float(w[0]) < float(w.max())
        if int(coverage.max()) > 2:
            continue  # where three windows meet (tiny windows, large overlaps) only the above holds
        shared = end - windows[k + 1][0] if k + 1 < len(windows) else 0
        if shared > 0:  # fades out towards its end inside the overlap with the next window
            tail = w[-shared:]
            assert bool((tail[1:] < tail[:-1]).all()) and float(tail[-1]) <= 0.5
        shared = windows[k - 1][1] - start if k > 0 else 0
        if shared > 0:  # fades in from its start
            head = w[:shared]
            assert bool((head[1:] > head[:-1]).all()) and float(head[0]) <= 0.5


def test_frames_seen_by_one_window_take_its_prediction_unchanged():
    windows = frame_windows(56, 24, 8)  # (0,24) (16,40) (32,56)
    assert windows == [(0, 24), (16, 40), (32, 56)]
    weights = window_weights(windows, 56)
    assert torch.equal(weights[0][:16], torch.ones(16))  # frames 0..15: only the first window
    assert torch.equal(weights[1][8:16], torch.ones(8))  # frames 24..31: only the second
    # Overlap frames 16..23: a symmetric linear cross-fade 8/9 ... 1/9.
    torch.testing.assert_close(weights[0][16:], torch.arange(8, 0, -1) / 9.0)
    torch.testing.assert_close(weights[1][:8], torch.arange(1, 9) / 9.0)


def test_blend_weights_broadcast_over_latents():
    windows = frame_windows(30, 24, 8)
    blend = blend_weights(windows, 30, torch.device("cpu"), torch.bfloat16)
    assert [b.shape for b in blend] == [(1, 1, 24, 1, 1)] * 2 and blend[0].dtype == torch.bfloat16
    fused = torch.zeros(1, 4, 30, 2, 2)
    for (start, end), b in zip(windows, blend):
        fused[:, :, start:end] += torch.ones(1, 4, end - start, 2, 2) * b.float()
    torch.testing.assert_close(fused, torch.ones_like(fused), rtol=0, atol=1e-2)  # bf16 weights


@pytest.mark.parametrize("window,overlap,field", [(1, 0, "window"), (0, 0, "window"), (2.5, 0, "window"),
                                                  (True, 0, "window"), (8, 8, "window_overlap"),
                                                  (8, -1, "window_overlap"), (8, 2.0, "window_overlap")])
def test_bad_window_arguments_name_the_field(window, overlap, field):
    with pytest.raises(InvalidInput) as info:
        frame_windows(100, window, overlap)
    assert info.value.field == field and info.value.hint


def test_defaults_and_one_window_cases():
    assert (DEFAULT_WINDOW, DEFAULT_OVERLAP) == (24, 8)
    assert frame_windows(24, None, 8) == [(0, 24)]
    assert frame_windows(10, 24, 8) == [(0, 10)]
    with pytest.raises(InvalidInput):
        frame_windows(0, 24, 8)


def test_gif_stride():
    assert gif_stride(96, 96) == 1 and gif_stride(10, 96) == 1 and gif_stride(97, 96) == 2
    assert gif_stride(1024, 96) == 11 and 1024 // 11 + 1 <= 96
    assert gif_stride(500, 0) == 1  # 0 = no limit
