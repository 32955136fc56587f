"""Video diffusion stage: the Follow-Your-Pose UNet3D, its weight loading, and the diffusers-style pipeline."""

from __future__ import annotations

import importlib

# Imported lazily: `import text2video.diffusion` must not pay for torch/diffusers until a name is used.
_EXPORTS = {
    "UNet3DConditionModel": ".unet3d",
    "UNet3DConditionOutput": ".unet3d",
    "FollowYourPosePipeline": ".pipeline",
    "FollowYourPosePipelineOutput": ".pipeline",
    "FrameAnchor": ".attention",
    "load_unet3d": ".loading",
    "build_demo": ".demo",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_EXPORTS)
