"""Fixtures of the prompt-stage tests: the demo envit5 folder (built once) and small real-format CLIP tokenizers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.prompt.helpers import CLIP_WORDS, write_clip_tokenizer


@pytest.fixture(scope="session")
def prompt_models(tmp_path_factory) -> Path:
    """A models folder holding only the demo translator and a CLIP tokenizer (faster than the whole demo set)."""
    from text2video.models.layout import DEMO_MARKER, SD_DIR
    from text2video.prompt.demo import build_demo

    root = tmp_path_factory.mktemp("prompt-models")
    build_demo(root)
    write_clip_tokenizer(root / SD_DIR / "tokenizer", CLIP_WORDS)
    (root / DEMO_MARKER).write_text("prompt-tests\n")
    return root


@pytest.fixture(scope="session")
def clip_tokenizer(prompt_models):
    from text2video.models.clip_tokenizer import load_clip_tokenizer

    return load_clip_tokenizer(prompt_models)


@pytest.fixture()
def fresh_translator(prompt_models):
    """A translator of its own (not the process-wide one), so load and generate counts start at zero."""
    from text2video.prompt import Translator

    return Translator(prompt_models / "envit5-translation", device="cpu", dtype="fp32")


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    """The demo T5 is tiny: several intra-op threads only add overhead (10x slower on a busy 2-core box)."""
