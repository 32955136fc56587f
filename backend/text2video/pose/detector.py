"""YOLOX person detector (MMPose-zoo / mmdeploy ONNX export) with our own pre- and post-processing.

Model contract (the published ``yolox_{m,x}_8xb8-300e_humanart`` onnx_sdk files):
- input ``input`` 1x3xHxW float32, H = W = 640: BGR, raw 0..255 (YOLOX is trained without mean/std), the image
  resized keeping its aspect ratio and pasted top-left on a 114-grey canvas (mmdet ``Resize`` + ``Pad``).
- outputs, either with NMS inside (mmdeploy end2end): ``dets`` 1xNx5 (x1, y1, x2, y2, score in input pixels) and
  ``labels`` 1xN (class 0 = person); or raw predictions 1xAx(5+C) (cx, cy, log w, log h offsets per anchor cell on
  strides 8/16/32, objectness, class scores): decoded and NMS'd here.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114
STRIDES = (8, 16, 32)


@dataclass
class Detections:
    boxes: np.ndarray  # (N, 4) x1, y1, x2, y2 in source image pixels
    scores: np.ndarray  # (N,)

    def __len__(self) -> int:
        return len(self.scores)


def letterbox(image_bgr: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Resize keeping aspect ratio and paste top-left on a grey (114) canvas of ``size`` = (w, h)."""
    w, h = size
    ratio = min(w / image_bgr.shape[1], h / image_bgr.shape[0])
    nw, nh = max(1, int(image_bgr.shape[1] * ratio)), max(1, int(image_bgr.shape[0] * ratio))
    canvas = np.full((h, w, 3), PAD_VALUE, np.uint8)
    canvas[:nh, :nw] = cv2.resize(image_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, ratio


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix between boxes a (N, 4) and b (M, 4), x1 y1 x2 y2."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]).clip(0) * (a[:, 3] - a[:, 1]).clip(0)
    area_b = (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression (OpenCV's ``cv2.dnn.NMSBoxes``); returns kept indices, best score first.

    Scores must already be filtered by the caller's threshold: OpenCV only drops scores <= 0 here.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    keep = cv2.dnn.NMSBoxes(xywh, np.asarray(scores, np.float32), 0.0, float(iou_threshold))
    return np.asarray(keep, dtype=np.int64).reshape(-1)


def decode_raw(pred: np.ndarray, input_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Raw YOLOX head output (A, 5+C) -> boxes (A, 4) x1y1x2y2 in input pixels and person scores (A,)."""
    w, h = input_size
    grids, strides = [], []
    for s in STRIDES:
        xs, ys = np.meshgrid(np.arange(w // s), np.arange(h // s))
        grids.append(np.stack([xs, ys], -1).reshape(-1, 2))
        strides.append(np.full((grids[-1].shape[0], 1), s))
    grid = np.concatenate(grids).astype(np.float32)
    stride = np.concatenate(strides).astype(np.float32)
    if grid.shape[0] != pred.shape[0]:
        raise ValueError(f"raw detector output has {pred.shape[0]} anchors, expected {grid.shape[0]} for an "
                         f"input of {w}x{h} with strides {STRIDES}")
    centre = (pred[:, :2] + grid) * stride
    size = np.exp(np.clip(pred[:, 2:4], -10, 10)) * stride
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    scores = pred[:, 4] * pred[:, 5]  # objectness x person class
    return boxes, scores


class PersonDetector:
    def __init__(self, session, *, score_threshold: float = 0.5, nms_threshold: float = 0.45,
                 input_size: tuple[int, int] | None = None) -> None:
        self.session = session
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        inp = session.get_inputs()[0]
        self.input_name = inp.name
        shape = inp.shape
        static = isinstance(shape[2], int) and isinstance(shape[3], int)
        self.input_size = (shape[3], shape[2]) if static else (input_size or (640, 640))
        self.output_names = [o.name for o in session.get_outputs()]

    def preprocess(self, image_rgb: np.ndarray) -> tuple[np.ndarray, float]:
        bgr = np.ascontiguousarray(image_rgb[:, :, ::-1])
        canvas, ratio = letterbox(bgr, self.input_size)
        return canvas.transpose(2, 0, 1)[None].astype(np.float32), ratio

    def postprocess(self, outputs: list[np.ndarray], ratio: float, image_shape: tuple[int, int], *,
                    score_threshold: float | None = None, nms_threshold: float | None = None) -> Detections:
        score_threshold = self.score_threshold if score_threshold is None else score_threshold
        nms_threshold = self.nms_threshold if nms_threshold is None else nms_threshold
        named = dict(zip(self.output_names, outputs))
        first = outputs[0]
        if "dets" in named or (first.ndim == 3 and first.shape[-1] == 5):
            dets = named.get("dets", first)[0]
            labels = named.get("labels")
            boxes, scores = dets[:, :4].astype(np.float64), dets[:, 4].astype(np.float64)
            keep = scores >= score_threshold
            if labels is not None:
                keep &= labels[0].astype(np.int64) == 0
            boxes, scores = boxes[keep], scores[keep]
            if len(scores):  # exported NMS is class-wise already; this also removes exporter padding duplicates
                idx = nms(boxes, scores, nms_threshold)
                boxes, scores = boxes[idx], scores[idx]
        else:
            boxes, scores = decode_raw(first[0].astype(np.float64), self.input_size)
            keep = scores >= score_threshold
            boxes, scores = boxes[keep], scores[keep]
            idx = nms(boxes, scores, nms_threshold)
            boxes, scores = boxes[idx], scores[idx]
        boxes = boxes / ratio
        h, w = image_shape
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        ok = ((boxes[:, 2] - boxes[:, 0]) > 1) & ((boxes[:, 3] - boxes[:, 1]) > 1)
        return Detections(boxes[ok].reshape(-1, 4), scores[ok])

    def __call__(self, image_rgb: np.ndarray, *, score_threshold: float | None = None,
                 nms_threshold: float | None = None) -> Detections:
        tensor, ratio = self.preprocess(image_rgb)
        outputs = self.session.run(self.output_names, {self.input_name: tensor})
        return self.postprocess(outputs, ratio, image_rgb.shape[:2], score_threshold=score_threshold,
                                nms_threshold=nms_threshold)
