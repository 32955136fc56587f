"""Vietnamese -> English with VietAI's envit5-translation (a T5 model) through transformers.

Protocol of the model: the input names its source language (``"vi: " + text``) and the output names its target
(``"en: A girl ..."``); the prefix is stripped (outputs without it are taken as they are). One translator per
(folder, device, dtype) per process: it loads lazily on first use, once, under a lock, and keeps an LRU cache of
recent translations so a repeated prompt does not run the model again.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

from ..exceptions import DeviceError, InvalidInput, ModelsMissing

log = logging.getLogger(__name__)

_OUTPUT_PREFIX = re.compile(r"^\s*(?:en|vi)\s*:\s*", re.IGNORECASE)
DEFAULT_NUM_BEAMS = 4
DEFAULT_BATCH_SIZE = 8
DEFAULT_CACHE_SIZE = 256
DEMO_MAX_NEW_TOKENS = 16  # demo weights never stop on their own; their text is nonsense anyway, keep it short
MAX_INPUT_TOKENS = 512  # T5 relative attention has no hard limit; envit5 was trained on inputs up to 512 tokens


def build_input(text: str, source: str = "vi") -> str:
    """The model's input for ``text``: the source language, a colon, the text (``"vi: Cô gái nhảy"``)."""
    return f"{source}: {text}"


def strip_output(text: str) -> str:
    """The translation without the target-language prefix (``"en: A girl" -> "A girl"``); unprefixed text as is."""
    return _OUTPUT_PREFIX.sub("", text, count=1).strip()


def resolve_device(device: str = "auto") -> str:
    import torch

    device = (device or "auto").lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"device {device!r} was asked for the translator but CUDA is not available", field="device",
                          value=device, hint="Use --device cpu (or auto), or install a CUDA build of torch.")
    if device != "cpu" and not device.startswith(("cuda", "mps")):
        raise InvalidInput(f"device must be auto, cpu, cuda or cuda:N, not {device!r}", field="device", value=device,
                           hint="Use auto to pick the GPU when there is one.")
    return device


def resolve_dtype(dtype: str, device: str):
    """fp32 or bf16: T5's activations overflow fp16 (inf/NaN -> empty or garbled translations)."""
    import torch

    key = (dtype or "auto").lower().replace("float", "fp").replace("bfp16", "bf16")
    bf16_ok = device.startswith("cuda") and torch.cuda.is_bf16_supported()
    if key == "auto":
        return torch.bfloat16 if bf16_ok else torch.float32
    if key in ("fp16", "half"):
        chosen = torch.bfloat16 if bf16_ok else torch.float32
        log.info("translator: fp16 was asked for, using %s instead (T5 overflows in fp16)",
                 "bf16" if bf16_ok else "fp32")
        return chosen
    if key in ("bf16", "bfloat16"):
        return torch.bfloat16
    if key in ("fp32", "32"):
        return torch.float32
    raise InvalidInput(f"dtype must be auto, fp32, bf16 or fp16, not {dtype!r}", field="dtype", value=dtype,
                       hint="Use auto (bf16 on GPUs that support it, fp32 otherwise).")


class Translator:
    """envit5 in one folder. ``translate(["Cô gái nhảy"]) -> ["A girl dancing"]``; thread-safe."""

    def __init__(self, path: str | Path, device: str = "auto", dtype: str = "auto", *,
                 num_beams: int = DEFAULT_NUM_BEAMS, batch_size: int = DEFAULT_BATCH_SIZE,
                 cache_size: int = DEFAULT_CACHE_SIZE, max_new_tokens: int | None = None) -> None:
        self.path = Path(path)
        self.requested_device = device
        self.requested_dtype = dtype
        self.num_beams = num_beams
        self.max_new_tokens = max_new_tokens  # None: from the longest input of each batch
        self.batch_size = max(1, batch_size)
        self.cache_size = cache_size
        self.tokenizer = None
        self.model = None
        self.device: str | None = None
        self.dtype = None
        self.load_count = 0  # how many times the weights were read (1 per process, by design)
        self.generate_calls = 0  # model.generate() calls (batches), for tests and metrics
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()  # one generate at a time: the model is shared by request threads
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._cache_lock = threading.Lock()

    # 1. loading -------------------------------------------------------------------------------------------------
    def check_files(self) -> None:
        if not (self.path / "config.json").is_file():
            raise ModelsMissing(f"the translation model is missing: {self.path}/config.json not found",
                                field="models_dir", value=str(self.path.parent),
                                hint="Run `python manage.py download --only prompt` (VietAI/envit5-translation), "
                                "or send an English prompt with lang=en.")

    def load(self) -> "Translator":
        if self.model is not None:
            return self
        with self._load_lock:
            if self.model is not None:
                return self
            self.check_files()
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

            device = resolve_device(self.requested_device)
            dtype = resolve_dtype(self.requested_dtype, device)
            log.info("loading the translation model from %s (%s, %s)", self.path, device, dtype)
            tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
            model = AutoModelForSeq2SeqLM.from_pretrained(self.path, dtype=dtype, local_files_only=True)
            model.to(device).eval()
            self.tokenizer, self.device, self.dtype = tokenizer, device, dtype
            self.load_count += 1
            self.model = model  # last: other threads see a loaded translator only when it is complete
        return self

    @property
    def loaded(self) -> bool:
        return self.model is not None

    # 2. cache -----------------------------------------------------------------------------------------------------
    def cached(self, text: str) -> str | None:
        with self._cache_lock:
            if text in self._cache:
                self._cache.move_to_end(text)
                return self._cache[text]
        return None

    def _remember(self, text: str, english: str) -> None:
        with self._cache_lock:
            self._cache[text] = english
            self._cache.move_to_end(text)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    # 3. translation -------------------------------------------------------------------------------------------
    def _max_new_tokens(self, input_lengths: Sequence[int]) -> int:
        if self.max_new_tokens:
            return self.max_new_tokens
        # English needs about as many tokens as the Vietnamese input; leave room, but stop runaway repetition.
        return max(32, min(MAX_INPUT_TOKENS, int(max(input_lengths) * 1.5) + 16))

    def _generate(self, texts: list[str]) -> list[str]:
        import torch

        inputs = self.tokenizer([build_input(t) for t in texts], return_tensors="pt", padding=True, truncation=True,
                                max_length=MAX_INPUT_TOKENS)
        lengths = inputs["attention_mask"].sum(dim=1).tolist()
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        with self._run_lock, torch.inference_mode():
            self.generate_calls += 1
            output = self.model.generate(**inputs, num_beams=self.num_beams, early_stopping=True,
                                         max_new_tokens=self._max_new_tokens(lengths))
        return [strip_output(t) for t in self.tokenizer.batch_decode(output, skip_special_tokens=True)]

    def translate(self, texts: Sequence[str]) -> list[str]:
        """English for each Vietnamese text (in order); cached texts skip the model, the rest run in batches."""
        results: dict[str, str] = {}
        todo: list[str] = []
        for text in texts:
            hit = self.cached(text)
            if hit is not None:
                results[text] = hit
            elif text not in todo:
                todo.append(text)
        if todo:
            self.load()
            # Similar lengths together: less padding per batch.
            todo.sort(key=len)
            for start in range(0, len(todo), self.batch_size):
                batch = todo[start:start + self.batch_size]
                for source, english in zip(batch, self._generate(batch)):
                    results[source] = english
                    if english:  # an empty answer is a failure: try the model again next time
                        self._remember(source, english)
        return [results[t] for t in texts]

    def translate_one(self, text: str) -> str:
        return self.translate([text])[0]


_REGISTRY: dict[tuple[str, str, str], Translator] = {}
_REGISTRY_LOCK = threading.Lock()


def get_translator(path: str | Path, device: str = "auto", dtype: str = "auto") -> Translator:
    """The process-wide translator for this folder/device/dtype (created on first call, loaded on first use)."""
    from ..models.layout import DEMO_MARKER

    key = (str(Path(path).resolve()), device or "auto", dtype or "auto")
    with _REGISTRY_LOCK:
        if key not in _REGISTRY:
            demo = (Path(path).parent / DEMO_MARKER).exists()
            _REGISTRY[key] = Translator(path, device, dtype, max_new_tokens=DEMO_MAX_NEW_TOKENS if demo else None)
        return _REGISTRY[key]
