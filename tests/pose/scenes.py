"""Synthetic scenes for the pose tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FPS = 30
SIZE = (640, 480)  # w, h


def figure_box(f: int) -> tuple[int, int, int, int]:
    """x1, y1, x2, y2 of the bright "person" in frame f: walks to the right."""
    x1 = 180 + 6 * f
    return x1, 100, x1 + 140, 420


def draw_scene(f: int, *, present: bool = True, hide_right_arm: bool = False) -> np.ndarray:
    frame = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    if present:
        x1, y1, x2, y2 = figure_box(f)
        frame[y1:y2, x1:x2] = 220
        if hide_right_arm:
            # A dark patch over the image-left upper body (the right arm of someone facing the camera),
            # inside the box so the box itself does not change.
            w, h = x2 - x1, y2 - y1
            frame[y1 + int(0.2 * h):y1 + int(0.62 * h), x1 + int(0.06 * w):x1 + int(0.4 * w)] = 0
    return frame


def write_video(path: Path, frames) -> Path:
    from text2video.video import write_mp4

    write_mp4(frames, path, FPS)
    return path


# A standing person facing the camera, in a 1080 x 1080 frame (their left is on the image's right).
PERSON_1080 = np.array([
    [540, 300], [560, 280], [520, 280], [580, 290], [500, 290], [620, 400], [460, 400], [680, 520], [400, 520],
    [720, 640], [360, 640], [600, 650], [480, 650], [620, 820], [460, 820], [630, 980], [450, 980]], float)


def build_fixed_detector(path: Path, boxes, scores, input_size=(640, 640)) -> Path:
    """A detector with the mmdeploy YOLOX signature that always reports the same boxes (in input pixels).

    The input still flows into the graph (its shape is checked by ONNX Runtime), the boxes do not depend on it:
    enough to put several people where a test's video draws them.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w, h = input_size
    dets = np.concatenate([np.asarray(boxes, np.float32), np.asarray(scores, np.float32)[:, None]], 1)[None]
    labels = np.zeros((1, len(boxes)), np.int64)
    nodes = [
        helper.make_node("ReduceMin", ["input"], ["zero_ish"], keepdims=0),  # ties the output to the input
        helper.make_node("Constant", [], ["d"], value=numpy_helper.from_array(dets, "d")),
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0, np.float32), "zero")),
        helper.make_node("Mul", ["zero_ish", "zero"], ["nil"]),
        helper.make_node("Add", ["d", "nil"], ["dets"]),
        helper.make_node("Constant", [], ["labels"], value=numpy_helper.from_array(labels, "labels")),
    ]
    graph = helper.make_graph(
        nodes, "fixed_yolox", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info("dets", TensorProto.FLOAT, list(dets.shape)),
         helper.make_tensor_value_info("labels", TensorProto.INT64, list(labels.shape))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
