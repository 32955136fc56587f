"""Gap interpolation, long-gap hold/drop, One-Euro smoothing on synthetic keypoint tracks."""

from __future__ import annotations

import numpy as np

from text2video.pose.repair import (DETECTED, MISSING, REPAIRED, RepairOptions, fill_gaps, one_euro, repair_track,
                                    runs)


def test_runs():
    assert runs(np.array([0, 1, 1, 0, 1, 0, 0, 1], bool)) == [(1, 2), (4, 4), (7, 7)]
    assert runs(np.zeros(4, bool)) == []


def test_short_gap_is_interpolated_linearly():
    t = np.arange(20, dtype=float)
    xy = np.stack([10 + 3 * t, 50 - 2 * t], axis=1)
    known = np.ones(20, bool)
    known[5:9] = False  # 4 frames
    xy_in = xy.copy()
    xy_in[5:9] = [999, -999]  # whatever the model said there must not leak through
    out, status = fill_gaps(xy_in, known, max_gap=10, hold=2)
    np.testing.assert_allclose(out, xy, atol=1e-9)
    assert (status[5:9] == REPAIRED).all() and (status[:5] == DETECTED).all() and (status[9:] == DETECTED).all()


def test_long_gap_is_held_briefly_then_dropped_never_invented():
    xy = np.tile([[100.0, 200.0]], (40, 1))
    xy[20:] = [300.0, 50.0]
    known = np.ones(40, bool)
    known[10:30] = False  # 20 frames > max_gap
    out, status = fill_gaps(xy, known, max_gap=10, hold=2)
    np.testing.assert_allclose(out[10:12], [[100, 200]] * 2)  # held forwards
    np.testing.assert_allclose(out[28:30], [[300, 50]] * 2)  # held backwards
    assert np.isnan(out[12:28]).all()
    assert (status[12:28] == MISSING).all() and (status[[10, 11, 28, 29]] == REPAIRED).all()


def test_gaps_at_the_edges_are_held_not_interpolated():
    xy = np.arange(24, dtype=float).reshape(12, 2)
    known = np.ones(12, bool)
    known[:3] = False
    known[-4:] = False
    out, status = fill_gaps(xy, known, max_gap=10, hold=2)
    assert np.isnan(out[0]).all() and (status[0] == MISSING)
    np.testing.assert_allclose(out[1:3], [xy[3]] * 2)
    np.testing.assert_allclose(out[8:10], [xy[7]] * 2)
    assert np.isnan(out[10:]).all()


def test_never_seen_keypoint_stays_missing():
    out, status = fill_gaps(np.zeros((5, 2)), np.zeros(5, bool), max_gap=10, hold=2)
    assert np.isnan(out).all() and (status == MISSING).all()


def test_one_euro_removes_jitter_without_lag_on_motion():
    rng = np.random.default_rng(0)
    fps, n = 6.0, 120
    t = np.arange(n) / fps
    truth = np.stack([200 + 30 * np.sin(2 * np.pi * 0.3 * t), 300 + 0 * t], axis=1)
    noisy = truth + rng.normal(0, 3.0, truth.shape)
    scores = np.ones((n, 1))
    out, status = repair_track(noisy[:, None], scores, fps=fps, scale=512.0)
    err_in = np.abs(noisy - truth).mean()
    err_out = np.abs(out[:, 0] - truth).mean()
    assert err_out < 0.75 * err_in, (err_in, err_out)
    # Zero-lag: on a steady ramp the smoothed track is not behind the input.
    ramp = np.stack([np.arange(n) * 20.0, np.zeros(n)], axis=1)
    out, _ = repair_track(ramp[:, None], scores, fps=fps, scale=512.0)
    np.testing.assert_allclose(out[5:-5, 0, 0], ramp[5:-5, 0], atol=1.0)
    # A causal filter alone does lag: that is why we run it both ways.
    causal = one_euro(ramp / 512.0, 1 / fps, min_cutoff=1.5, beta=1.0, d_cutoff=1.0) * 512.0
    assert (ramp[5:, 0] - causal[5:, 0]).mean() > 5.0


def test_repair_track_thresholds_scores_and_keeps_statuses():
    n = 30
    xy = np.tile(np.linspace(0, 100, 17)[None, :, None], (n, 1, 2)).astype(float)
    scores = np.full((n, 17), 0.9)
    scores[10:13, 9] = 0.1  # left wrist unsure for 3 frames -> interpolated
    scores[5:25, 16] = 0.05  # right ankle lost for 20 frames -> held 2 + missing
    scores[20, :] = 0.0  # nobody in frame 20 -> filled from neighbours
    opts = RepairOptions(score_threshold=0.3, max_gap=10, hold=2, smooth=False)
    out, status = repair_track(xy, scores, fps=6, scale=512, options=opts)
    assert (status[10:13, 9] == REPAIRED).all()
    assert (status[20, :16] == REPAIRED).all()
    assert (status[7:23, 16] == MISSING).all() and np.isnan(out[7:23, 16]).all()
    assert (status[[5, 6, 23, 24], 16] == REPAIRED).all()
    assert (status[0] == DETECTED).all()
    np.testing.assert_allclose(out[20, :16], xy[20, :16])  # constant track: filled exactly


# --- moving with the parent; whole-body parts ----------------------------------------------------------------------
def _arm(n: int = 24, turn_per_frame: float = 0.15):
    """A COCO-17 track: shoulder walking right, elbow swinging round it (bone 80 px), wrist round the elbow."""
    t = np.arange(n, dtype=float)
    xy = np.zeros((n, 17, 2))
    xy[:] = [300.0, 300.0]
    xy[:, 5] = np.stack([200 + 4 * t, 200 + 0 * t], axis=1)  # left shoulder
    angle = 0.3 + turn_per_frame * t
    xy[:, 7] = xy[:, 5] + 80 * np.stack([np.cos(angle), np.sin(angle)], axis=1)  # left elbow
    xy[:, 9] = xy[:, 7] + 60 * np.stack([np.cos(2 * angle), np.sin(2 * angle)], axis=1)  # left wrist
    return xy, np.full((n, 17), 0.9)


def test_an_elbow_lost_for_three_frames_turns_about_its_shoulder():
    xy, scores = _arm()
    scores[10:13, 7] = 0.0
    opts = dict(max_gap=8, hold=0, smooth=False)
    bone, status = repair_track(xy, scores, fps=6, scale=512, options=RepairOptions(**opts))
    line, _ = repair_track(xy, scores, fps=6, scale=512, options=RepairOptions(fill="linear", **opts))
    assert (status[10:13, 7] == REPAIRED).all()
    np.testing.assert_allclose(bone[10:13, 7], xy[10:13, 7], atol=1e-6)  # a rigid bone turning steadily: exact
    err_line = np.linalg.norm(line[10:13, 7] - xy[10:13, 7], axis=1)
    assert err_line.max() > 3.5  # the chord cuts inside the arc by 80 (1 - cos 0.3) = 3.6 px: the arm shrinks
    lengths = np.linalg.norm(bone[10:13, 7] - bone[10:13, 5], axis=1)
    np.testing.assert_allclose(lengths, 80.0, atol=1e-6)


def test_a_bone_that_swings_too_far_across_a_gap_is_left_missing():
    xy, scores = _arm(turn_per_frame=0.5)  # 4 x 0.5 rad = 115 degrees from one side of the gap to the other
    scores[10:13, 7] = 0.0
    out, status = repair_track(xy, scores, fps=6, scale=512, options=RepairOptions(smooth=False, max_turn=60))
    assert (status[10:13, 7] == MISSING).all() and np.isnan(out[10:13, 7]).all()
    assert (status[9, 7] == DETECTED) and (status[13, 7] == DETECTED)


def _wholebody(n: int = 40):
    """A 133-point track: body as in _arm, the left hand's 21 points fixed offsets about the left wrist."""
    body, body_scores = _arm(n, turn_per_frame=0.05)
    xy = np.zeros((n, 133, 2))
    xy[:, :17] = body
    offsets = np.stack([np.linspace(-10, 10, 21), np.linspace(5, 25, 21)], axis=1)
    xy[:, 91:112] = xy[:, 9:10] + offsets[None]
    xy[:, 112:133] = xy[:, 10:11] + offsets[None]
    xy[:, 17:91] = xy[:, 0:1] + 3.0
    scores = np.full((n, 133), 0.9)
    scores[:, :17] = body_scores
    return xy, scores


def test_a_hand_lost_for_two_frames_is_repaired_with_its_wrist():
    xy, scores = _wholebody()
    scores[10:12, 91:112] = 0.05  # the whole left hand unsure in 2 sampled frames
    out, status = repair_track(xy, scores, fps=6, scale=512, options=RepairOptions(smooth=False))
    assert (status[10:12, 91:112] == REPAIRED).all()
    np.testing.assert_allclose(out[10:12, 91:112], xy[10:12, 91:112], atol=0.5)
    assert (status[:, 112:133] == DETECTED).all()


def test_a_hand_lost_for_twenty_frames_is_missing_there_never_drawn_in_a_wrong_place():
    xy, scores = _wholebody()
    scores[10:30, 91:112] = 0.05
    out, status = repair_track(xy, scores, fps=6, scale=512)
    assert (status[10:30, 91:112] == MISSING).all() and np.isnan(out[10:30, 91:112]).all()
    assert (status[9, 91:112] == DETECTED).all() and (status[30, 91:112] == DETECTED).all()


def test_a_hand_under_its_confidence_threshold_is_missing_as_a_whole():
    xy, scores = _wholebody()
    scores[:, 112:133] = 0.1
    scores[:, 112:116] = 0.9  # four confident points, the hand as a whole is not (mean 0.25 < 0.3)
    out, status = repair_track(xy, scores, fps=6, scale=512, options=RepairOptions(part_threshold=0.3))
    assert (status[:, 112:133] == MISSING).all() and np.isnan(out[:, 112:133]).all()
    assert (status[:, 91:112] == DETECTED).all()


def test_a_hand_whose_wrist_is_lost_too_is_filled_whole_or_not_at_all():
    xy, scores = _wholebody()
    scores[10:12, 91:112] = 0.05
    scores[9:13, 9] = 0.0  # the body wrist gone longer than the hand: no parent at the hand's anchors
    scores[10:12, 100] = 0.9  # one finger point still confident: the hand was "not seen" (mean under 0.3)
    out, status = repair_track(xy, scores, fps=6, scale=512, options=RepairOptions(smooth=False))
    hand = status[10:12, 91:112]
    assert ((hand == REPAIRED) | (hand == MISSING)).all()
    for row in hand:  # per frame: all filled or none
        assert len(set(row.tolist())) == 1


def test_a_short_bone_is_filled_whatever_its_angle_does():
    # A face landmark at the nose itself (the nose tip): its 2 px offset from the nose points anywhere from one
    # frame to the next (here right before the gap, left after it: a 180 degree "turn"); it is still filled.
    xy, scores = _wholebody()
    xy[:, 23 + 30] = xy[:, 0] + [2.0, 0.0]
    xy[12:, 23 + 30] = xy[12:, 0] + [-2.0, 0.0]
    scores[10:12, 23:91] = 0.05  # the face unsure in 2 frames
    out, status = repair_track(xy, scores, fps=6, scale=512, options=RepairOptions(smooth=False))
    assert (status[10:12, 23:91] == REPAIRED).all()
    assert np.linalg.norm(out[10:12, 23 + 30] - xy[10:12, 0], axis=1).max() < 6
