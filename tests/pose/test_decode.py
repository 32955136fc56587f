"""Pre/post-processing of the detector and the pose model, on known inputs."""

from __future__ import annotations

import numpy as np
import pytest

from text2video.pose.detector import STRIDES, PersonDetector, box_iou, decode_raw, letterbox, nms
from text2video.pose.estimator import (BOX_PADDING, MEAN, STD, affine_crop, box_to_center_scale, crop_matrix,
                                       decode_simcc, to_source)


def test_simcc_decode_finds_known_peaks():
    rng = np.random.default_rng(0)
    n, k, w, h = 2, 17, 192, 256
    sx = rng.uniform(0, 0.1, (n, k, 2 * w)).astype(np.float32)
    sy = rng.uniform(0, 0.1, (n, k, 2 * h)).astype(np.float32)
    px = rng.integers(0, 2 * w, (n, k))
    py = rng.integers(0, 2 * h, (n, k))
    for i in range(n):
        for j in range(k):
            sx[i, j, px[i, j]] = 0.9
            sy[i, j, py[i, j]] = 0.6 + 0.01 * j
    locs, scores = decode_simcc(sx, sy)
    np.testing.assert_allclose(locs[..., 0], px / 2.0)  # split ratio 2: bins are half pixels
    np.testing.assert_allclose(locs[..., 1], py / 2.0)
    # confidence = the smaller of the two maxima (MMPose's decode)
    np.testing.assert_allclose(scores[0], 0.6 + 0.01 * np.arange(k), rtol=1e-6)


def test_simcc_non_positive_maximum_is_missing():
    sx = np.full((1, 17, 10), -1.0, np.float32)
    sy = np.zeros((1, 17, 12), np.float32)
    sx[0, 3, 4] = 0.5
    sy[0, 3, 6] = 0.7
    locs, scores = decode_simcc(sx, sy)
    assert np.isnan(locs[0, 0]).all() and scores[0, 0] == 0
    np.testing.assert_allclose(locs[0, 3], [2.0, 3.0])
    assert scores[0, 3] == pytest.approx(0.5)


def test_affine_crop_round_trip():
    """A point in the source lands where crop_matrix says, and to_source brings it back."""
    size = (192, 256)
    box = np.array([300.0, 120.0, 420.0, 460.0])
    center, scale = box_to_center_scale(box, size)
    assert scale[0] / scale[1] == pytest.approx(192 / 256)  # aspect fixed to the model input
    assert scale[1] == pytest.approx(340 * BOX_PADDING)  # the taller side padded by 1.25
    image = np.zeros((600, 800, 3), np.uint8)
    image[300:303, 350:353] = 255  # a 3x3 white dot centred at (351, 301)
    crop, c2, s2 = affine_crop(image, box, size)
    assert crop.shape == (256, 192, 3)
    ys, xs = np.nonzero(crop[:, :, 0] > 40)
    found = np.array([np.average(xs, weights=crop[ys, xs, 0]), np.average(ys, weights=crop[ys, xs, 0])])
    expected = crop_matrix(center, scale, size) @ np.array([351.0, 301.0, 1.0])
    np.testing.assert_allclose(found, expected, atol=0.6)
    np.testing.assert_allclose(to_source(expected, c2, s2, size), [351.0, 301.0], atol=1e-9)
    np.testing.assert_allclose(to_source(found, c2, s2, size), [351.0, 301.0], atol=1.5)


def test_letterbox_keeps_aspect_and_pads_grey():
    image = np.full((360, 640, 3), 7, np.uint8)
    canvas, ratio = letterbox(image, (640, 640))
    assert ratio == pytest.approx(1.0)
    assert (canvas[:360] == 7).all() and (canvas[360:] == 114).all()
    canvas, ratio = letterbox(np.zeros((1080, 1920, 3), np.uint8), (640, 640))
    assert ratio == pytest.approx(1 / 3)
    assert (canvas[:360] == 0).all() and (canvas[361:] == 114).all()


def test_nms_keeps_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 100, 200], [5, 5, 102, 205], [300, 0, 400, 200], [0, 0, 100, 200.0]])
    scores = np.array([0.8, 0.9, 0.7, 0.1])
    keep = nms(boxes, scores, 0.45)
    assert keep.tolist() == [1, 2]
    iou = box_iou(boxes[:1], boxes)
    assert iou[0, 0] == pytest.approx(1.0) and iou[0, 2] == 0


def _greedy_nms_oracle(boxes, scores, iou_threshold):
    """The hand-written greedy NMS the detector used before OpenCV's: kept here as the reference."""
    order = np.argsort(-np.asarray(scores, np.float32), kind="stable")
    keep = []
    while order.size:
        keep.append(order[0])
        order = order[1:][box_iou(boxes[order[0]], boxes[order[1:]])[0] <= iou_threshold]
    return keep


@pytest.mark.parametrize("seed", range(20))
def test_nms_equals_greedy_oracle_on_crowded_scenes(seed):
    """Clusters of jittered boxes around a few people (what a raw YOLOX head gives): same kept boxes, same order."""
    rng = np.random.default_rng(seed)
    people = rng.uniform([0, 0, 40, 80], [1800, 900, 300, 600], (rng.integers(1, 6), 4))
    jitter = rng.normal(0, rng.uniform(2, 40), (rng.integers(5, 60), 4))
    base = people[rng.integers(0, len(people), len(jitter))]
    x1y1 = base[:, :2] + jitter[:, :2]
    boxes = np.concatenate([x1y1, x1y1 + np.abs(base[:, 2:] + jitter[:, 2:])], 1)
    scores = rng.uniform(0.5, 1.0, len(boxes))
    for threshold in (0.3, 0.45, 0.65):
        assert nms(boxes, scores, threshold).tolist() == _greedy_nms_oracle(boxes, scores, threshold)


def test_decode_raw_yolox_output():
    """Raw head output: one confident anchor per box; decoding yields the box in input pixels."""
    size = (640, 640)
    anchors = sum((size[0] // s) * (size[1] // s) for s in STRIDES)
    pred = np.zeros((anchors, 6), np.float32)
    pred[:, 2:4] = 0.0
    # anchor (10, 20) on stride 8: centre = (10 + 0.5) * 8, (20 + 0.25) * 8; size = exp(log 12) * 8 = 96
    idx = 20 * (640 // 8) + 10
    pred[idx] = [0.5, 0.25, np.log(12), np.log(25), 0.9, 0.95]
    boxes, scores = decode_raw(pred, size)
    assert scores.argmax() == idx and scores[idx] == pytest.approx(0.855)
    np.testing.assert_allclose(boxes[idx], [84 - 48, 162 - 100, 84 + 48, 162 + 100], rtol=1e-5)
    with pytest.raises(ValueError, match="anchors"):
        decode_raw(pred[:-1], size)


class _FakeInput:
    def __init__(self, name, shape):
        self.name, self.shape = name, shape


class _Session:
    """Only for postprocess: carries the real output names of the two export styles."""

    def __init__(self, outputs):
        self._outputs = [_FakeInput(n, None) for n in outputs]

    def get_inputs(self):
        return [_FakeInput("input", [1, 3, 640, 640])]

    def get_outputs(self):
        return self._outputs


def test_detector_postprocess_with_exported_nms_and_raw_head():
    det = PersonDetector(_Session(["dets", "labels"]), score_threshold=0.5)
    dets = np.array([[[10, 20, 110, 220, 0.9], [12, 22, 112, 222, 0.8], [300, 10, 400, 300, 0.95],
                      [0, 0, 50, 50, 0.3], [500, 500, 600, 600, 0.99]]], np.float32)
    labels = np.array([[0, 0, 0, 0, 2]])  # the last is not a person
    out = det.postprocess([dets, labels], ratio=0.5, image_shape=(1000, 1000))
    np.testing.assert_allclose(out.boxes, [[600, 20, 800, 600], [20, 40, 220, 440]])  # / ratio, best first
    np.testing.assert_allclose(out.scores, [0.95, 0.9], rtol=1e-6)

    raw = PersonDetector(_Session(["output"]), score_threshold=0.5)
    anchors = sum((640 // s) ** 2 for s in STRIDES)
    pred = np.zeros((1, anchors, 6), np.float32)
    pred[0, 0] = [0.5, 0.5, np.log(4), np.log(8), 0.9, 0.9]  # centre (4, 4), 32 x 64 on stride 8
    out = raw.postprocess([pred], ratio=1.0, image_shape=(640, 640))
    np.testing.assert_allclose(out.boxes, [[0, 0, 20, 36]])  # clipped to the image
    assert len(out) == 1


def test_mean_std_are_rgb_imagenet():
    # RTMPose normalises RGB with the ImageNet statistics (0..255 units)
    np.testing.assert_allclose(MEAN, [123.675, 116.28, 103.53])
    np.testing.assert_allclose(STD, [58.395, 57.12, 57.375])
