"""Tracking across a synthetic scene: two people crossing, an occlusion, subject choice, re-linking."""

from __future__ import annotations

import numpy as np
import pytest

from text2video.exceptions import InvalidInput
from text2video.pose.tracking import IoUTracker, choose_subject, follow_subject


def box(cx, cy, w, h):
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], float)


def crossing_scene(frames=30, occlude=range(14, 17)):
    """A (big, left -> right) and B (smaller, right -> left) cross in the middle; A vanishes for a few frames."""
    scene = []
    for f in range(frames):
        a = box(100 + 15 * f, 300, 120, 300)
        b = box(540 - 15 * f, 290, 100, 260)
        dets = [b] if f in occlude else [b, a]  # order varies: identity must come from the boxes
        if f % 3 == 0:
            dets = dets[::-1]
        scene.append((a, b, dets))
    return scene


def test_two_people_crossing_with_occlusion_keep_their_tracks():
    scene = crossing_scene()
    tracker = IoUTracker(max_lost=8)
    ids_a, ids_b = [], []
    for f, (a, b, dets) in enumerate(scene):
        ids = tracker.update(f, np.stack(dets))
        for d, tid in zip(dets, ids):
            if np.allclose(d, a):
                ids_a.append(tid)
            else:
                ids_b.append(tid)
    assert len(set(ids_a)) == 1, f"A switched tracks: {ids_a}"
    assert len(set(ids_b)) == 1, f"B switched tracks: {ids_b}"
    assert ids_a[0] != ids_b[0]
    track_a = tracker.tracks[ids_a[0]]
    assert sorted(track_a.boxes) == [f for f in range(30) if f not in range(14, 17)]


def test_long_absence_ends_the_track():
    tracker = IoUTracker(max_lost=3)
    first = tracker.update(0, [box(100, 100, 50, 100)])[0]
    for f in range(1, 6):
        tracker.update(f, np.zeros((0, 4)))
    again = tracker.update(6, [box(100, 100, 50, 100)])[0]
    assert again != first


def test_subject_choice_modes():
    frame = (640, 480)
    tracker = IoUTracker()
    for f in range(5):
        # big person at the edge, small person in the middle
        tracker.update(f, np.stack([box(80, 240, 150, 400), box(320, 240, 60, 160)]))
    tracks = tracker.tracks
    assert choose_subject(tracks, frame, mode="largest").id == 0
    assert choose_subject(tracks, frame, mode="central").id == 1
    assert choose_subject(tracks, frame, mode="auto").id == 0  # size dominates
    with pytest.raises(InvalidInput) as err:
        choose_subject(tracks, frame, mode="tallest")
    assert err.value.field == "subject" and "tallest" in str(err.value)
    assert choose_subject([], frame) is None


def test_someone_seen_once_is_not_the_subject():
    tracker = IoUTracker()
    tracker.update(0, np.stack([box(320, 240, 150, 300), box(100, 240, 100, 200)]))  # bigger passer-by, frame 0 only
    for f in range(1, 5):
        tracker.update(f, np.stack([box(100, 240, 100, 200)]))
    assert choose_subject(tracker.tracks, (640, 480), mode="largest").id == 1


def test_subject_relinked_after_long_occlusion_but_not_to_someone_elsewhere():
    tracker = IoUTracker(max_lost=2)
    for f in range(10):
        tracker.update(f, np.stack([box(200 + 2 * f, 240, 100, 250), box(550, 240, 90, 240)]))
    for f in range(10, 20):  # subject hidden for 10 frames; the other person stays
        tracker.update(f, np.stack([box(550, 240, 90, 240)]))
    for f in range(20, 30):  # subject reappears close to where it was lost
        tracker.update(f, np.stack([box(230, 240, 100, 250), box(550, 240, 90, 240)]))
    subject = choose_subject(tracker.tracks, (640, 480), mode="largest")
    chain = follow_subject(tracker.tracks, subject)
    assert len(chain) == 2 and chain[0].id == subject.id
    assert min(chain[1].boxes) == 20
    assert all(abs((t.boxes[min(t.boxes)][0] + t.boxes[min(t.boxes)][2]) / 2 - 550) > 100 for t in chain)
