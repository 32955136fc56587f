"""Prompt stage: validate the user's text, detect Vietnamese, translate it to English with envit5, and report
what CLIP (77 tokens) will drop.

    from text2video.prompt import PromptProcessor
    proc = PromptProcessor(models_dir)                  # the translator loads lazily, once per process
    res = proc.process("Cô gái nhảy trên núi")          # -> PromptResult(language="vi", english="A girl ...")

``validate_prompt`` and ``detect_language`` need no models (and import no torch).
"""

from __future__ import annotations

import importlib

# Imported lazily: `validate_prompt` (API request checks) must not pay for torch/transformers.
_EXPORTS = {
    "validate_prompt": ".validation",
    "normalize_text": ".validation",
    "LANGS": ".validation",
    "validate_lang": ".validation",
    "detect_language": ".language",
    "guess_language": ".language",
    "LanguageGuess": ".language",
    "clip_token_report": ".clip_tokens",
    "TokenReport": ".clip_tokens",
    "CLIP_MAX_TOKENS": ".clip_tokens",
    "Translator": ".translator",
    "get_translator": ".translator",
    "build_input": ".translator",
    "strip_output": ".translator",
    "PromptProcessor": ".processor",
    "PromptResult": ".processor",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_EXPORTS)
