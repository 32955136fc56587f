"""Checks that need the real envit5 weights (`-m real_weights`) or a CUDA GPU (`-m gpu`); skipped by default."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from text2video.prompt import PromptProcessor, Translator

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real_models() -> Path:
    root = Path(os.environ.get("TEXT2VIDEO_MODELS_DIR") or ROOT / "models")
    if not (root / "envit5-translation" / "config.json").is_file():
        pytest.skip(f"no envit5-translation in {root}: run `python manage.py download --only prompt`")
    return root


@pytest.mark.real_weights
@pytest.mark.parametrize("text, words", [
    ("Cô gái nhảy trên núi", ["girl", "mountain"]),
    ("Gấu trúc trên mặt nước", ["panda", "water"]),
    ("Iron man trên bãi biển", ["iron man", "beach"]),
    ("Người đàn ông mặc áo đỏ đang nhảy múa", ["man", "red", "danc"]),
])
def test_real_translation(real_models, text, words):
    res = PromptProcessor(real_models, device="auto").process(text)
    english = res.english.lower()
    assert res.language == "vi" and res.translated and not res.demo
    assert not english.startswith(("en:", "vi:"))
    for word in words:
        assert word in english, res.english


@pytest.mark.real_weights
def test_real_translation_batched_equals_single(real_models):
    texts = ["Cô gái nhảy trên núi", "Gấu trúc trên mặt nước", "mờ, chất lượng thấp, biến dạng"]
    batched = Translator(real_models / "envit5-translation", "auto", "fp32", batch_size=8).translate(texts)
    single = Translator(real_models / "envit5-translation", "auto", "fp32", batch_size=1).translate(texts)
    assert batched == single


def _need_cuda():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")


@pytest.mark.gpu
def test_gpu_runs_bf16_and_upgrades_fp16(prompt_models):
    import torch

    _need_cuda()
    path = prompt_models / "envit5-translation"
    auto = Translator(path, "cuda", "auto", max_new_tokens=12)
    fp16 = Translator(path, "cuda", "fp16", max_new_tokens=12)
    out = auto.translate(["Cô gái nhảy trên núi", "gấu trúc"])
    assert fp16.translate(["Cô gái nhảy trên núi", "gấu trúc"]) == out
    expected = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    assert auto.dtype == fp16.dtype == expected
    assert next(auto.model.parameters()).device.type == "cuda"
