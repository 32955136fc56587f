"""envit5 protocol, batching, cache and lazy single load, on the tiny demo T5 loaded through the real code path."""

from __future__ import annotations

import logging
import threading

import pytest
import torch

from text2video.exceptions import ModelsMissing
from text2video.prompt import Translator, build_input, get_translator, strip_output
from text2video.prompt.translator import resolve_dtype

VI = ["Cô gái nhảy trên núi", "gấu trúc", "Một chú robot nhảy hip hop ở Sài Gòn", "co gai", "Iron man trên bãi biển",
      "mèo", "Con mèo đang ngủ cạnh cửa sổ, ánh sáng đẹp", "hai", "ba bốn", "năm sáu bảy"]


def test_input_has_the_source_prefix():
    assert build_input("Cô gái nhảy") == "vi: Cô gái nhảy"
    assert build_input("A girl", source="en") == "en: A girl"


@pytest.mark.parametrize("raw, expected", [
    ("en: A girl dancing on a mountain", "A girl dancing on a mountain"),
    ("en:A girl", "A girl"),
    ("  EN :  A girl  ", "A girl"),
    ("vi: Cô gái", "Cô gái"),  # an answer in the wrong language still loses its tag
    ("A girl dancing", "A girl dancing"),  # no prefix: kept as is
    ("en: en: twice", "en: twice"),  # only the protocol's one prefix is removed
    ("english: lesson", "english: lesson"),
    ("Enemy at the gates", "Enemy at the gates"),
    ("", ""),
])
def test_output_prefix_is_stripped(raw, expected):
    assert strip_output(raw) == expected


class _Spy:
    """Wraps a real callable, records its calls, and lets a test change what comes back."""

    def __init__(self, real, after=None):
        self.real, self.after, self.calls = real, after, []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        result = self.real(*args, **kwargs)
        return self.after(result) if self.after else result


def test_model_gets_prefixed_input_and_prefixed_output_is_stripped(fresh_translator):
    tr = fresh_translator.load()
    tokenizer = tr.tokenizer
    plain = tr.translate_one("Cô gái nhảy trên núi")

    # The model sees "vi: <text>": the encoder input decodes back to it.
    spy = _Spy(tr.model.generate)
    tr.model.generate = spy
    tr._cache.clear()
    assert tr.translate_one("Cô gái nhảy trên núi") == plain
    sent = spy.calls[0][1]["input_ids"][0]
    assert tokenizer.decode(sent, skip_special_tokens=True) == "vi: Cô gái nhảy trên núi"
    assert spy.calls[0][1]["num_beams"] == tr.num_beams > 1

    # The real model answers "en: ..."; put those tokens in front of the demo model's answer: they are stripped.
    prefix = tokenizer("en:", add_special_tokens=False, return_tensors="pt")["input_ids"][0]

    def add_prefix(out):
        start, rest = out[:, :1], out[:, 1:]  # keep the decoder start token first
        return torch.cat([start, prefix.expand(out.shape[0], -1), rest], dim=1)

    tr.model.generate = _Spy(spy.real, after=add_prefix)
    tr._cache.clear()
    assert tr.translate_one("Cô gái nhảy trên núi") == plain
    assert plain and not plain.lower().startswith("en:")


def test_batched_translation_matches_one_by_one(prompt_models):
    path = prompt_models / "envit5-translation"
    batched = Translator(path, "cpu", "fp32", batch_size=4, max_new_tokens=24)
    single = Translator(path, "cpu", "fp32", batch_size=1, max_new_tokens=24)
    out = batched.translate(VI)
    assert batched.generate_calls == 3  # 10 texts in batches of 4
    assert out == single.translate(VI)  # same answers, same order
    assert single.generate_calls == 10
    assert len(set(out)) > 3  # the texts really got different answers (order mix-ups would show)


def test_cache_skips_the_model(fresh_translator):
    first = fresh_translator.translate(["Cô gái nhảy trên núi", "Gấu trúc trên mặt nước"])
    assert fresh_translator.generate_calls == 1
    again = fresh_translator.translate(["Gấu trúc trên mặt nước", "Cô gái nhảy trên núi"])
    assert again == first[::-1]
    assert fresh_translator.generate_calls == 1  # both came from the cache
    fresh_translator.translate(["Gấu trúc trên mặt nước", "mèo"])  # one cached, one new
    assert fresh_translator.generate_calls == 2
    duplicates = fresh_translator.translate(["con chó", "con chó", "con chó"])
    assert len(set(duplicates)) == 1 and fresh_translator.generate_calls == 3


def test_cache_is_bounded(prompt_models):
    tr = Translator(prompt_models / "envit5-translation", "cpu", "fp32", cache_size=2, max_new_tokens=8)
    tr.translate(["một"]), tr.translate(["hai"]), tr.translate(["ba"])  # "một" is evicted
    calls = tr.generate_calls
    tr.translate(["ba"])
    assert tr.generate_calls == calls
    tr.translate(["một"])
    assert tr.generate_calls == calls + 1


def test_loads_lazily_and_once_across_threads(fresh_translator):
    assert not fresh_translator.loaded and fresh_translator.load_count == 0
    errors: list[BaseException] = []

    def work(i):
        try:
            fresh_translator.translate([f"cô gái số {i}"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert fresh_translator.load_count == 1 and fresh_translator.generate_calls == 4


def test_one_translator_per_process(prompt_models):
    path = prompt_models / "envit5-translation"
    assert get_translator(path, "cpu", "auto") is get_translator(str(path), "cpu", "auto")
    assert get_translator(path, "cpu", "fp32") is not get_translator(path, "cpu", "auto")


def test_fp16_is_upgraded(caplog):
    with caplog.at_level(logging.INFO, logger="text2video.prompt.translator"):
        assert resolve_dtype("fp16", "cpu") == torch.float32
    assert "T5 overflows in fp16" in caplog.text
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("bf16", "cpu") == torch.bfloat16
    assert resolve_dtype("float32", "cpu") == torch.float32


def test_bf16_runs_on_cpu(prompt_models):
    tr = Translator(prompt_models / "envit5-translation", "cpu", "bf16", max_new_tokens=8)
    assert tr.translate_one("Cô gái nhảy") is not None
    assert next(tr.model.parameters()).dtype == torch.bfloat16


def test_missing_model_says_how_to_get_it(tmp_path):
    with pytest.raises(ModelsMissing) as info:
        Translator(tmp_path / "envit5-translation").translate(["Cô gái"])
    assert "download --only prompt" in str(info.value) and "lang=en" in str(info.value)


def test_loads_the_published_weights_file_name(prompt_models, tmp_path):
    # The published repository ships pytorch_model.bin (not safetensors): that file loads the same model.
    import shutil

    from safetensors.torch import load_file

    src = prompt_models / "envit5-translation"
    dst = tmp_path / "envit5-translation"
    shutil.copytree(src, dst)
    state = load_file(dst / "model.safetensors")
    (dst / "model.safetensors").unlink()
    torch.save(state, dst / "pytorch_model.bin")
    a = Translator(src, "cpu", "fp32", max_new_tokens=12).translate(VI[:3])
    b = Translator(dst, "cpu", "fp32", max_new_tokens=12).translate(VI[:3])
    assert a == b
