"""The CLIP tokenizer of a models folder (``stable-diffusion-v1-4/tokenizer``), loaded once per process and shared by
the prompt stage (its 77-token report) and the video pipeline (the text encoder's input): one tokenizer, one answer
to what CLIP reads."""

from __future__ import annotations

import functools
from pathlib import Path

from ..exceptions import ModelsMissing
from .layout import ModelPaths


@functools.lru_cache(maxsize=4)
def _load(folder: str, stamp: int):
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(folder, local_files_only=True)


def load_clip_tokenizer(models_dir: str | Path):
    """The CLIP tokenizer of ``models_dir``; the same object for every caller until its vocab.json changes."""
    folder = ModelPaths(Path(models_dir)).sd / "tokenizer"
    vocab = folder / "vocab.json"
    if not vocab.is_file():
        raise ModelsMissing(f"the CLIP tokenizer is missing: {vocab} not found", field="models_dir",
                            value=str(models_dir), hint="Run `python manage.py download --only diffusion`.")
    # the file's change time is in the key: a folder rebuilt in place (demo weights) is read again
    return _load(str(folder.resolve()), vocab.stat().st_mtime_ns)


__all__ = ["load_clip_tokenizer"]
