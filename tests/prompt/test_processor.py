"""PromptProcessor: the whole prompt stage (validate -> detect -> translate -> CLIP report) on demo weights."""

from __future__ import annotations

import json

import pytest

from text2video.prompt import PromptProcessor, PromptResult
from text2video.prompt.processor import DEMO_TRANSLATION_WARNING, split_symbols


@pytest.fixture()
def proc(prompt_models, fresh_translator):
    return PromptProcessor(prompt_models, device="cpu", translator=fresh_translator)


def test_english_passes_through_without_loading_the_translator(proc, fresh_translator):
    res = proc.process("  a girl dancing on the mountain ")
    assert isinstance(res, PromptResult)
    assert (res.original, res.language, res.english, res.translated) == (
        "a girl dancing on the mountain", "en", "a girl dancing on the mountain", False)
    assert res.token_count == 8 and res.dropped_words == [] and not res.truncated and res.warnings == []
    assert not fresh_translator.loaded  # English never pays for the translation model


def test_vietnamese_is_translated_and_demo_says_so(proc, fresh_translator):
    res = proc.process("Cô gái nhảy trên núi")
    assert res.language == "vi" and res.detected and res.translated
    assert res.english == fresh_translator.translate_one("Cô gái nhảy trên núi")  # the model's (cached) answer
    assert res.english and res.english != res.original
    assert res.demo and DEMO_TRANSLATION_WARNING in res.warnings
    assert res.token_count is not None and res.token_count > 2
    data = res.to_dict()
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data
    assert data["field"] == "prompt" and data["truncated"] is res.truncated and data["demo"] is True


def test_forced_language(proc, fresh_translator):
    kept = proc.process("Cô gái nhảy trên núi", lang="en")
    assert (kept.language, kept.translated, kept.detected, kept.english) == ("en", False, False, "Cô gái nhảy trên núi")
    assert fresh_translator.generate_calls == 0
    forced = proc.process("a girl dancing", lang="vi")
    assert forced.language == "vi" and forced.translated and not forced.detected
    assert fresh_translator.generate_calls == 1


def test_prompt_and_negative_prompt_in_one_batch(proc, fresh_translator):
    results = proc.process_many(["Cô gái nhảy trên núi", "mờ, chất lượng thấp", "blurry, low quality"],
                                fields=["prompt", "negative_prompt", "negative_prompt"])
    assert [r.field for r in results] == ["prompt", "negative_prompt", "negative_prompt"]
    assert [r.language for r in results] == ["vi", "vi", "en"]
    assert fresh_translator.generate_calls == 1  # both Vietnamese texts in one generate call
    assert results[2].english == "blurry, low quality"
    again = proc.process("mờ, chất lượng thấp", field="negative_prompt")
    assert again.english == results[1].english and fresh_translator.generate_calls == 1  # cached


def test_emoji_survive_translation(proc, fresh_translator):
    assert split_symbols("Cô gái 💃 nhảy 👩\u200d🎤 trên núi 🏔️") == ("Cô gái nhảy trên núi", ["💃", "👩\u200d🎤", "🏔️"])
    assert split_symbols("20 tuổi") == ("20 tuổi", [])
    res = proc.process("Cô gái 💃 nhảy trên núi 🏔️")
    base = fresh_translator.translate_one("Cô gái nhảy trên núi")
    assert res.english == f"{base} 💃 🏔️"
    only_emoji = proc.process("🐼🐼", lang="vi")
    assert only_emoji.english == "🐼🐼"


def test_long_prompt_reports_dropped_words(prompt_models, fresh_translator):
    from tests.prompt.helpers import CLIP_WORDS

    proc = PromptProcessor(prompt_models, max_chars=2000, translator=fresh_translator)
    single = [w for w in CLIP_WORDS if len(proc.clip_tokenizer(w, add_special_tokens=False)["input_ids"]) == 1]
    words = (single * 10)[:90]
    res = proc.process(" ".join(words))
    assert res.language == "en" and res.truncated
    assert res.dropped_words == words[75:] and res.token_count == 92
    assert any("these words are ignored: " + " ".join(words[75:]) in w for w in res.warnings)


def test_without_clip_tokenizer_the_translation_still_works(tmp_path, prompt_models, fresh_translator):
    import shutil

    shutil.copytree(prompt_models / "envit5-translation", tmp_path / "envit5-translation")
    proc = PromptProcessor(tmp_path, translator=fresh_translator)
    res = proc.process("Cô gái nhảy trên núi")
    assert res.translated and res.token_count is None and not res.demo  # no DEMO marker in this folder
    assert any("CLIP token count unavailable" in w and "download --only diffusion" in w for w in res.warnings)


def test_explicit_tokenizer_is_used(prompt_models, clip_tokenizer, fresh_translator, tmp_path):
    proc = PromptProcessor(tmp_path, clip_tokenizer=clip_tokenizer, translator=fresh_translator)
    assert proc.process("a girl dancing").token_count == 5


def test_empty_translation_falls_back_to_the_original(proc, fresh_translator):
    tr = fresh_translator.load()
    real = tr.model.generate
    tr.model.generate = lambda *args, **kwargs: real(*args, **kwargs)[:, :1]  # only the start token: ""
    res = proc.process("Cô gái nhảy trên núi")
    assert res.english == "Cô gái nhảy trên núi" and res.translated
    assert any("came back empty" in w for w in res.warnings)
    tr.model.generate = real
    again = proc.process("Cô gái nhảy trên núi")  # the failure was not cached
    assert again.english != "Cô gái nhảy trên núi" and fresh_translator.generate_calls == 2
