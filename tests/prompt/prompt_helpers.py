"""Small real-format files for the prompt tests."""

from __future__ import annotations

import json
from pathlib import Path

# Words that are one CLIP token each in the test tokenizer (any other text falls back to one token per letter).
CLIP_WORDS = ["a", "girl", "dancing", "on", "the", "mountain", "panda", "water", "in", "red", "dress", "sunny",
              "day", "with", "long", "hair", "highly", "detailed", "cinematic", "lighting", "and", "beach"]


def _bytes_to_unicode() -> dict[int, str]:
    # CLIP's byte-level alphabet: printable bytes map to themselves, the rest to code points from 256 up.
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(printable, map(chr, chars)))


def write_clip_tokenizer(folder: Path, words: list[str]) -> Path:
    """A CLIP BPE tokenizer (vocab.json + merges.txt, the layout of stable-diffusion-v1-4/tokenizer) whose merges
    spell out ``words``; any other text falls back to one token per character, as CLIP does for rare strings."""
    folder.mkdir(parents=True, exist_ok=True)
    alphabet = list(_bytes_to_unicode().values())
    vocab: list[str] = alphabet + [c + "</w>" for c in alphabet]
    merges: list[str] = []
    for word in words:
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            merged = pieces[0] + pieces[1]
            pair = f"{pieces[0]} {pieces[1]}"
            if pair not in merges:
                merges.append(pair)
                vocab.append(merged)
            pieces = [merged] + pieces[2:]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    ids = {}
    for token in vocab:
        ids.setdefault(token, len(ids))
    (folder / "vocab.json").write_text(json.dumps(ids, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "CLIPTokenizer", "model_max_length": 77, "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}))
    return folder
