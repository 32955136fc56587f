"""Bad prompts fail before any model work, with errors naming the field, the value and the fix."""

from __future__ import annotations

import pytest

from text2video.exceptions import InvalidInput
from text2video.prompt import PromptProcessor, validate_lang, validate_prompt


@pytest.mark.parametrize("field", ["prompt", "negative_prompt"])
@pytest.mark.parametrize("text, fragment", [
    ("", "is empty"),
    ("   \n\t ", "is empty"),
    (None, "is missing"),
    (42, "must be text"),
    ("girl\x00dancing", "control character U+0000 at position 4"),
    ("a girl \x1b[31mdancing", "control character U+001B"),
    ("tab\x7f", "control character U+007F"),
    ("c1 \x85 control", "control character U+0085"),
])
def test_bad_text_names_field_and_fix(field, text, fragment):
    with pytest.raises(InvalidInput) as info:
        validate_prompt(text, field=field)
    error = info.value
    assert error.field == field
    assert error.errors == {field: error.message}
    assert fragment in str(error)
    assert str(error).startswith(field)
    assert error.hint and error.hint in str(error)
    assert error.http_status == 422


def test_too_long_names_length_limit_and_setting():
    text = "Cô gái nhảy trên núi " * 30  # 630 characters
    with pytest.raises(InvalidInput) as info:
        validate_prompt(text, field="prompt", max_chars=500)
    message = str(info.value)
    assert "629 characters long, over the limit of 500" in message  # counted after trimming the last space
    assert "TEXT2VIDEO_PROMPT_MAX_CHARS" in message
    assert len(message) < 400  # the value is shortened, not echoed whole
    assert validate_prompt("x" * 500, max_chars=500) == "x" * 500
    with pytest.raises(InvalidInput):
        validate_prompt("x" * 21, max_chars=20)


def test_clean_text_is_normalised():
    # Decomposed tone marks (some keyboards) become precomposed; newlines and runs of spaces become one space.
    decomposed = "Co\u0302 ga\u0301i\n\n nha\u0309y   tre\u0302n nu\u0301i "
    assert validate_prompt(decomposed) == "Cô gái nhảy trên núi"
    assert validate_prompt("🐼 panda 🐼") == "🐼 panda 🐼"  # emoji are fine (joiners and selectors too)
    assert validate_prompt("👩\u200d🎤 singer\ufe0f") == "👩\u200d🎤 singer\ufe0f"


@pytest.mark.parametrize("value, expected", [("auto", "auto"), ("VI", "vi"), ("en", "en"), (" english ", "en"),
                                             ("Vietnamese", "vi"), (None, "auto"), ("", "auto")])
def test_lang_values(value, expected):
    assert validate_lang(value) == expected


def test_bad_lang_names_field():
    with pytest.raises(InvalidInput) as info:
        validate_lang("fr")
    assert info.value.field == "lang" and "auto, vi, en" in str(info.value) and "'fr'" in str(info.value)


def test_processor_validates_before_loading_anything(prompt_models, fresh_translator):
    proc = PromptProcessor(prompt_models, translator=fresh_translator)
    with pytest.raises(InvalidInput) as info:
        proc.process_many(["Cô gái nhảy trên núi", "mờ\x07"], fields=["prompt", "negative_prompt"])
    assert info.value.field == "negative_prompt"
    with pytest.raises(InvalidInput) as info:
        proc.process("Cô gái", lang="klingon")
    assert info.value.field == "lang"
    with pytest.raises(InvalidInput) as info:
        PromptProcessor(prompt_models, max_chars=10, translator=fresh_translator).process("Cô gái nhảy trên núi")
    assert "over the limit of 10" in str(info.value)
    assert not fresh_translator.loaded and fresh_translator.generate_calls == 0
