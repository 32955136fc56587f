"""Style LoRAs installed in ``<models>/loras/``: which there are, what a job may ask for, and whether a file fits.

A job names up to :data:`MAX_LORAS` of them by file name without ``.safetensors`` (``NAME[:WEIGHT]``); nothing
outside that folder can be named (no paths, no uploads). Every check here reads only the safetensors header (names,
shapes, metadata), so the web process can refuse a bad choice with a 422 without loading torch or any model; the
worker merges the weights (:mod:`text2video.diffusion.lora`).

Which model family a file fits (``LoraFile.fits``: :data:`SD1` for Follow-Your-Pose, :data:`WAN` for Wan2.1) is
told here, from the tensor names alone (:func:`lora_family`); each family's declaration says which kind it loads
(``Family.lora_format``) and the request refuses the other kind naming the file and the family it fits.

SD-1.x (Follow-Your-Pose), two key formats:
- kohya / AUTOMATIC1111: ``lora_unet_<module>.lora_down.weight`` / ``.lora_up.weight`` / ``.alpha`` and
  ``lora_te_<module>...`` for the CLIP text encoder;
- diffusers / PEFT: ``unet.<module>.lora_A.weight`` / ``.lora_B.weight`` (or the older ``.lora.down`` /
  ``.lora.up`` and ``to_q_lora.down``), ``text_encoder.<module>...``.

Wan2.1 (its transformer), three key formats, all read by diffusers' ``WanLoraLoaderMixin.lora_state_dict``:
- diffusers / PEFT: ``transformer.blocks.N.attn1.to_q.lora_A.weight`` / ``lora_B`` (attn1 self, attn2 cross,
  ``ffn.net.0.proj`` / ``ffn.net.2``);
- the original Wan / ComfyUI names: ``diffusion_model.blocks.N.self_attn.q.lora_A.weight`` (or ``lora_down`` /
  ``lora_up`` with ``.alpha``), ``cross_attn``, ``ffn.0`` / ``ffn.2``, full-tensor ``.diff`` and bias ``.diff_b``;
- kohya / musubi-tuner: ``lora_unet_blocks_N_self_attn_q.lora_down.weight`` / ``.lora_up.weight`` / ``.alpha``.
The Wan model size a file was made for shows in its self-attention query's input width (:func:`wan_width`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..exceptions import InvalidInput
from .layout import ModelPaths, models_root

MAX_LORAS = 3
MIN_WEIGHT, MAX_WEIGHT = -2.0, 2.0
DEFAULT_WEIGHT = 1.0
EXTENSION = ".safetensors"
FIELD = "loras"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.+-]{0,99}")  # a file name: no separator, no leading dot
# SD-1.x: CLIP ViT-L/14 text features (the UNet's cross-attention input and the text encoder's width)
SD1_TEXT_DIM = 768
# text feature widths of the other Stable Diffusion families, to say which one a file was made for
OTHER_FAMILIES = {1024: "SD-2.x", 2048: "SDXL", 1280: "SDXL"}
_KOHYA_PREFIXES = ("lora_unet_", "lora_te_")
_SDXL_PREFIXES = ("lora_te1_", "lora_te2_", "text_encoder_2.")
_LDM_BLOCKS = ("input_blocks", "middle_block", "output_blocks")
_LORA_MARKS = ("lora_down", "lora_up", "lora_A", "lora_B", "lora.down", "lora.up", "_lora.down", "_lora.up",
               "lora_linear_layer")
SD1, WAN = "sd1", "wan"  # the kinds of LoRA files (a family's ``lora_format``)
_SD1_MODULES = ("down_blocks", "up_blocks", "mid_block", "text_encoder.", "lora_te_", "lora_unet_down_",
                "lora_unet_up_", "lora_unet_mid_")
_WAN_PREFIX = r"(?:transformer\.|diffusion_model\.|base_model\.model\.)?"
_WAN_BLOCK = re.compile(_WAN_PREFIX + r"(?:vace_)?blocks\.\d+\.(?:self_attn|cross_attn|ffn|attn1|attn2|norm\d?)\.")
_WAN_KOHYA = re.compile(r"lora_unet_(?:vace_)?blocks_\d+_(?:self_attn|cross_attn|ffn)_")
_WAN_MARKS = ("lora_A", "lora_B", "lora_down", "lora_up", ".diff", ".diff_b")


@dataclass(frozen=True)
class LoraChoice:
    """One LoRA a job asked for: the file's name (no extension) and how strongly to apply it."""

    name: str
    weight: float = DEFAULT_WEIGHT

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LoraFile:
    """An installed file. ``problem`` says why it cannot be used (damaged, another architecture), else None."""

    name: str
    path: Path
    size_bytes: int
    format: str | None  # SD-1.x: "kohya" | "diffusers"; Wan: "diffusers" | "original" | "kohya"
    parts: tuple[str, ...]  # "unet", "text_encoder" | "transformer"
    problem: str | None = None
    fits: str | None = None  # the kind of model it is for: SD1 | WAN | None (neither, or unreadable)
    width: int | None = None  # Wan: the transformer width it was trained on (1536 = 1.3B, 5120 = 14B)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "size_bytes": self.size_bytes, "format": self.format, "parts": list(self.parts),
                "fits": self.fits, "width": self.width, "usable": self.problem is None, "problem": self.problem}


class LoraFileError(ValueError):
    """A file that cannot be applied; the message says why (without the file name)."""


def loras_dir(models_dir: str | Path) -> Path:
    return ModelPaths(models_root(models_dir)).loras


def base_text_dims(models_dir: str | Path) -> tuple[int, int]:
    """(UNet cross-attention width, text encoder width) of the installed base model; SD-1.x's when unknown."""
    paths = ModelPaths(models_root(models_dir))
    dims = []
    for config, key in ((paths.sd / "unet" / "config.json", "cross_attention_dim"),
                        (paths.sd / "text_encoder" / "config.json", "hidden_size")):
        try:
            dims.append(int(json.loads(config.read_text())[key]))
        except (OSError, ValueError, KeyError, TypeError):
            dims.append(SD1_TEXT_DIM)
    return dims[0], dims[1]


def key_format(keys: Iterable[str]) -> str:
    """"kohya" or "diffusers" from the tensor names, or LoraFileError saying what the file is instead."""
    keys = list(keys)
    if not any(mark in k for k in keys for mark in _LORA_MARKS):
        raise LoraFileError("it is not a LoRA: it has no lora_down/lora_up or lora_A/lora_B weights")
    if any(k.startswith(_SDXL_PREFIXES) for k in keys):
        raise LoraFileError("it was made for SDXL: it has parts for two text encoders")
    if any(block in k for k in keys for block in _LDM_BLOCKS):
        raise LoraFileError("it uses SDXL's block names (input_blocks/middle_block/output_blocks), not SD-1.x's")
    if any(k.startswith(_KOHYA_PREFIXES) for k in keys):
        return "kohya"
    return "diffusers"


def _text_width_problem(shapes: dict[str, list[int]], unet_dim: int, text_dim: int) -> str | None:
    """Another family's text width in the cross-attention key/value inputs or the text encoder's projections."""
    for key, shape in shapes.items():
        is_down = any(m in key for m in ("lora_down", "lora_A", "lora.down", "_lora.down", "lora_linear_layer.down"))
        if not is_down or len(shape) != 2:
            continue
        cross = "attn2" in key and any(p in key for p in ("to_k", "to_v"))
        text = key.startswith(("lora_te_", "text_encoder.")) and any(p in key for p in ("q_proj", "to_q", "fc1"))
        expected = unet_dim if cross else text_dim if text else None
        if expected is not None and shape[1] != expected:
            family = OTHER_FAMILIES.get(shape[1], f"a model with {shape[1]}-wide text features")
            where = "cross-attention" if cross else "text encoder"
            return (f"it was made for {family}: its {where} layers take {shape[1]} features, this model's take "
                    f"{expected}")
    return None


def is_wan_keys(keys: Iterable[str]) -> bool:
    """Whether the tensor names are those of a Wan transformer LoRA (any of its three formats)."""
    marked = [k for k in keys if any(m in k for m in _WAN_MARKS)]
    return any(_WAN_BLOCK.match(k) or _WAN_KOHYA.match(k) for k in marked)


def wan_key_format(keys: Iterable[str]) -> str:
    """"diffusers" | "original" | "kohya" for a Wan LoRA; LoraFileError when the names are not a Wan LoRA's."""
    keys = list(keys)
    if not is_wan_keys(keys):
        raise LoraFileError("it is not a Wan LoRA: no Wan transformer block (blocks.N.self_attn / attn1 / ffn) "
                            "carries lora_A/lora_B or lora_down/lora_up weights")
    if any(k.startswith("diffusion_model.") for k in keys):
        _check_bias_deltas(keys)
        return "original"
    if any(k.startswith("lora_unet_") for k in keys):
        return "kohya"
    return "diffusers"


def _check_bias_deltas(keys: list[str]) -> None:
    """Bias deltas (``.diff_b``) on some LoRA layers and not others: diffusers 0.42.1 then gives every LoRA layer
    a PEFT bias and leaves the missing ones unset (on the meta device), so the file loads and the run fails."""
    biased = {k[:-len(".diff_b")] for k in keys if k.endswith(".diff_b")}
    if not biased:
        return
    layers = {k.split(".lora_")[0] for k in keys if ".lora_" in k}
    missing = sorted(layers - biased)
    if missing:
        raise LoraFileError(f"{len(missing)} of its {len(layers)} LoRA layers have no bias delta (.diff_b) while the "
                            f"others do (e.g. {missing[0]}): diffusers cannot apply such a file")


def lora_family(keys: Iterable[str]) -> str | None:
    """WAN | SD1 | None: which kind of model a LoRA's tensor names fit (None: neither, or not a LoRA)."""
    keys = list(keys)
    if is_wan_keys(keys):
        return WAN
    try:
        key_format(keys)  # a LoRA at all, not SDXL
    except LoraFileError:
        return None
    return SD1 if any(m in k for k in keys for m in _SD1_MODULES) else None


def wan_width(shapes: Mapping[str, Iterable[int]]) -> int | None:
    """The Wan transformer width a LoRA was trained on: its self-attention query's input features (None: no
    query layer in the file)."""
    for key, shape in shapes.items():
        shape = list(shape)
        is_query_down = (("self_attn.q." in key or "self_attn_q." in key or "attn1.to_q." in key)
                         and ("lora_A" in key or "lora_down" in key))
        if is_query_down and len(shape) == 2:
            return int(shape[1])
    return None


def read_header(path: Path) -> tuple[dict[str, list[int]], dict[str, str]]:
    """(tensor name -> shape, metadata) of a safetensors file, nothing loaded; LoraFileError when unreadable."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            return {k: list(f.get_slice(k).get_shape()) for k in f.keys()}, dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise LoraFileError(f"it is damaged or not a safetensors file ({exc})") from None


def _sd1_format(shapes: dict[str, list[int]], unet_dim: int, text_dim: int) -> tuple[str, tuple[str, ...]]:
    fmt = key_format(shapes)
    problem = _text_width_problem(shapes, unet_dim, text_dim)
    if problem:
        raise LoraFileError(problem)
    parts = tuple(part for part, prefixes in (("unet", ("lora_unet_", "unet.")),
                                              ("text_encoder", ("lora_te_", "text_encoder.")))
                  if any(k.startswith(prefixes) for k in shapes))
    return fmt, parts or ("unet",)  # the oldest diffusers files name UNet modules without a prefix


def inspect_lora(path: Path, unet_dim: int = SD1_TEXT_DIM, text_dim: int = SD1_TEXT_DIM) -> LoraFile:
    """A LoRA file as its header tells it (which model kind it fits, format, parts, Wan width); ``problem`` says
    why it cannot be used (nothing is loaded)."""
    path = Path(path)
    found = LoraFile(path.stem, path, path.stat().st_size, None, ())
    try:
        shapes, _ = read_header(path)
    except LoraFileError as exc:
        return replace(found, problem=str(exc))
    fits = lora_family(shapes)
    try:
        if fits == WAN:
            return replace(found, format=wan_key_format(shapes), parts=("transformer",), fits=WAN,
                           width=wan_width(shapes))
        fmt, parts = _sd1_format(shapes, unet_dim, text_dim)  # says why a file is not an SD-1.x LoRA
        if fits is None:
            raise LoraFileError("its layers are neither SD-1.x's (down_blocks / mid_block / up_blocks, text "
                                "encoder) nor Wan2.1's (blocks.N.self_attn / attn1 / ffn)")
        return replace(found, format=fmt, parts=parts, fits=SD1)
    except LoraFileError as exc:
        return replace(found, problem=str(exc), fits=fits)


def installed_loras(models_dir: str | Path) -> list[LoraFile]:
    """Every ``*.safetensors`` directly in the loras folder, by name, each inspected (nothing is loaded)."""
    folder = loras_dir(models_dir)
    if not folder.is_dir():
        return []
    unet_dim, text_dim = base_text_dims(models_dir)
    return [inspect_lora(path, unet_dim, text_dim) for path in sorted(folder.glob(f"*{EXTENSION}"))
            if path.is_file() and not path.name.startswith(".")]


def parse_lora_spec(text: str) -> LoraChoice:
    """``NAME`` or ``NAME:WEIGHT`` (the CLI's --lora and a form field) -> a LoraChoice (weight not range-checked)."""
    name, sep, weight = text.strip().rpartition(":")
    if not sep:
        return LoraChoice(text.strip())
    try:
        return LoraChoice(name.strip(), float(weight))
    except ValueError:
        raise InvalidInput(f"{FIELD}: weight {weight!r} in {text!r} is not a number", field=FIELD, value=text,
                           hint="Write NAME or NAME:WEIGHT, e.g. watercolor:0.8.") from None


def _named(choice: LoraChoice) -> LoraChoice:
    """A choice whose name is a plain file name of the loras folder: no path can be named, on every entry point."""
    if not _NAME_RE.fullmatch(choice.name):
        raise InvalidInput(f"{FIELD}: {choice.name!r} is not a LoRA name (a file name in the loras folder, without "
                           f"{EXTENSION})", field=FIELD, value=choice.name,
                           hint="Use a name that GET /api/v1/loras or `manage.py loras` lists; paths are not accepted.")
    return choice


def _choice(raw: Any) -> LoraChoice:
    """One item of the request: "NAME[:WEIGHT]" or {"name": NAME, "weight": WEIGHT}."""
    if isinstance(raw, LoraChoice):
        return _named(raw)
    if isinstance(raw, str):
        return _named(parse_lora_spec(raw))
    if isinstance(raw, dict) and isinstance(raw.get("name"), str) and set(raw) <= {"name", "weight"}:
        weight = raw.get("weight", DEFAULT_WEIGHT)
        if isinstance(weight, (int, float)) and not isinstance(weight, bool):
            return _named(LoraChoice(raw["name"].strip(), float(weight)))
    raise InvalidInput(f"{FIELD}: {str(raw)[:60]!r} is not a LoRA choice", field=FIELD, value=raw,
                       hint='Give "NAME:WEIGHT" or {"name": "NAME", "weight": 0.8}.')


def read_choices(raw: Any) -> list[LoraChoice]:
    """A request's value (a list, or one comma-separated text as a form sends it) -> choices, count and weights
    checked (names are checked against the folder by :func:`check_choices`)."""
    items = [part for part in raw.split(",") if part.strip()] if isinstance(raw, str) else raw
    if not isinstance(items, (list, tuple)):
        raise InvalidInput(f"{FIELD} must be a list of LoRA names with weights", field=FIELD, value=raw,
                           hint='Send e.g. ["watercolor:0.8"] (JSON) or "watercolor:0.8,ink" (form).')
    choices = [_choice(item) for item in items]
    if len(choices) > MAX_LORAS:
        raise InvalidInput(f"{FIELD}: {len(choices)} LoRAs were asked for, at most {MAX_LORAS} can be applied",
                           field=FIELD, value=raw, hint=f"Keep {MAX_LORAS} or fewer.")
    names = [c.name for c in choices]
    if len(set(names)) < len(names):
        raise InvalidInput(f"{FIELD}: a LoRA is named twice ({', '.join(names)})", field=FIELD, value=raw,
                           hint="Name each once; its weight sets the strength.")
    for c in choices:
        if not math.isfinite(c.weight) or not MIN_WEIGHT <= c.weight <= MAX_WEIGHT:
            raise InvalidInput(f"{FIELD}: weight {c.weight:g} of {c.name!r} is outside {MIN_WEIGHT:g}..{MAX_WEIGHT:g}",
                               field=FIELD, value=raw, hint=f"Use a weight between {MIN_WEIGHT:g} and "
                               f"{MAX_WEIGHT:g} (1 = as trained, 0.5-0.8 = a lighter touch, below 0 = less of it).")
    return choices


def check_choices(raw: Any, models_dir: str | Path) -> list[tuple[LoraChoice, LoraFile]]:
    """Each choice with its installed, usable file; InvalidInput listing the installed names or saying why a
    file cannot be used."""
    choices = read_choices(raw)
    if not choices:
        return []
    installed = {f.name: f for f in installed_loras(models_dir)}
    resolved = []
    for choice in choices:
        file = installed.get(choice.name)
        if file is None:
            names = ", ".join(sorted(installed)) or "none"
            raise InvalidInput(f"{FIELD}: no LoRA named {choice.name!r} is installed (installed: {names})",
                               field=FIELD, value=choice.name, hint=f"Use one of the installed names, or copy "
                               f"{choice.name}{EXTENSION} into {loras_dir(models_dir)}.")
        if file.problem:
            raise InvalidInput(f"{FIELD}: {file.path.name} cannot be used: {file.problem}", field=FIELD,
                               value=choice.name, hint="Use a LoRA made for this model (GET /api/v1/loras lists "
                               "the family each fits), or remove the file.")
        resolved.append((choice, file))
    return resolved


__all__ = ["MAX_LORAS", "MIN_WEIGHT", "MAX_WEIGHT", "DEFAULT_WEIGHT", "SD1", "WAN", "LoraChoice", "LoraFile",
           "LoraFileError", "loras_dir", "base_text_dims", "key_format", "is_wan_keys", "wan_key_format",
           "lora_family", "wan_width", "read_header", "inspect_lora", "installed_loras", "parse_lora_spec",
           "read_choices", "check_choices"]
