"""Checks on the user's text that need no model: empty, too long, control characters, unknown language."""

from __future__ import annotations

import re
import unicodedata

from ..exceptions import InvalidInput

LANGS = ("auto", "vi", "en")
_LANG_ALIASES = {"": "auto", "auto": "auto", "vi": "vi", "vn": "vi", "vie": "vi", "vietnamese": "vi",
                 "en": "en", "eng": "en", "english": "en"}
# Line breaks and tabs are ordinary typing (a pasted multi-line prompt); they become spaces.
_ALLOWED_CONTROLS = {"\n", "\r", "\t"}
_SPACES = re.compile(r"\s+")


def shorten(text: str, limit: int = 60) -> str:
    """The value as shown inside an error message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def normalize_text(text: str) -> str:
    """NFC (some keyboards type Vietnamese tone marks as separate combining characters) and single spaces."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def validate_prompt(text: object, field: str = "prompt", max_chars: int = 500) -> str:
    """Return the cleaned prompt, or raise :class:`InvalidInput` naming ``field``, the value and the fix."""
    if text is None:
        raise InvalidInput(f"{field} is missing", field=field, value=None, hint=_example(field))
    if not isinstance(text, str):
        raise InvalidInput(f"{field} must be text, not {type(text).__name__} ({shorten(repr(text))})", field=field,
                           value=text, hint=f"Send {field} as a string.")
    for index, char in enumerate(text):
        if unicodedata.category(char) == "Cc" and char not in _ALLOWED_CONTROLS:
            raise InvalidInput(
                f"{field} contains a control character U+{ord(char):04X} at position {index} "
                f"({shorten(repr(text))})", field=field, value=shorten(text),
                hint=f"Remove it: {field} must be plain text (letters, digits, punctuation, emoji).")
    cleaned = normalize_text(text)
    if not cleaned:
        raise InvalidInput(f"{field} is empty", field=field, value=text, hint=_example(field))
    if len(cleaned) > max_chars:
        raise InvalidInput(f"{field} is {len(cleaned)} characters long, over the limit of {max_chars} "
                           f"(\"{shorten(cleaned)}\")", field=field, value=shorten(cleaned),
                           hint="Shorten it (CLIP reads only about 60 English words anyway), or raise the limit "
                           "with TEXT2VIDEO_PROMPT_MAX_CHARS.")
    return cleaned


def _example(field: str) -> str:
    if "negative" in field:
        return f"Leave {field} out, or describe what to avoid, e.g. \"blurry, low quality\"."
    return f"Describe the character and scene in {field}, e.g. \"Cô gái nhảy trên núi\" or \"a girl dancing on a mountain\"."


def validate_lang(lang: object, field: str = "lang") -> str:
    """``auto | vi | en`` (case-insensitive; "vietnamese"/"english" accepted) or :class:`InvalidInput`."""
    key = str(lang).strip().lower() if lang is not None else "auto"
    if key not in _LANG_ALIASES:
        raise InvalidInput(f"{field} must be one of auto, vi, en, not {shorten(repr(lang))}", field=field, value=lang,
                           hint="Use auto to detect the language, vi to always translate, en to use the text as is.")
    return _LANG_ALIASES[key]
