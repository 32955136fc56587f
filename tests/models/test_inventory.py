"""inventory(): the one answer to "are the models present, what is missing, which variant"."""

from __future__ import annotations

import shutil

from text2video.models import layout
from text2video.models.inventory import inventory


def test_downloaded_folder_is_answered_by_its_manifest(downloaded, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(downloaded, root)
    found = inventory(root)
    assert found.present and not found.demo and found.sd_variant is None
    assert found.pose_presets == tuple(layout.POSE_PRESETS)
    (root / "envit5-translation/spiece.model").write_bytes(b"short")  # size no longer the recorded one
    found = inventory(root, pose_presets=["balanced"])
    assert not found.present and found.missing == {"diffusion": [], "prompt": ["envit5-translation/spiece.model"],
                                                   "pose": []}
    assert found.fix("prompt") == f"python manage.py download --models {root} --only prompt"


def test_folder_without_manifest_is_answered_by_the_files_loaders_open(tmp_path):
    found = inventory(tmp_path / "nowhere")
    assert not found.exists and not found.present and "follow-your-pose/pose_encoder.pth" in found.missing["diffusion"]
    sd = tmp_path / layout.SD_DIR
    for rel in ("model_index.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "text_encoder/config.json",
                "text_encoder/model.safetensors", "vae/config.json", "vae/diffusion_pytorch_model.fp16.safetensors",
                "unet/config.json", "unet/diffusion_pytorch_model.fp16.safetensors",
                "scheduler/scheduler_config.json"):
        (sd / rel).parent.mkdir(parents=True, exist_ok=True)
        (sd / rel).write_bytes(b"x")
    found = inventory(tmp_path, parts=("diffusion",))
    assert found.missing["diffusion"] == [f"{layout.FYP_CHECKPOINT_DIR}/pytorch_model.bin (or model.safetensors)",
                                          layout.FYP_POSE_ENCODER]
    assert found.sd_variant == "fp16"  # only the fp16 weights are there: diffusers must be told
    (sd / "vae/diffusion_pytorch_model.safetensors").write_bytes(b"x")
    assert inventory(tmp_path).sd_variant is None


def test_demo_folder_is_reported_as_demo_with_its_own_fix(tmp_path):
    (tmp_path / layout.DEMO_MARKER).write_text("1\nDEMO weights\n")
    found = inventory(tmp_path, parts=("pose",), pose_presets=["balanced"])
    assert found.demo and found.missing["pose"] == ["pose/yolox_m.onnx", "pose/rtmpose_m.onnx"]
    assert found.fix() == f"python manage.py init-demo-models {tmp_path}"
    for rel in ("pose/yolox_m.onnx", "pose/rtmpose_m.onnx"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    found = inventory(tmp_path, parts=("pose",), pose_presets=["balanced"])
    assert found.present and found.pose_presets == ("balanced",)
