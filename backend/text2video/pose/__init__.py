"""Pose stage: a reference video -> skeleton frames in the style Follow-Your-Pose was trained on.

    from text2video.pose import prepare_pose_video, detect_input_kind, PoseVideo
    pv = prepare_pose_video("dance.mp4", width=512, height=512, stride=5, models_dir="models")
    pv.frames, pv.fps, pv.kind, pv.report.summary(), pv.save_keypoints("keypoints.json"), pv.provider

Exports are lazy so `import text2video.pose` stays cheap (onnxruntime/cv2 load on first use).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "prepare_pose_video": "pipeline", "iter_pose_frames": "pipeline", "PoseVideo": "pipeline",
    "PoseStream": "pipeline", "PoseModels": "pipeline", "PoseOptions": "pipeline", "load_pose_models": "pipeline",
    "estimate_poses": "pipeline",
    "detect_input_kind": "input_kind",
    "PoseReport": "report",
    "RepairOptions": "repair",
    "render_skeleton": "skeleton", "KEYPOINT_NAMES": "skeleton", "LIMBS": "skeleton",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
