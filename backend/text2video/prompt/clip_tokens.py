"""What CLIP will read of an English prompt: Stable Diffusion's text encoder takes 77 tokens (start and end
included) and silently drops the rest. The report lists the dropped words so the UI can show them. It reads the
same tokenizer object as the video pipeline (:func:`text2video.models.clip_tokenizer.load_clip_tokenizer`)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

CLIP_MAX_TOKENS = 77  # CLIPTextModel's max_position_embeddings in Stable Diffusion v1.x

_WORDS = re.compile(r"\S+")


@dataclass
class TokenReport:
    token_count: int  # tokens of the prompt text, start/end tokens included (as the text encoder sees them)
    max_tokens: int
    kept_text: str  # the part CLIP reads
    dropped_words: list[str] = field(default_factory=list)  # words with at least one token past the limit

    @property
    def truncated(self) -> bool:
        return self.token_count > self.max_tokens

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["truncated"] = self.truncated
        return data


def _special_count(tokenizer) -> int:
    """How many special tokens the tokenizer adds around a text (start + end for CLIP)."""
    return len(tokenizer("", add_special_tokens=True)["input_ids"]) - len(tokenizer("", add_special_tokens=False)["input_ids"])


def clip_token_report(text: str, tokenizer, max_tokens: int | None = None) -> TokenReport:
    """Count ``text``'s CLIP tokens and list the words that do not fit in ``max_tokens`` (77 by default).

    CLIP's pre-tokenizer never joins pieces across whitespace, so tokenizing word by word gives the same tokens as
    the whole text; a word that is only partly inside the limit is listed as dropped (CLIP sees a fragment of it).
    """
    if max_tokens is None:
        max_tokens = min(int(getattr(tokenizer, "model_max_length", CLIP_MAX_TOKENS) or CLIP_MAX_TOKENS), 10_000)
    specials = _special_count(tokenizer)
    budget = max_tokens - specials  # tokens left for the text itself
    words = _WORDS.findall(text)
    per_word = tokenizer(words, add_special_tokens=False)["input_ids"] if words else []
    used = 0
    kept: list[str] = []
    dropped: list[str] = []
    for word, ids in zip(words, per_word):
        if not dropped and used + len(ids) <= budget:
            kept.append(word)
        else:
            dropped.append(word)
        used += len(ids)
    return TokenReport(token_count=used + specials, max_tokens=max_tokens, kept_text=" ".join(kept),
                       dropped_words=dropped)
