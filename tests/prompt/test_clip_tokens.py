"""CLIP's 77-token limit: the report lists exactly the words the text encoder will not see."""

from __future__ import annotations

import pytest

from text2video.exceptions import ModelsMissing
from text2video.models.clip_tokenizer import load_clip_tokenizer
from text2video.prompt import CLIP_MAX_TOKENS, clip_token_report


def test_short_prompt_is_not_truncated(clip_tokenizer):
    report = clip_token_report("a girl dancing on the mountain", clip_tokenizer)
    assert report.token_count == 6 + 2  # six one-token words + start and end
    assert not report.truncated and report.dropped_words == []
    assert report.kept_text == "a girl dancing on the mountain"


def test_long_prompt_lists_exactly_the_dropped_words(clip_tokenizer):
    from tests.prompt.helpers import CLIP_WORDS

    # 80 one-token words: 75 fit between the start and end tokens, the last 5 are dropped.
    single = [w for w in CLIP_WORDS if len(clip_tokenizer(w, add_special_tokens=False)["input_ids"]) == 1]
    assert len(single) >= 10
    text_words = (single * 10)[:80]
    report = clip_token_report(" ".join(text_words), clip_tokenizer)
    assert report.token_count == 82 and report.max_tokens == CLIP_MAX_TOKENS and report.truncated
    assert report.dropped_words == text_words[75:]
    assert report.kept_text == " ".join(text_words[:75])


def test_report_matches_the_tokenizers_own_truncation(clip_tokenizer):
    # Words the tokenizer does not know split into one token per letter, punctuation into its own tokens:
    # what the report keeps must be what truncation to 77 tokens keeps, whole words only.
    text = ("A cinematic girl, dancing on the mountain: zebra-striped dress & sunny day!! " * 6).strip()
    report = clip_token_report(text, clip_tokenizer)
    ids = clip_tokenizer(text, truncation=True, max_length=77)["input_ids"]
    assert len(ids) == 77 and report.token_count == len(clip_tokenizer(text)["input_ids"])
    kept_by_tokenizer = clip_tokenizer.decode(ids, skip_special_tokens=True)
    words = text.split()
    assert words[: len(report.kept_text.split())] + report.dropped_words == words
    # The tokenizer keeps the report's words, then possibly the first pieces of the first dropped word.
    assert kept_by_tokenizer.startswith(report.kept_text.lower().replace(",", " ,")[:20])
    n_kept = len(clip_tokenizer(report.kept_text, add_special_tokens=False)["input_ids"])
    assert n_kept <= 75 < n_kept + len(clip_tokenizer(report.dropped_words[0], add_special_tokens=False)["input_ids"])


def test_word_cut_in_the_middle_is_dropped(clip_tokenizer):
    # 73 one-token words, then a 5-letter unknown word (5 tokens) straddling the limit of 75.
    text = " ".join(["girl"] * 73 + ["xyzzy", "panda"])
    report = clip_token_report(text, clip_tokenizer)
    assert report.dropped_words == ["xyzzy", "panda"]
    assert report.token_count == 73 + 5 + 1 + 2


def test_custom_limit(clip_tokenizer):
    report = clip_token_report("a girl dancing on the mountain", clip_tokenizer, max_tokens=5)
    assert report.dropped_words == ["on", "the", "mountain"]
    assert report.to_dict()["truncated"] is True


def test_missing_tokenizer_says_how_to_fix(tmp_path):
    with pytest.raises(ModelsMissing) as info:
        load_clip_tokenizer(tmp_path)
    assert "download --only diffusion" in str(info.value)
