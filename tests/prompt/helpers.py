"""Small real-format files for the prompt tests."""

from __future__ import annotations

from pathlib import Path

from text2video.diffusion.demo import build_tokenizer_files

# Words that are one CLIP token each in the test tokenizer (any other text falls back to one token per letter).
CLIP_WORDS = ["a", "girl", "dancing", "on", "the", "mountain", "panda", "water", "in", "red", "dress", "sunny",
              "day", "with", "long", "hair", "highly", "detailed", "cinematic", "lighting", "and", "beach"]


def write_clip_tokenizer(folder: Path, words: list[str]) -> Path:
    """A CLIP BPE tokenizer in the layout of stable-diffusion-v1-4/tokenizer whose merges spell out ``words``
    (the demo models' own tokenizer writer, with the prompt tests' words)."""
    build_tokenizer_files(folder, words)
    return folder
