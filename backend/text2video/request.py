"""The generation request: each parameter declared ONCE, and everything derived from that declaration.

:data:`REQUEST_PARAMS` names each shared parameter's type, default (a callable of :class:`Settings` where an operator
can configure it), bounds, allowed values, older alias and help text; each model family (:mod:`text2video.families`)
narrows them for its model, adds its own and refuses those it does not take. From them come:

- :func:`parse_params`: the one validation (``model`` first, then types, bounds, enums, prompts, cross-field rules
  and the frame rule of THAT model's family) used by the API, the ``generate`` CLI, the worker and
  :class:`GenerationRequest`, so every entry point gives the same verdict;
- :class:`GenerationRequest`: the engine's request (one dataclass field per parameter of any family, plus ``video``
  and ``reference_image``);
- the API's JSON Schema (:func:`param_schema`) and the CLI's flags (:func:`add_cli_flags`).

Adding a shared parameter = adding one :class:`Param` here (and using it in the engine or the runners). The
diffusion pipeline's ``check_inputs`` stays as the library-level guard, as in diffusers.
"""

from __future__ import annotations

import argparse
import math
import re
from dataclasses import field, make_dataclass, replace
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from .diffusion.windows import DEFAULT_OVERLAP, DEFAULT_WINDOW
from .exceptions import InvalidInput
from .families import (FAMILIES, Family, family_for, families_taking, families_with_slot, load, lora_models,
                       model_names)
from .messages import Message
from .models.loras import (DEFAULT_WEIGHT, FIELD, MAX_LORAS, MAX_WEIGHT, MIN_WEIGHT, LoraChoice, LoraFile,
                           check_choices, read_choices)
from .params import Param
from .settings import Settings

_PY_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool, "array": list}


REQUEST_PARAMS: tuple[Param, ...] = (
    Param("model", "string", "The video model (GET /api/v1/models lists each with its limits and defaults; absent = "
          "the server's default). The other fields are checked against THIS model's bounds.",
          default=lambda s: s.default_model, enum=lambda s: model_names(), example="follow-your-pose"),
    Param("prompt", "string", "What the new character looks like and where it is, in Vietnamese or English "
          "(Vietnamese is translated to English first).", required=True,
          max_length=lambda s: s.prompt_max_chars, example="Cô gái nhảy trên núi"),
    Param("negative_prompt", "string", "What to avoid in the picture (optional; translated like the prompt).",
          max_length=lambda s: s.prompt_max_chars, example="blurry, low quality"),
    Param("translate", "boolean", "Translate a Vietnamese prompt to English before the model reads it (absent = "
          "the model's default: true for Follow-Your-Pose); false = the model reads the text as written."),
    Param("lang", "string", "Language of the prompt: auto-detect, Vietnamese or English. POST /generate also "
          "accepts the first prototype's values 1 (Vietnamese) and 0 (English).", default="auto",
          enum=("auto", "vi", "en"), legacy_values={"1": "vi", "0": "en"},
          cli_help="Language of the prompt: auto-detect, Vietnamese or English."),
    Param("input_type", "string", "What the reference video is: a person filmed (pose is extracted), a ready-made "
          "skeleton video in the training style, or auto-detect.", default="auto",
          enum=("auto", "video", "skeleton")),
    Param("steps", "integer", "Denoising steps (more = slower, finer; absent with a step-distillation LoRA = the "
          "steps it was made for).", default=lambda s: s.steps, minimum=1, maximum=150, aliases=("step",),
          set_by_lora=True),
    Param("guidance_scale", "number", "Classifier-free guidance: how strictly the picture follows the prompt "
          "(1 = off; absent with a step-distillation LoRA = the guidance it was made for).",
          default=lambda s: s.guidance_scale, minimum=1, maximum=30, set_by_lora=True),
    Param("seed", "integer", "Random seed for a reproducible result (absent = random; the one used is reported).",
          minimum=0, maximum=2**32 - 1),
    Param("frames", "integer", "Frames to generate (absent = the server default, capped by the video's length).",
          minimum=1, maximum=lambda s: s.max_output_frames,
          above_max="hint.frames_over_limit",
          cli_help="Frames to generate (absent = as many as the video gives, at most settings.frames, "
                   "TEXT2VIDEO_FRAMES)."),
    Param("stride", "integer", "Use every k-th frame of the reference video (5 = the Follow-Your-Pose default).",
          default=lambda s: s.stride, minimum=1, maximum=60),
    Param("width", "integer", "Output width in pixels, a multiple of the model's size step (GET /api/v1/models).",
          default=lambda s: s.width, minimum=16, maximum=2048, multiple_of=8),
    Param("height", "integer", "Output height in pixels, a multiple of the model's size step (GET /api/v1/models).",
          default=lambda s: s.height, minimum=16, maximum=2048, multiple_of=8),
    Param("scheduler", "string", "Sampler: DDIM (the reference) or DPM-Solver++ (good results in fewer steps).",
          default=lambda s: s.scheduler, enum=("ddim", "dpm++")),
    Param("window", "integer", f"Long videos: frames per denoising window (absent = {DEFAULT_WINDOW}, the clip "
          "length the model was trained on). Videos longer than one window are made in overlapping windows.",
          minimum=2, maximum=lambda s: s.max_output_frames),
    Param("window_overlap", "integer", f"Long videos: frames shared by neighbouring windows (absent = "
          f"{DEFAULT_OVERLAP}); must be smaller than the window.", minimum=0,
          maximum=lambda s: s.max_output_frames - 1),
    Param("anchor_first_frame", "boolean", "Long videos: every window also attends to the video's first frame so "
          "the character keeps one appearance (default true; false only to compare).", default=True,
          flag="--no-anchor", cli_help="Long videos: windows do NOT attend to the video's first frame (only to "
          "compare; without this flag every window does, so the character keeps one appearance)."),
    Param("loras", "array", f"Style LoRAs installed on the server (GET /api/v1/loras), at most {MAX_LORAS}, each "
          f"with a weight from {MIN_WEIGHT:g} to {MAX_WEIGHT:g} (1 = as trained). JSON: a list of \"NAME:WEIGHT\" "
          "or {name, weight}; a form: \"NAME:WEIGHT,NAME2\"; the CLI: --lora NAME[:WEIGHT], repeated. Only installed "
          "names can be used.", max_items=MAX_LORAS, flag="--lora", metavar="NAME[:WEIGHT]",
          cli_help=f"A style LoRA installed in the models folder (`manage.py loras` lists them) with a weight from "
          f"{MIN_WEIGHT:g} to {MAX_WEIGHT:g} (1 = as trained); repeat the flag for several, at most {MAX_LORAS}.",
          items={"oneOf": [{"type": "string", "examples": ["watercolor:0.8"]},
                           {"type": "object", "required": ["name"], "additionalProperties": False,
                            "properties": {"name": {"type": "string"},
                                           "weight": {"type": "number", "minimum": MIN_WEIGHT, "maximum": MAX_WEIGHT,
                                                      "default": DEFAULT_WEIGHT}}}]},
          parse=lambda raw: [choice.to_dict() for choice in read_choices(raw)]),
)
PARAMS_BY_NAME = {p.name: p for p in REQUEST_PARAMS}
PROMPT_FIELDS = ("prompt", "negative_prompt")
# the request keeps which ``set_by_lora`` parameters took their declared default (the caller did not set them), in
# its job row too: a step-distillation LoRA sets those (:func:`lora_defaults`), at submission and in the worker
DEFAULTED = "defaulted"
_BOOL_WORDS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False,
               "off": False}


def _describe(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _bad(param: Param, raw: Any, kind: str, hint: Message, *, shown: Any = None, **params: Any) -> InvalidInput:
    """The field's error as codes (see :mod:`text2video.messages`): ``field.<kind>`` naming the field and the
    value, with its hint."""
    value = _describe(raw) if shown is None else shown
    return InvalidInput(Message("field." + kind, field=param.name, value=value, **params), field=param.name,
                        value=raw, hint=hint)


def _typed(param: Param, raw: Any, settings: Settings, legacy: bool) -> Any:
    """``raw`` (form text or a typed JSON/Python value) as the declared type, or InvalidInput."""
    if param.type == "integer":
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and re.fullmatch(r"\s*[+-]?\d{1,20}\s*", raw):
            return int(raw)
        example = param.resolve("default", settings) or param.resolve("minimum", settings) or 1
        raise _bad(param, raw, "integer", Message("hint.number", example=example))
    if param.type == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _BOOL_WORDS:
            return _BOOL_WORDS[raw.strip().lower()]
        raise _bad(param, raw, "boolean", Message("hint.boolean"))
    if param.type == "number":
        try:
            if isinstance(raw, bool):
                raise TypeError
            value = float(raw.strip()) if isinstance(raw, str) else float(raw)
        except (TypeError, ValueError):
            raise _bad(param, raw, "number", Message("hint.number", example=12.5)) from None
        if not math.isfinite(value):
            raise _bad(param, raw, "finite", Message("hint.number", example=12.5))
        return value
    if not isinstance(raw, str):
        raise _bad(param, raw, "text", Message("hint.text"))
    value = raw.strip() if param.enum or param.format else raw
    if legacy and param.legacy_values and value in param.legacy_values:
        value = param.legacy_values[value]
    return value.lower() if param.enum else value


def _check_bounds(param: Param, raw: Any, value: Any, settings: Settings) -> None:
    lo, hi = param.resolve("minimum", settings), param.resolve("maximum", settings)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        kind = "between" if lo is not None and hi is not None else ("at_least" if lo is not None else "at_most")
        limits = {k: _number(v) for k, v in (("min", lo), ("max", hi)) if v is not None}
        above = hi is not None and value > hi and param.above_max
        raise _bad(param, raw, kind, Message(param.above_max if above else "hint." + kind, **limits), **limits)
    if param.multiple_of and value % param.multiple_of:
        down = max(param.multiple_of, value - value % param.multiple_of)
        raise _bad(param, raw, "multiple", Message("hint.multiple", lower=down, upper=down + param.multiple_of),
                   shown=value, multiple=param.multiple_of)
    enum = param.resolve("enum", settings)
    if enum and value not in enum:
        choices = ", ".join(enum)
        raise _bad(param, raw, "enum", Message("hint.enum", choices=choices), choices=choices)


def coerce(param: Param, raw: Any, settings: Settings, legacy: bool = False) -> Any:
    """One value -> the declared type within its bounds, or InvalidInput naming the field, the value and the fix."""
    if param.parse is not None:
        return param.parse(raw)
    value = _typed(param, raw, settings, legacy)
    _check_bounds(param, raw, value, settings)
    max_len = param.resolve("max_length", settings)
    if param.name in PROMPT_FIELDS:
        from .prompt.validation import validate_prompt  # measures after normalising; no models, no torch

        return validate_prompt(value, field=param.name, max_chars=max_len)
    if max_len is not None and isinstance(value, str) and len(value) > max_len:
        raise _bad(param, raw, "too_long", Message("hint.shorter"), shown=len(value), max=max_len)
    return value


def _unknown_field(key: str, known: Mapping[str, Param]) -> str:
    close = [n for n in known if n.startswith(key[:3])] if len(key) >= 3 else []
    return (f"unknown field {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "") +
            f"; known fields: {', '.join(sorted(known))}")


def default_window(family: Family, settings: Settings) -> int:
    """The window a request of ``family`` gets when it names none: the family's declared default (Wan: 81), else
    the shared parameter's documented one (Follow-Your-Pose's)."""
    declared = family.params(REQUEST_PARAMS)
    window = next((p for p in declared if p.name == "window"), None)
    return (window.resolve("default", settings) if window is not None else None) or DEFAULT_WINDOW


def _window_rule(family: Family, values: dict[str, Any], settings: Settings) -> dict[str, InvalidInput]:
    """The rules across fields of long videos: a window is one model pass, so it follows the model's clip rule
    (Wan: 4k+1); the overlap leaves each window at least one step of new frames (window - the rule's step: 1 for
    Follow-Your-Pose, 4 for Wan, whose windows add whole latent frames)."""
    rule, errors = family.frame_rule, {}
    window = values.get("window")
    if window is not None and not rule.allows(window):
        closest = rule.closest(window)
        errors["window"] = InvalidInput(f"window must be {rule.describe()} frames (one model pass), not {window}; "
                                        f"the closest is {closest}", field="window", value=window,
                                        hint=f"Use window={closest}.")
    window = window or default_window(family, settings)
    overlap, most = values.get("window_overlap"), window - rule.step
    if overlap is not None and overlap > most:
        limit = (f"smaller than the window ({window})" if rule.step == 1 else
                 f"at most {most} (the window, {window}, less {rule.step}: each window adds whole latent frames)")
        errors["window_overlap"] = InvalidInput(f"window_overlap must be {limit}, not {overlap}",
                                                field="window_overlap", value=overlap, hint=f"Use e.g. {window // 3}.")
    return errors


def family_params(family: Family) -> dict[str, Param]:
    """The parameters ``family`` takes: the shared ones narrowed for it (its ``translate`` default too), its own."""
    return {p.name: replace(p, default=family.translate_default) if p.name == "translate" else p
            for p in family.params(REQUEST_PARAMS)}


def all_params() -> dict[str, Param]:
    """Every parameter any registered family takes (the shared ones as declared, then each family's own)."""
    union = dict(PARAMS_BY_NAME)
    for family in FAMILIES.values():
        union.update({p.name: p for p in family.own_params if p.name not in union})
    return union


def published_params(settings: Settings) -> dict[str, Param]:
    """Each parameter as the default model takes it (the bounds a form, the OpenAPI document and ``--help`` show);
    the ones only other models take as their family declares them. Per-model bounds: GET /api/v1/models."""
    try:
        default = family_params(family_for(settings.default_model)[0])
    except KeyError:
        default = {}
    return {name: default.get(name, p) for name, p in all_params().items()}


def _pick_model(data: Mapping[str, Any], settings: Settings, legacy: bool,
                errors: dict[str, InvalidInput | str]) -> tuple[str, Family]:
    """The model the request names (else the settings' default) and its family; a bad name goes into ``errors``
    and the other fields are still judged, by the default model's rules."""
    raw = data.get("model")
    name = settings.default_model
    if raw is not None and not (isinstance(raw, str) and raw.strip() == ""):
        try:
            name = coerce(PARAMS_BY_NAME["model"], raw, settings, legacy)
        except InvalidInput as exc:
            errors["model"] = exc
    try:
        return name, family_for(name)[0]
    except KeyError:
        errors.setdefault("model", InvalidInput(
            f"the server's default model {name!r} is not installed in this code", field="model", value=name,
            hint=f"Set TEXT2VIDEO_DEFAULT_MODEL to one of: {', '.join(model_names())}."))
        return name, next(iter(FAMILIES.values()))


def _not_taken(key: str, name: str, model: str) -> InvalidInput:
    takers = families_taking(name, REQUEST_PARAMS)
    return InvalidInput(f"{name} is not a parameter of {model}; the models that take it: {', '.join(takers)}",
                        field=key, hint=f"Leave {name} out, or choose one of: {', '.join(takers)}.")


def _frame_rule(family: Family, model: str, values: dict[str, Any], settings: Settings) -> InvalidInput | None:
    """The model's frame rule (e.g. 4k+1, Wan: up to one window): the closest allowed count is suggested, never
    silently used."""
    frames = values.get("frames")
    window = values.get("window") or default_window(family, settings)
    if frames is None or family.frame_rule.allows(frames, window):
        return None
    closest = family.frame_rule.closest(frames, window)
    return InvalidInput(f"frames must be {family.frame_rule.describe(window)} for {model}; the closest is "
                        f"{closest}", field="frames", value=frames, hint=f"Use frames={closest}.")


def parse_params(data: Mapping[str, Any], settings: Settings, *, legacy: bool = False,
                 extra: Mapping[str, Param] | None = None) -> dict[str, Any]:
    """Every field of ``data`` checked at once -> {name: value} with the declared defaults filled in (absent
    optional fields stay None); all problems are reported together in one InvalidInput (422).

    ``model`` is read first; every other field is judged by THAT model's family (its narrowed bounds, its own
    parameters, its frame rule); a parameter only other families take is refused naming them. Parameters of
    other families come back as None. ``legacy``: also accept the old /generate names and values. ``extra``:
    further fields the caller accepts (the API's video_url...). Unknown fields are refused (a typo such as
    ``step`` would otherwise be ignored).
    """
    errors: dict[str, InvalidInput | str] = {}
    model, family = _pick_model(data, settings, legacy, errors)
    known = {**family_params(family), **(extra or {})}
    everything = {**all_params(), **(extra or {})}
    aliases = {a: p.name for p in known.values() for a in p.aliases} if legacy else {}
    values: dict[str, Any] = {}
    for key, raw in data.items():
        name = aliases.get(key, key)
        if name == "model":
            continue
        if name not in everything:
            errors[key] = _unknown_field(key, everything)
        elif name in values:
            errors[key] = f"{name} was given twice (as {key!r} and under another name)"
        elif raw is None or (isinstance(raw, str) and raw.strip() == "" and name != "prompt"):
            continue  # an empty form field means "not given"
        elif name not in known:
            errors[key] = _not_taken(key, name, model)
        else:
            try:
                values[name] = coerce(known[name], raw, settings, legacy)
            except InvalidInput as exc:
                errors[key] = exc
    crossed = {**_window_rule(family, values, settings), "frames": _frame_rule(family, model, values, settings)}
    for field_name, rule in crossed.items():
        if rule is not None and field_name not in errors:
            errors[field_name] = rule
    for p in known.values():
        if p.required and p.name not in values and p.name not in errors:
            errors[p.name] = Message("error.prompt_required")
    _raise_errors(errors, data)
    return {**{name: None for name in everything},
            **{p.name: values.get(p.name, p.resolve("default", settings)) for p in known.values()}, "model": model,
            DEFAULTED: [p.name for p in known.values() if p.set_by_lora and p.name not in values]}


def check_slots(model: str, slots: Iterable[str]) -> None:
    """Refuse an input file (``reference_image``...) that ``model``'s family does not take, naming those that do."""
    family = family_for(model)[0]
    for slot in slots:
        if family.slot(slot) is None:
            takers = families_with_slot(slot)
            raise InvalidInput(f"{slot} is not an input of {model}; the models that take it: "
                               f"{', '.join(takers) or '(none yet)'}", field=slot,
                               hint=f"Leave {slot} out" + (f", or choose one of: {', '.join(takers)}." if takers
                                                            else "."))


def check_loras(model: str, raw: Any, models_dir: str | Path) -> list[tuple[LoraChoice, LoraFile]]:
    """The request's LoRAs, each with its installed file, checked to fit ``model``: its family's kind of LoRA and
    its variant's width; InvalidInput (422 on ``loras``) naming the file and the family or model it fits. One
    check for the API (at submission) and the engine."""
    family, variant = family_for(model)
    resolved = check_choices(raw, models_dir)
    for choice, file in resolved:
        if file.fits != family.lora_format:
            fitting = [f for f in FAMILIES.values() if f.lora_format == file.fits]
            takers = lora_models(file.fits, file.width)
            raise InvalidInput(Message("error.lora_other_family", file=file.path.name, model=model,
                                       fits=" / ".join(f.title for f in fitting) or file.fits,
                                       takes=family.title), field=FIELD, value=choice.name,
                               hint=Message("hint.lora_other_family", name=choice.name, model=model,
                                            models=", ".join(takers) or "another model"))
        made_for = next((v.name for v in family.variants if file.width and v.lora_width == file.width), None)
        if made_for is not None and made_for != variant.name:  # another size of this model (14B on the 1.3B)
            raise InvalidInput(Message("error.lora_other_size", file=file.path.name, made_for=made_for,
                                       width=file.width, model=model, expected=variant.lora_width),
                               field=FIELD, value=choice.name,
                               hint=Message("hint.lora_other_size", model=model, name=choice.name))
    return resolved


def lora_defaults(model: str, resolved: Iterable[tuple[LoraChoice, LoraFile]],
                  defaulted: Iterable[str]) -> tuple[dict[str, Any], list[Message]]:
    """({parameter: value}, warnings): what the first step-distillation LoRA among ``resolved`` was made for, for
    the ``defaulted`` parameters only (the ones the caller set keep their values)."""
    family = family_for(model)[0]
    defaulted = set(defaulted)
    if family.lora_defaults is None or not defaulted:
        return {}, []
    recommend = load(family.lora_defaults)
    for _, file in resolved:
        found = recommend(file.path)
        values = {k: v for k, v in (found[1] if found else {}).items() if k in defaulted}
        if values:
            said = ", ".join(f"{name} {_number(value)}" for name, value in values.items())
            return values, [Message("lora.distilled_defaults", lora=file.name, kind=found[0], values=said)]
    return {}, []


def _raise_errors(errors: Mapping[str, InvalidInput | str], data: Mapping[str, Any]) -> None:
    if not errors:
        return
    messages = {key: err.text() if isinstance(err, InvalidInput) else err for key, err in errors.items()}
    if len(errors) > 1:
        raise InvalidInput(f"{len(errors)} fields are invalid: {', '.join(errors)}", errors=messages)
    (key, err), = errors.items()
    if isinstance(err, InvalidInput):
        raise InvalidInput(err.message, field=key, value=data.get(key), hint=err.hint, errors=messages)
    raise InvalidInput(err, field=key, value=data.get(key))


# --- the engine's request --------------------------------------------------------------------------------------

def _validate(self: Any, settings: Optional[Settings] = None) -> Any:
    """Check every field (the same :func:`parse_params` as the API and the CLI) and fill in the defaults of
    ``settings`` and of the request's model; raises :class:`InvalidInput` naming the field, the value and the
    fix. Returns self."""
    settings = settings if settings is not None else Settings.load()
    given = {name: getattr(self, name) for name in all_params() if hasattr(self, name)}
    kept = set(getattr(self, DEFAULTED, None) or ())  # a job row's: its values were filled in at submission
    for name, value in parse_params(given, settings).items():
        setattr(self, name, value)
    setattr(self, DEFAULTED, sorted(kept | set(getattr(self, DEFAULTED))))
    self.video = _input_file(self.video, "video", "video")
    if self.reference_image is not None:
        check_slots(self.model, ["reference_image"])
        self.reference_image = _input_file(self.reference_image, "reference_image", "image")
    return self


def check_frames_available(frames: int | None, stride: int, video: Any, target_fps: float | None = None) -> int:
    """The frames the probed ``video`` gives with ``stride`` (or sampled at ``target_fps``); refuses (422 on
    ``frames``, naming that number) a ``frames`` above it when the video's frame count is exact. One rule for the
    API (at submission) and the engine."""
    from .video import sampled_frame_count

    available = sampled_frame_count(video, stride, target_fps)
    if frames is not None and video.frame_count_exact and available < frames:
        raise InvalidInput(Message("error.too_few_frames_of", available=available, stride=stride,
                                   total=video.frame_count, frames=frames),
                           field="frames", value=frames, hint=Message("hint.too_few_frames_of", available=available))
    return available


def _input_file(path: Any, field_name: str, kind: str) -> Path:
    path = Path(path)
    if not path.is_file():
        problem = f"{kind} file not found" if not path.exists() else "not a file"
        raise InvalidInput(f"{problem}: {str(path)!r}", field=field_name, value=str(path),
                           hint=f"Give the path of {'an' if kind[0] in 'aeiou' else 'a'} {kind} file.")
    return path


def _request_fields() -> list[tuple[str, Any, Any]]:
    # Every default stays None until validate(settings) fills in the request model's own.
    optional = [p for p in all_params().values() if not p.required]
    return [*((p.name, Optional[_PY_TYPES[p.type]], field(default=None)) for p in optional),
            ("reference_image", Optional[Path], field(default=None)),
            (DEFAULTED, Optional[list], field(default=None))]


GenerationRequest = make_dataclass(
    "GenerationRequest",
    [("video", Path), *((p.name, _PY_TYPES[p.type]) for p in REQUEST_PARAMS if p.required), *_request_fields()],
    namespace={"validate": _validate,
               "__doc__": "One generation request: ``video`` (a raw video of a person or a skeleton video), "
                          "``reference_image`` (a character photo, for the models that take one) and one field per "
                          "parameter of any family (None = the request model's default / absent).",
               "__module__": __name__})


def request_from_params(video: Path, params: Mapping[str, Any], settings: Settings,
                        reference_image: Path | None = None) -> Any:
    """A :class:`GenerationRequest` from a {name: value} mapping (a job's row, CLI flags); other keys are
    ignored and what it lacks stays None. Not validated: ``validate(settings)`` checks it and fills in the
    defaults of its model (the engine does)."""
    names = [f.name for f in dataclass_fields(GenerationRequest) if f.name not in ("video", "reference_image")]
    # (the job row's ``defaulted`` too: which set_by_lora parameters the submission left to their defaults)
    return GenerationRequest(video=Path(video), reference_image=reference_image,
                             **{name: params.get(name) for name in names})


# --- derived documents: JSON Schema and CLI flags ---------------------------------------------------------------

def param_schema(param: Param, settings: Settings, *, form: bool = False) -> dict[str, Any]:
    """``form``: a multipart form sends one text per field, so a list goes as comma-separated items."""
    if form and param.type == "array":
        return {"type": "string", "description": param.description}
    schema: dict[str, Any] = {"type": param.type, "description": param.description}
    for attr, key in (("minimum", "minimum"), ("maximum", "maximum"), ("max_length", "maxLength"),
                      ("default", "default")):
        value = param.resolve(attr, settings)
        if value is not None:
            schema[key] = value
    if param.multiple_of:
        schema["multipleOf"] = param.multiple_of
    if param.items is not None:
        schema["items"] = dict(param.items)
    if param.max_items is not None:
        schema["maxItems"] = param.max_items
    if param.enum:
        schema["enum"] = list(param.resolve("enum", settings))
    if param.format:
        schema["format"] = param.format
    if param.example is not None:
        schema["examples"] = [param.example]
    if param.name in PROMPT_FIELDS:
        schema["minLength"] = 1
    return schema


def _cli_help(p: Param, settings: Settings) -> str:
    facts = []
    default = p.resolve("default", settings)
    if p.enum:
        facts.append("one of " + ", ".join(p.resolve("enum", settings)))
    lo, hi = p.resolve("minimum", settings), p.resolve("maximum", settings)
    if lo is not None and hi is not None:
        facts.append(f"{_number(lo)}..{_number(hi)}" + (f", a multiple of {p.multiple_of}" if p.multiple_of else ""))
    if default is not None and p.type != "boolean":
        facts.append(f"default {default}")
    return (p.cli_help or p.description).replace("%", "%%") + (f" ({'; '.join(facts)})" if facts else "")


def add_cli_flags(parser: argparse.ArgumentParser, settings: Settings) -> None:
    """One flag per parameter; values stay text (None = not given) so :func:`parse_params` judges them exactly
    as it judges a form field, with the same messages."""
    declared = all_params()
    for p in published_params(settings).values():  # the help shows the default model's bounds
        dest, help_text = p.name, _cli_help(p, settings)
        if p.type == "boolean" and declared[p.name].default is None:  # the model's default: both ways can be said
            parser.add_argument(p.cli_flag, dest=dest, action=argparse.BooleanOptionalAction, default=None,
                                help=help_text)
        elif p.type == "boolean":
            parser.add_argument(p.cli_flag, dest=dest, action="store_const", const=not p.default, default=None,
                                help=help_text)
        elif p.type == "array":
            parser.add_argument(p.cli_flag, dest=dest, action="append", default=None,
                                metavar=p.metavar or p.name.upper(), help=help_text)
        else:
            metavar = p.metavar or ("{" + ",".join(p.resolve("enum", settings)) + "}" if p.enum else p.name.upper())
            parser.add_argument(p.cli_flag, dest=dest, required=p.required, default=None, metavar=metavar,
                                help=help_text)


def cli_params(args: argparse.Namespace) -> dict[str, Any]:
    """The request parameters given on the command line (flags left out are absent)."""
    return {name: getattr(args, name) for name in all_params() if getattr(args, name, None) is not None}


__all__ = ["Param", "REQUEST_PARAMS", "PARAMS_BY_NAME", "PROMPT_FIELDS", "GenerationRequest", "parse_params",
           "coerce", "request_from_params", "param_schema", "add_cli_flags", "cli_params", "family_params",
           "all_params", "check_slots", "published_params", "default_window", "check_loras", "lora_defaults",
           "DEFAULTED"]
