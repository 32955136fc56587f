"""Where each model lives inside a models folder (real weights and tiny demo weights share this layout).

    models/
      manifest.json                       what is present and verified (written by `manage.py download`)
      stable-diffusion-v1-4/              diffusers folder: model_index.json, tokenizer/, text_encoder/, vae/,
                                          unet/ (config + 2-D weights), scheduler/
      follow-your-pose/
        followyourpose_checkpoint-1000/   pytorch_model.bin or model.safetensors (as saved by accelerate)
        pose_encoder.pth                  skeleton adapter weights
      envit5-translation/                 transformers T5 folder (config, weights, spiece.model/tokenizer)
      pose/
        yolox_m.onnx  rtmpose_m.onnx      preset "balanced" (YOLOX-m + RTMPose-m 256x192)
        yolox_x.onnx  rtmpose_x.onnx      preset "accurate" (YOLOX-x + RTMPose-x 384x288)
        yolox_l.onnx  dw-ll_ucoco_384.onnx  preset "wholebody" (YOLOX-l + DWPose 384x288, 133 keypoints)
      loras/                              optional style LoRAs for SD-1.x (*.safetensors; see models/loras.py)
      taesd/                              optional, never downloaded: diffusers AutoencoderTiny (live previews)
      DEMO                                present only in demo folders: weights are random, output is noise
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SD_DIR = "stable-diffusion-v1-4"
FYP_DIR = "follow-your-pose"
FYP_CHECKPOINT_DIR = "follow-your-pose/followyourpose_checkpoint-1000"
FYP_POSE_ENCODER = "follow-your-pose/pose_encoder.pth"
TRANSLATION_DIR = "envit5-translation"
POSE_DIR = "pose"
LORAS_DIR = "loras"
TINY_DECODER_DIR = "taesd"
# input_size = (w, h) of the pose model; keypoints = 17 (COCO body) or 133 (COCO-WholeBody, see pose/parts.py).
POSE_PRESETS = {
    "balanced": {"detector": "pose/yolox_m.onnx", "pose": "pose/rtmpose_m.onnx", "input_size": (192, 256),
                 "keypoints": 17},
    "accurate": {"detector": "pose/yolox_x.onnx", "pose": "pose/rtmpose_x.onnx", "input_size": (288, 384),
                 "keypoints": 17},
    "wholebody": {"detector": "pose/yolox_l.onnx", "pose": "pose/dw-ll_ucoco_384.onnx", "input_size": (288, 384),
                  "keypoints": 133},
}
MANIFEST = "manifest.json"
DEMO_MARKER = "DEMO"


@dataclass(frozen=True)
class ModelPaths:
    root: Path

    @property
    def sd(self) -> Path:
        return self.root / SD_DIR

    @property
    def fyp_checkpoint(self) -> Path:
        return self.root / FYP_CHECKPOINT_DIR

    @property
    def pose_encoder(self) -> Path:
        return self.root / FYP_POSE_ENCODER

    @property
    def translation(self) -> Path:
        return self.root / TRANSLATION_DIR

    @property
    def tiny_decoder(self) -> Path:
        return self.root / TINY_DECODER_DIR

    def pose_models(self, preset: str = "balanced") -> tuple[Path, Path]:
        entry = POSE_PRESETS[preset]
        return self.root / entry["detector"], self.root / entry["pose"]

    @property
    def loras(self) -> Path:
        return self.root / LORAS_DIR

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def is_demo(self) -> bool:
        return (self.root / DEMO_MARKER).exists()


def models_root(models_dir: str | Path) -> Path:
    """The folder a models setting names, without building anything: the word ``demo`` -> the demo folder."""
    return default_demo_dir() if str(models_dir) == "demo" else Path(models_dir)


def default_demo_dir() -> Path:
    """Where `--models demo` builds (once) and reuses the tiny demo weights."""
    import os

    from ..settings import absolute_path  # one absolute path, like every folder setting

    base = os.environ.get("TEXT2VIDEO_DEMO_MODELS_DIR")
    if base:
        return absolute_path(base)
    return absolute_path(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "text2video" / "demo-models")
