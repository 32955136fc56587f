"""The tiny demo folders: the real diffusers layout and structure, seeded, small and quick to build."""

from __future__ import annotations

import json
import time

from text2video.families.wan_vace.demo import FOLDERS, build_demo


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_is_the_published_one(wan_models):
    for name in FOLDERS:
        folder = wan_models / name
        index = json.loads((folder / "model_index.json").read_text())
        assert index["_class_name"] == "WanVACEPipeline"
        assert index["transformer"] == ["diffusers", "WanVACETransformer3DModel"]
        assert index["vae"] == ["diffusers", "AutoencoderKLWan"]
        assert index["text_encoder"] == ["transformers", "UMT5EncoderModel"]
        assert index["tokenizer"] == ["transformers", "T5TokenizerFast"]
        assert index["scheduler"] == ["diffusers", "UniPCMultistepScheduler"]
        assert sorted(p.name for p in (folder / "tokenizer").iterdir()) == [
            "special_tokens_map.json", "spiece.model", "tokenizer.json", "tokenizer_config.json"]
        for sub, weights in (("transformer", "diffusion_pytorch_model.safetensors"),
                             ("vae", "diffusion_pytorch_model.safetensors"), ("text_encoder", "model.safetensors")):
            assert (folder / sub / "config.json").is_file() and (folder / sub / weights).is_file()
        scheduler = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
        assert scheduler["prediction_type"] == "flow_prediction" and scheduler["use_flow_sigmas"] is True


def test_structure_keeps_the_real_frame_and_size_rules(wan_runner):
    pipe = wan_runner.pipe
    config = pipe.transformer.config
    assert tuple(config.patch_size) == (1, 2, 2)
    assert config.in_channels == config.out_channels == 16 and config.vace_in_channels == 96
    assert config.vace_layers == [0, 2]  # every 2nd layer, as 1.3B's [0, 2, ..., 28]
    assert pipe.vae.config.z_dim == 16
    assert pipe.vae_scale_factor_temporal == 4 and pipe.vae_scale_factor_spatial == 8
    assert config.text_dim == pipe.text_encoder.config.d_model
    assert pipe.text_encoder.config.vocab_size == len(pipe.tokenizer)


def test_build_is_seeded_quick_and_small(wan_models, tmp_path):
    start = time.perf_counter()
    build_demo(tmp_path)
    seconds = time.perf_counter() - start
    assert _files(tmp_path) == {k: v for k, v in _files(wan_models).items() if k.split("/")[0] in FOLDERS}
    assert seconds < 10  # about 0.3 s once torch/diffusers are imported
    assert sum(len(v) for v in _files(tmp_path).values()) < 5_000_000
