"""Tiny demo pose models: same ONNX input/output names, shapes and semantics as the real MMPose-zoo exports.

They let the real session + pre/post-processing path run anywhere in milliseconds. Their output is MEANINGLESS
for real videos, and every report made with them says so. What they compute (plain ONNX ops, no weights):
- detector ("YOLOX"): one box around the pixels brighter than 160 in the letterboxed input, score 0.9 (none
  when nothing is bright): ``dets`` 1x1x5 + ``labels`` 1x1 (class 0, person), like the mmdeploy export with NMS;
  or (``raw=True``, the wholebody preset's Megvii YOLOX-L export) input ``images`` and output ``output``
  1x8400x85: the same box written into the first anchor cell (stride 8) as the raw head would, all else zero.
- pose ("RTMPose" / "DWPose"): a fixed standing-person template in crop coordinates (17 COCO points, or the 133
  COCO-WholeBody points: feet under the ankles, a face around the nose, a fanned hand at each wrist); each
  keypoint's SimCC peaks at its template position, scaled by a confidence that is high where the crop is bright
  around that keypoint and low where it is dark. So a bright figure on a black frame gets a skeleton fitted to its
  box, and blacking out part of it makes those keypoints go missing (useful for exercising repair end to end).
  The wholebody model is static batch 1 with input 1x3x384x288 and outputs 1x133x576 / 1x133x768, as the real
  ``dw-ll_ucoco_384.onnx``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ..models.layout import POSE_PRESETS
from .parts import FACE, FEET, LEFT_HAND, NUM_WHOLEBODY, RIGHT_HAND

# (u, v) of each COCO-17 keypoint as a fraction of the crop (person facing the camera: their left is image right)
TEMPLATE = np.array([
    (0.50, 0.20), (0.53, 0.18), (0.47, 0.18), (0.56, 0.19), (0.44, 0.19),
    (0.62, 0.30), (0.38, 0.30), (0.68, 0.44), (0.32, 0.44), (0.70, 0.57), (0.30, 0.57),
    (0.57, 0.57), (0.43, 0.57), (0.58, 0.72), (0.42, 0.72), (0.58, 0.86), (0.42, 0.86),
], np.float64)


def _wholebody_template() -> np.ndarray:
    """(133, 2) crop fractions: the body template plus feet, a face ellipse and two fanned hands."""
    t = np.zeros((NUM_WHOLEBODY, 2))
    t[:17] = TEMPLATE
    t[FEET] = [(0.60, 0.90), (0.56, 0.90), (0.58, 0.88), (0.40, 0.90), (0.44, 0.90), (0.42, 0.88)]
    a = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    t[FACE] = np.stack([0.50 + 0.04 * np.cos(a), 0.19 + 0.035 * np.sin(a)], axis=1)
    fan = np.array([(0.0, 0.0)] + [(0.012 * (f - 2), 0.012 * k) for f in range(5) for k in range(1, 5)])
    t[LEFT_HAND] = TEMPLATE[9] + fan
    t[RIGHT_HAND] = TEMPLATE[10] + fan
    return t


BRIGHT = 160.0  # detector threshold on the BGR max (the letterbox pad is 114)
POOL = 8  # pose model: brightness measured on an 8x8-pooled crop
OPSET = 17


def _save(model, path: Path) -> None:
    import onnx

    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        onnx.save(model, tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _const(name: str, array: np.ndarray):
    from onnx import helper, numpy_helper

    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(array), name))


def build_detector(path: str | os.PathLike, input_size: tuple[int, int] = (640, 640), *, raw: bool = False) -> Path:
    """Bright-region "person detector" with the mmdeploy YOLOX end2end signature (``raw``: the Megvii export's)."""
    from onnx import TensorProto, helper

    w, h = input_size
    input_name = "images" if raw else "input"
    nodes = [
        helper.make_node("ReduceMax", [input_name], ["peak"], axes=[1], keepdims=0),  # 1xHxW
        _const("thr", np.array(BRIGHT, np.float32)),
        helper.make_node("Greater", ["peak", "thr"], ["bright_b"]),
        helper.make_node("Cast", ["bright_b"], ["bright"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMax", ["bright"], ["cols"], axes=[1], keepdims=0),  # 1xW: column has a bright px
        helper.make_node("ReduceMax", ["bright"], ["rows"], axes=[2], keepdims=0),  # 1xH
        _const("xs1", np.arange(1, w + 1, dtype=np.float32)),
        _const("xs_rev", (w - np.arange(w)).astype(np.float32)),
        _const("ys1", np.arange(1, h + 1, dtype=np.float32)),
        _const("ys_rev", (h - np.arange(h)).astype(np.float32)),
        _const("wconst", np.array([w], np.float32)),
        _const("hconst", np.array([h], np.float32)),
        helper.make_node("Mul", ["cols", "xs1"], ["cx1"]),
        helper.make_node("ReduceMax", ["cx1"], ["x2"], axes=[1], keepdims=0),  # (last bright column) + 1
        helper.make_node("Mul", ["cols", "xs_rev"], ["cxr"]),
        helper.make_node("ReduceMax", ["cxr"], ["wx1"], axes=[1], keepdims=0),
        helper.make_node("Sub", ["wconst", "wx1"], ["x1"]),  # first bright column
        helper.make_node("Mul", ["rows", "ys1"], ["ry1"]),
        helper.make_node("ReduceMax", ["ry1"], ["y2"], axes=[1], keepdims=0),
        helper.make_node("Mul", ["rows", "ys_rev"], ["ryr"]),
        helper.make_node("ReduceMax", ["ryr"], ["hy1"], axes=[1], keepdims=0),
        helper.make_node("Sub", ["hconst", "hy1"], ["y1"]),
        helper.make_node("ReduceMax", ["cols"], ["found"], axes=[1], keepdims=0),
        _const("conf", np.array([0.9], np.float32)),
        helper.make_node("Mul", ["found", "conf"], ["score"]),
    ]
    if raw:
        nodes += _raw_head(w, h)
        outputs = [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, _anchors(w, h), 85])]
    else:
        nodes += [
            helper.make_node("Concat", ["x1", "y1", "x2", "y2", "score"], ["flat"], axis=0),
            _const("dshape", np.array([1, 1, 5], np.int64)),
            helper.make_node("Reshape", ["flat", "dshape"], ["dets"]),
            _const("labels", np.zeros((1, 1), np.int64)),
        ]
        outputs = [helper.make_tensor_value_info("dets", TensorProto.FLOAT, [1, 1, 5]),
                   helper.make_tensor_value_info("labels", TensorProto.INT64, [1, 1])]
    graph = helper.make_graph(
        nodes, "demo_yolox", [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, 3, h, w])], outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="text2video-demo")
    model.ir_version = 8
    path = Path(path)
    _save(model, path)
    return path


def _anchors(w: int, h: int) -> int:
    return sum((w // s) * (h // s) for s in (8, 16, 32))


def _raw_head(w: int, h: int) -> list:
    """Nodes writing the box x1 y1 x2 y2 + score into anchor 0 (grid 0,0, stride 8) of a raw YOLOX output:
    cx / 8, cy / 8, log(w / 8), log(h / 8), objectness = score, person class = 1, the 79 other classes 0."""
    from onnx import helper

    return [
        helper.make_node("Add", ["x1", "x2"], ["sx"]), helper.make_node("Add", ["y1", "y2"], ["sy"]),
        _const("sixteen", np.array([16.0], np.float32)), _const("eight", np.array([8.0], np.float32)),
        _const("one", np.array([1.0], np.float32)),
        helper.make_node("Div", ["sx", "sixteen"], ["px"]), helper.make_node("Div", ["sy", "sixteen"], ["py"]),
        helper.make_node("Sub", ["x2", "x1"], ["bw"]), helper.make_node("Sub", ["y2", "y1"], ["bh"]),
        helper.make_node("Max", ["bw", "one"], ["bw1"]), helper.make_node("Max", ["bh", "one"], ["bh1"]),
        helper.make_node("Div", ["bw1", "eight"], ["bw8"]), helper.make_node("Div", ["bh1", "eight"], ["bh8"]),
        helper.make_node("Log", ["bw8"], ["lw"]), helper.make_node("Log", ["bh8"], ["lh"]),
        _const("classes", np.concatenate([[1.0], np.zeros(79)]).astype(np.float32)),
        helper.make_node("Concat", ["px", "py", "lw", "lh", "score", "classes"], ["row"], axis=0),  # (85,)
        _const("row_shape", np.array([1, 1, 85], np.int64)),
        helper.make_node("Reshape", ["row", "row_shape"], ["row3"]),
        _const("rest", np.zeros((1, _anchors(w, h) - 1, 85), np.float32)),
        helper.make_node("Concat", ["row3", "rest"], ["output"], axis=1),
    ]


def _simcc_template(bins: int, positions: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    idx = np.arange(bins, dtype=np.float64)
    centres = positions * bins
    return np.exp(-0.5 * ((idx[None, :] - centres[:, None]) / sigma) ** 2).astype(np.float32)[None]  # 1xKxB


def build_pose_model(path: str | os.PathLike, input_size: tuple[int, int] = (192, 256), *,
                     keypoints: int = 17) -> Path:
    """Template "RTMPose" with the real signature: input Nx3xHxW -> simcc_x NxKx2W, simcc_y NxKx2H; with 133
    keypoints the DWPose export's (static batch 1)."""
    from onnx import TensorProto, helper

    w, h = input_size
    template = TEMPLATE if keypoints == 17 else _wholebody_template()
    batch = "batch" if keypoints == 17 else 1
    pw, ph = w // POOL, h // POOL
    # Per keypoint: a Gaussian window on the pooled crop around its template position (sums to 1).
    gy, gx = np.mgrid[0:ph, 0:pw]
    windows = []
    for u, v in template:
        g = np.exp(-0.5 * (((gx + 0.5) / pw - u) ** 2 + ((gy + 0.5) / ph - v) ** 2) / 0.04 ** 2)
        windows.append((g / g.sum()).reshape(-1))
    weights = np.stack(windows, axis=1).astype(np.float32)  # (ph*pw) x K
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["lum"], axes=[1], keepdims=1),  # Nx1xHxW (normalised units)
        helper.make_node("AveragePool", ["lum"], ["pooled"], kernel_shape=[POOL, POOL], strides=[POOL, POOL]),
        _const("flat_shape", np.array([-1, ph * pw], np.int64)),
        helper.make_node("Reshape", ["pooled", "flat_shape"], ["flat"]),
        _const("windows", weights),
        helper.make_node("MatMul", ["flat", "windows"], ["local"]),  # NxK: brightness around each keypoint
        _const("gain", np.array(3.0, np.float32)),
        _const("bias", np.array(0.5, np.float32)),
        helper.make_node("Add", ["local", "bias"], ["shifted"]),
        helper.make_node("Mul", ["shifted", "gain"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["conf"]),  # dark (about -2) -> 0.01; bright (about +2) -> 1
        _const("conf_shape", np.array([-1, keypoints, 1], np.int64)),
        helper.make_node("Reshape", ["conf", "conf_shape"], ["conf3"]),
        _const("tx", _simcc_template(2 * w, template[:, 0])),
        _const("ty", _simcc_template(2 * h, template[:, 1])),
        helper.make_node("Mul", ["conf3", "tx"], ["simcc_x"]),
        helper.make_node("Mul", ["conf3", "ty"], ["simcc_y"]),
    ]
    graph = helper.make_graph(
        nodes, "demo_rtmpose",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, h, w])],
        [helper.make_tensor_value_info("simcc_x", TensorProto.FLOAT, [batch, keypoints, 2 * w]),
         helper.make_tensor_value_info("simcc_y", TensorProto.FLOAT, [batch, keypoints, 2 * h])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="text2video-demo")
    model.ir_version = 8
    path = Path(path)
    _save(model, path)
    return path


def build_demo(root: str | os.PathLike) -> Path:
    """Write demo detector + pose models for every preset into ``root`` (the layout of models/layout.py)."""
    root = Path(root)
    for entry in POSE_PRESETS.values():
        wholebody = entry["keypoints"] == NUM_WHOLEBODY  # DWPose pairs with Megvii's raw YOLOX-L export
        build_detector(root / entry["detector"], raw=wholebody)
        build_pose_model(root / entry["pose"], tuple(entry["input_size"]), keypoints=entry["keypoints"])
    (root / "pose" / "DEMO").write_text("Demo pose models (templates, not trained): skeletons are meaningless.\n")
    return root
