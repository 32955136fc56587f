"""RTMPose / DWPose top-down estimator (MMPose-zoo onnx_sdk export, DWPose's ONNX) with our own affine crop and
SimCC decode. K keypoints: 17 (COCO body, RTMPose) or 133 (COCO-WholeBody, ``dw-ll_ucoco_384``; layout in parts.py).

Model contract (``rtmpose-{m,x}_simcc-body7`` onnx_sdk files):
- input ``input`` Nx3xHxW float32 (256x192 for -m, 384x288 for -x): RGB, normalised with the ImageNet mean/std
  in 0..255 units (the export leaves normalisation to the SDK pipeline, so we do it here).
- outputs ``simcc_x`` NxKx(W*2) and ``simcc_y`` NxKx(H*2): 1-D classification over sub-pixel bins (split ratio 2);
  the keypoint is at the argmax, its confidence the smaller of the two maxima (as MMPose decodes it).
- the crop: the detector box scaled by 1.25 around its centre, widened or heightened to the model's aspect ratio.
- ``dw-ll_ucoco_384.onnx`` (DWPose): the same contract, static batch 1, input 1x3x384x288, outputs 1x133x576 and
  1x133x768 (the same mean/std and split ratio; it is an RTMPose-l distilled on COCO-WholeBody).
"""

from __future__ import annotations

import cv2
import numpy as np

MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)
SIMCC_SPLIT_RATIO = 2.0
BOX_PADDING = 1.25


def box_to_center_scale(box: np.ndarray, input_size: tuple[int, int],
                        padding: float = BOX_PADDING) -> tuple[np.ndarray, np.ndarray]:
    """x1y1x2y2 -> centre (2,) and crop size (w, h) in source pixels, padded and fixed to the input aspect."""
    x1, y1, x2, y2 = np.asarray(box, np.float64)
    center = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    w, h = (x2 - x1) * padding, (y2 - y1) * padding
    aspect = input_size[0] / input_size[1]
    if w > h * aspect:
        h = w / aspect
    else:
        w = h * aspect
    return center, np.array([w, h])


def crop_matrix(center: np.ndarray, scale: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """2x3 affine matrix taking source pixels to model-input pixels (no rotation)."""
    sx, sy = input_size[0] / scale[0], input_size[1] / scale[1]
    return np.array([[sx, 0.0, input_size[0] / 2 - center[0] * sx],
                     [0.0, sy, input_size[1] / 2 - center[1] * sy]])


def to_source(points: np.ndarray, center: np.ndarray, scale: np.ndarray,
              input_size: tuple[int, int]) -> np.ndarray:
    """Model-input pixel coordinates (..., 2) -> source pixels (the inverse of :func:`crop_matrix`)."""
    size = np.asarray(input_size, np.float64)
    return (np.asarray(points, np.float64) - size / 2) * (scale / size) + center


def affine_crop(image: np.ndarray, box: np.ndarray, input_size: tuple[int, int]):
    """Crop ``box`` (padded, aspect-fixed) out of ``image`` at ``input_size`` = (w, h); returns (crop, centre, scale)."""
    center, scale = box_to_center_scale(box, input_size)
    matrix = crop_matrix(center, scale, input_size)
    crop = cv2.warpAffine(image, matrix, (int(input_size[0]), int(input_size[1])), flags=cv2.INTER_LINEAR)
    return crop, center, scale


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray,
                 split_ratio: float = SIMCC_SPLIT_RATIO) -> tuple[np.ndarray, np.ndarray]:
    """(N, K, Wx), (N, K, Wy) -> locations (N, K, 2) in model-input pixels and scores (N, K).

    Non-positive maxima mean "not found": location NaN, score 0.
    """
    x_idx = simcc_x.argmax(axis=-1)
    y_idx = simcc_y.argmax(axis=-1)
    scores = np.minimum(simcc_x.max(axis=-1), simcc_y.max(axis=-1)).astype(np.float64)
    locs = np.stack([x_idx, y_idx], axis=-1).astype(np.float64) / split_ratio
    bad = scores <= 0
    locs[bad] = np.nan
    scores[bad] = 0.0
    return locs, scores


class PoseEstimator:
    def __init__(self, session, *, input_size: tuple[int, int] | None = None, keypoints: int = 17) -> None:
        self.session = session
        inp = session.get_inputs()[0]
        self.input_name = inp.name
        shape = inp.shape
        static = isinstance(shape[2], int) and isinstance(shape[3], int)
        self.input_size = (shape[3], shape[2]) if static else (input_size or (192, 256))
        self.batch = shape[0] if isinstance(shape[0], int) else None  # None = any batch size
        self.output_names = [o.name for o in session.get_outputs()]
        count = session.get_outputs()[0].shape[1]
        self.keypoints = count if isinstance(count, int) else keypoints

    def preprocess(self, image_rgb: np.ndarray, boxes: np.ndarray):
        crops, centers, scales = [], [], []
        for box in np.asarray(boxes, np.float64).reshape(-1, 4):
            crop, center, scale = affine_crop(image_rgb, box, self.input_size)
            crops.append(((crop.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1))
            centers.append(center)
            scales.append(scale)
        return np.stack(crops).astype(np.float32), np.array(centers), np.array(scales)

    def postprocess(self, outputs: list[np.ndarray], centers: np.ndarray, scales: np.ndarray):
        named = dict(zip(self.output_names, outputs))
        simcc_x = named.get("simcc_x", outputs[0])
        simcc_y = named.get("simcc_y", outputs[1])
        locs, scores = decode_simcc(simcc_x, simcc_y)
        points = to_source(locs, centers[:, None, :], scales[:, None, :], self.input_size)
        return points, scores

    def __call__(self, image_rgb: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (N, K, 2) in source pixels and scores (N, K) for each box."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        if not len(boxes):
            return np.zeros((0, self.keypoints, 2)), np.zeros((0, self.keypoints))
        tensor, centers, scales = self.preprocess(image_rgb, boxes)
        if self.batch == 1:  # static batch-1 exports: one crop at a time
            parts = [self.session.run(self.output_names, {self.input_name: tensor[i:i + 1]})
                     for i in range(len(tensor))]
            outputs = [np.concatenate([p[k] for p in parts]) for k in range(len(self.output_names))]
        else:
            outputs = self.session.run(self.output_names, {self.input_name: tensor})
        return self.postprocess(outputs, centers, scales)
