"""The declaration types of a model family: :class:`Family`, :class:`Variant`, :class:`Slot`, :class:`FrameRule`.

Pure data (no torch, no diffusers): the API process imports every declaration. What a family needs at run time
(its runner, its skeleton drawing, its demo builder, its download sources) is named as ``"module:attribute"``
and imported only when used (:func:`load`), so a declaration stays cheap to import.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from ..params import Param

Ref = str  # "package.module:attribute", imported on first use


def load(ref: Ref | Callable | None) -> Any:
    """The object ``ref`` names ("module:attribute"), imported now; a callable is returned as it is."""
    if ref is None or callable(ref):
        return ref
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Slot:
    """An input file the family accepts (the reference video, a character photo...)."""

    name: str  # "video" | "reference_image": the form's file field (its URL field is NAME_url)
    kind: str  # "video" | "image"
    required: bool
    description: str


@dataclass(frozen=True)
class FrameRule:
    """The frame counts a model can make: ``offset + step * k`` (any count: step 1; Wan: 4k+1).

    ``any_above_window``: the rule holds for one model pass only; a video longer than the request's window is
    made in windows and may have any count (Wan: 4k+1 up to the window, any count above). The methods then take
    the window in force (the request's, else the family's default)."""

    step: int = 1
    offset: int = 0
    any_above_window: bool = False

    def _free(self, n: int, window: int | None) -> bool:
        return self.any_above_window and window is not None and n > window

    def allows(self, n: int, window: int | None = None) -> bool:
        if self._free(n, window):
            return True
        return n >= max(1, self.offset) and (n - self.offset) % self.step == 0

    def closest(self, n: int, window: int | None = None) -> int:
        """The allowed count nearest ``n`` (the lower one on a tie): the error's suggestion, never applied."""
        if self._free(n, window):
            return n
        k = max(0, round((n - self.offset) / self.step - 1e-9))
        return max(self.offset + self.step * k, self.offset if self.offset >= 1 else self.step)

    def floor(self, n: int, window: int | None = None) -> int:
        """The largest allowed count up to ``n`` (at least the smallest allowed one)."""
        if self._free(n, window):
            return n
        low = self.offset if self.offset >= 1 else self.step
        return max(low, n - (n - self.offset) % self.step)

    def describe(self, window: int | None = None) -> str:
        if self.step == 1:
            return "any count"
        text = f"{self.step}k+{self.offset}" if self.offset else f"a multiple of {self.step}"
        if self.any_above_window:
            text += (f" up to one window ({window} frames)" if window else " up to one window") + \
                ", any count above (made in windows)"
        return text


@dataclass(frozen=True)
class Variant:
    """One model name a user can ask for (``model``)."""

    name: str  # "follow-your-pose" | "wan-vace-1.3b" ...
    folder: str  # models-folder sub-path holding its weights
    title: str
    description: str
    vram_gb: float  # rough GPU memory at the family's defaults
    licence: str
    needs: tuple[str, ...] = ()  # paths under the models folder that must exist (empty = just ``folder``)
    lora_width: int | None = None  # the width a LoRA of this model has (Wan: the transformer's; None: any)

    def installed(self, models_root: Path) -> bool:
        """Its weights are in ``models_root`` (a demo folder has every family: it builds them on first use)."""
        from ..models.layout import DEMO_MARKER

        if (models_root / DEMO_MARKER).exists():
            return True
        return all((models_root / need).exists() for need in (self.needs or (self.folder,)))


@dataclass(frozen=True)
class Family:
    """A video model family, stated once; the request, API, CLI, worker routing, download, doctor and
    ``GET /api/v1/models`` are derived from it. See ``families-design`` in the README."""

    name: str  # "follow-your-pose" | "wan-vace": also its queue's name (t2v.<name>)
    title: str
    variants: tuple[Variant, ...]
    slots: tuple[Slot, ...]
    runner: Ref  # "module:Class" implementing the Runner interface (text2video.families.runner)
    draw_pose: Ref | Callable  # (people, width, height) -> (H, W, 3) uint8: the style ITS model was trained on
    draw_options: Mapping[str, str] = field(default_factory=dict)  # its own param -> draw_pose keyword
    frame_rule: FrameRule = FrameRule()
    # shared parameter name -> Param fields replaced for this family (default/minimum/maximum/multiple_of/enum/...)
    narrow: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    own_params: tuple[Param, ...] = ()  # family-only parameters (e.g. conditioning_scale)
    refuses: tuple[str, ...] = ()  # shared parameters this family does not take (422 naming the ones that do)
    default_frames: int | None = None  # frames when the request says none (None: settings.frames), capped by
    # the video's length and then brought down to the frame rule
    default_fps: float | None = None  # frame rate the pose video is sampled at (None: source fps / stride)
    prompt_tokens: int = 77  # the text encoder's budget: the prompt report says what is cut
    translate_default: bool = True  # Vietnamese -> English unless the request's `translate` says otherwise
    pose_preset: str = "balanced"  # pose models used for raw videos by default
    cuda_dtype: str = "fp16"  # what --dtype auto means on CUDA for this model (bf16: weights that overflow in fp16)
    shared_parts: tuple[str, ...] = ("prompt", "pose")  # shared model parts it needs (models.sources.PARTS)
    sources: Ref | None = None  # (variant, fp16) -> tuple of models.sources.HubFile: its download
    presets: Ref | None = None  # its memory presets (the runner chooses by free VRAM)
    demo: Ref | None = None  # (root) -> None: writes its demo weights; None = part of the shared demo folder
    preview: Ref | None = None  # latent -> RGB projection for live previews (None: no preview)
    lora_format: str | None = None  # the LoRA files it loads (models.loras.SD1 | WAN; None: no LoRAs)
    # (LoRA file) -> (kind, {parameter: value}) a step-distillation LoRA was made for, or None: used for the
    # parameters declared ``set_by_lora`` that the request does not set
    lora_defaults: Ref | None = None
    licence_note: str = ""

    def __post_init__(self) -> None:
        if not self.variants:
            raise ValueError(f"family {self.name!r} declares no variant")
        if not any(s.name == "video" for s in self.slots):
            raise ValueError(f"family {self.name!r} has no 'video' slot (the pose comes from it)")
        own = {p.name for p in self.own_params}
        if set(self.draw_options) - own:
            raise ValueError(f"family {self.name!r}: draw_options {sorted(set(self.draw_options) - own)} are not "
                             "its own parameters")
        clash = own & (set(self.narrow) | set(self.refuses))
        if clash:
            raise ValueError(f"family {self.name!r}: {sorted(clash)} are both its own and narrowed/refused")

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)

    @property
    def variant_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variants)

    def slot(self, name: str) -> Slot | None:
        return next((s for s in self.slots if s.name == name), None)

    def params(self, shared: tuple[Param, ...]) -> tuple[Param, ...]:
        """The shared parameters narrowed for this family (the refused ones left out), then its own."""
        unknown = (set(self.narrow) | set(self.refuses)) - {p.name for p in shared}
        if unknown:
            raise ValueError(f"family {self.name!r} narrows or refuses unknown parameters {sorted(unknown)}")
        narrowed = tuple(replace(p, **self.narrow[p.name]) if p.name in self.narrow else p
                         for p in shared if p.name not in self.refuses)
        return narrowed + self.own_params

    def capabilities(self) -> dict[str, Any]:
        return {"slots": [s.name for s in self.slots], "loras": self.lora_format is not None,
                "preview": self.preview is not None, "long_video": "window" not in self.refuses}

    def load_runner(self) -> type:
        """The runner class (imports torch/diffusers: call it in a worker, never in the API)."""
        return load(self.runner)

    def drawing(self, params: Mapping[str, Any] | None = None) -> Callable:
        """Its pose drawing, with the request's drawing options (``draw_options``) applied."""
        draw = load(self.draw_pose)
        options = {kw: params[name] for name, kw in self.draw_options.items()
                   if params and params.get(name) is not None}
        return functools.partial(draw, **options) if options else draw


@dataclass
class RunInputs:
    """What the engine hands a runner: the shared stages' results and the request's values."""

    prompt: str  # the text the model reads: English, or the original when the request's translate is false
    negative_prompt: str | None
    original_prompt: str
    language: str  # vi | en (detected or given)
    pose: Any  # (F, H, W, 3) uint8 RGB, already drawn in the family's style, F = frames
    fps: float  # output frame rate
    reference_image: Any  # PIL.Image RGB (EXIF orientation applied) or None
    frames: int
    width: int
    height: int
    steps: int
    guidance_scale: float
    seed: int
    scheduler: str | None = None
    window: int | None = None  # long videos (families that take them)
    window_overlap: int | None = None
    anchor_first_frame: bool = True
    loras: list[tuple[Path, float]] = field(default_factory=list)  # (file, weight), checked by the engine
    params: dict[str, Any] = field(default_factory=dict)  # the family's own parameters (conditioning_scale...)


class Runner:
    """What the engine calls to make the video; each family implements one (``Family.runner``).

    ``generate`` yields the decoded video as RGB uint8 chunks (F_chunk, H, W, 3), in order, ``inputs.frames`` in
    all; the engine streams each into result.mp4 / result.gif / side_by_side.mp4 as it comes. Callbacks:
    ``on_step(0, total)`` once before the denoising loop, then ``on_step(step, total)`` after each step (progress;
    it raises Canceled to stop); ``on_decoding()`` once when denoising is done and decoding starts (it may raise
    Canceled too); ``on_preview_file(path)`` when a live preview file is written at ``preview_path`` (None: no
    preview). Append user-facing warnings to ``warnings``. Memory presets, compile, LoRAs and previews are the
    runner's business; set ``memory_preset`` to the preset a run used.
    """

    demo: bool = False  # the folder holds demo (random) weights: the output is noise
    memory_preset: str = ""  # the preset the last run used

    def __init__(self, models_dir: Path, variant: Variant, *, device: Any, dtype: Any, settings: Any,
                 memory: str = "auto") -> None:
        self.models_dir, self.variant, self.device, self.dtype = Path(models_dir), variant, device, dtype
        self.settings, self.memory = settings, memory

    @property
    def loaded(self) -> bool:
        """The weights are in memory (the engine reports "loading the video model" when they are not)."""
        raise NotImplementedError

    def load(self) -> None:
        """Load the weights (once per runner)."""
        raise NotImplementedError

    def generate(self, inputs: RunInputs, *, on_step: Callable[[int, int], None], on_decoding: Callable[[], None],
                 preview_path: Path | None, warnings: list[str],
                 on_preview_file: Callable[[Path], None]) -> Iterator[Any]:
        raise NotImplementedError


__all__ = ["Family", "Variant", "Slot", "FrameRule", "Ref", "load", "RunInputs", "Runner"]
