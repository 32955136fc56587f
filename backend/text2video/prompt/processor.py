"""The prompt stage as the engine and the API use it: text in, a :class:`PromptResult` out.

    proc = PromptProcessor(models_dir, device="cpu")
    res = proc.process("Cô gái nhảy trên núi")            # validate -> detect -> translate -> CLIP token report
    res.english, res.language, res.dropped_words, res.to_dict()
    proc.process_many(["Cô gái nhảy", "mờ, xấu"], fields=["prompt", "negative_prompt"])   # one batched translation
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from dataclasses import asdict, dataclass
from dataclasses import field as dataclass_field  # a result attribute is called `field`
from pathlib import Path
from typing import Any, Sequence

from ..messages import Message
from ..models.clip_tokenizer import load_clip_tokenizer
from ..models.layout import ModelPaths
from .clip_tokens import CLIP_MAX_TOKENS, TokenReport, clip_token_report
from .language import guess_language
from .translator import get_translator
from .validation import normalize_text, validate_lang, validate_prompt

log = logging.getLogger(__name__)

DEMO_TRANSLATION_WARNING = Message("prompt.demo_translation")
_JOINERS = {"\u200d", "\ufe0f", "\ufe0e", "\u20e3"}  # zero-width joiner, variation selectors, keycap


@dataclass
class PromptResult:
    original: str  # as the user wrote it (cleaned: NFC, single spaces)
    language: str  # "vi" | "en": detected (lang=auto) or as forced
    english: str  # what the text encoder gets
    translated: bool
    field: str = "prompt"  # "prompt" | "negative_prompt"
    detected: bool = True  # False when lang was forced to vi/en
    token_count: int | None = None  # CLIP tokens incl. start/end; None when the CLIP tokenizer is not available
    max_tokens: int = CLIP_MAX_TOKENS
    dropped_words: list[str] = dataclass_field(default_factory=list)  # words past CLIP's 77 tokens (not seen by the model)
    kept_text: str | None = None  # the part CLIP reads
    demo: bool = False  # a demo (random) translator made `english`: it is nonsense
    warnings: list[str] = dataclass_field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return bool(self.dropped_words)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["truncated"] = self.truncated
        return data


def split_symbols(text: str) -> tuple[str, list[str]]:
    """Take emoji and other pictographs out of ``text`` (the translator's vocabulary has none of them: they would come
    back as nothing). Returns the text without them and the emoji sequences in order."""
    kept: list[str] = []
    symbols: list[str] = []
    run = ""
    for char in text:
        category = unicodedata.category(char)
        is_symbol = category == "So" or char in _JOINERS or (run and category == "Sk")  # Sk: skin-tone modifiers
        if is_symbol:
            run += char
            continue
        if run:
            symbols.append(run)
            kept.append(" ")
            run = ""
        kept.append(char)
    if run:
        symbols.append(run)
    return normalize_text("".join(kept)), symbols


class PromptProcessor:
    """Validates, detects the language, translates Vietnamese (envit5, loaded lazily once per process) and reports
    what CLIP drops. ``models_dir`` is a models folder (``"demo"`` = the demo folder); ``clip_tokenizer`` overrides
    the one read from ``stable-diffusion-v1-4/tokenizer``."""

    def __init__(self, models_dir: str | Path, device: str = "cpu", dtype: str = "auto", max_chars: int = 500, *,
                 clip_tokenizer=None, translator=None) -> None:
        if str(models_dir) == "demo":
            from ..models.demo import resolve_models_dir

            models_dir = resolve_models_dir("demo")
        self.paths = ModelPaths(Path(models_dir))
        self.device = device
        self.dtype = dtype
        self.max_chars = max_chars
        self._translator = translator
        self._clip_tokenizer = clip_tokenizer
        self._clip_error: str | None = None
        self._clip_lock = threading.Lock()

    # 1. the models (lazy) -------------------------------------------------------------------------------------
    @property
    def translator(self):
        if self._translator is None:
            self._translator = get_translator(self.paths.translation, self.device, self.dtype)
        return self._translator

    @property
    def clip_tokenizer(self):
        """The CLIP tokenizer, or None (with the reason in the warnings) when the SD folder lacks it."""
        if self._clip_tokenizer is None and self._clip_error is None:
            with self._clip_lock:
                if self._clip_tokenizer is None and self._clip_error is None:
                    try:
                        self._clip_tokenizer = load_clip_tokenizer(self.paths.root)
                    except Exception as exc:  # a missing SD folder must not stop the translation
                        self._clip_error = f"CLIP token count unavailable: {exc}"
                        log.debug(self._clip_error)
        return self._clip_tokenizer

    @property
    def is_demo(self) -> bool:
        return self.paths.is_demo

    # 2. steps -------------------------------------------------------------------------------------------------
    def check_inputs(self, texts: Sequence[Any], fields: Sequence[str]) -> list[str]:
        if len(texts) != len(fields):
            raise ValueError(f"{len(texts)} texts but {len(fields)} field names")
        return [validate_prompt(text, field=name, max_chars=self.max_chars) for text, name in zip(texts, fields)]

    def token_report(self, english: str) -> TokenReport | None:
        tokenizer = self.clip_tokenizer
        return clip_token_report(english, tokenizer) if tokenizer is not None else None

    def process(self, text: Any, lang: str = "auto", field: str = "prompt") -> PromptResult:
        return self.process_many([text], lang=lang, fields=[field])[0]

    def process_many(self, texts: Sequence[Any], lang: str = "auto", fields: Sequence[str] | None = None,
                     translate: bool = True, count_clip_tokens: bool = True) -> list[PromptResult]:
        """Like :meth:`process` for several texts; the Vietnamese ones are translated in one batched call
        (``translate=False``: none is, the model reads the texts as written). ``count_clip_tokens=False``: the
        model's text encoder is not CLIP (its runner says what its own budget cuts)."""
        fields = list(fields) if fields is not None else ["prompt"] * len(texts)
        # 1. validate every text before any model work (all errors of a request are input errors)
        lang = validate_lang(lang)
        cleaned = self.check_inputs(texts, fields)
        # 2. language per text
        results: list[PromptResult] = []
        for text, name in zip(cleaned, fields):
            language = guess_language(text).language if lang == "auto" else lang
            results.append(PromptResult(original=text, language=language, english=text, translated=False,
                                        field=name, detected=lang == "auto"))
        # 3. translate the Vietnamese ones together (emoji set aside, put back after)
        to_translate = [r for r in results if r.language == "vi"] if translate else []
        if to_translate:
            parts = [split_symbols(r.original) for r in to_translate]
            sources = [words for words, _ in parts]
            english = self.translator.translate([s for s in sources if s])
            by_source = dict(zip([s for s in sources if s], english))
            demo = self.is_demo
            for result, (source, symbols) in zip(to_translate, parts):
                text = by_source.get(source, "") if source else ""
                if source and not text:
                    result.warnings.append(Message("prompt.empty_translation"))
                    text = source
                result.english = " ".join([text, *symbols]).strip()
                result.translated = True
                result.demo = demo
                if demo:
                    result.warnings.append(DEMO_TRANSLATION_WARNING)
        # 4. what CLIP will read
        for result in results if count_clip_tokens else ():
            report = self.token_report(result.english)
            if report is None:
                result.warnings.append(self._clip_error or "CLIP token count unavailable.")
                continue
            result.token_count = report.token_count
            result.max_tokens = report.max_tokens
            result.dropped_words = report.dropped_words
            result.kept_text = report.kept_text
            if report.dropped_words:
                result.warnings.append(Message("prompt.clip_truncated", field=result.field, tokens=report.token_count,
                                               max=report.max_tokens, words=" ".join(report.dropped_words)))
        return results
