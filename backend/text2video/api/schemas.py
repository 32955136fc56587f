"""The ONE definition of the job-create parameters: it validates requests and generates the OpenAPI schemas.

Each :class:`Param` names its type, bounds, default, allowed values and description. Bounds and defaults that an
operator can configure (prompt length, frame cap, default steps...) are callables of the :class:`Settings`, so the
published document always matches what the server enforces.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..exceptions import InvalidInput
from ..messages import Message
from ..settings import Settings

Value = Any
Dynamic = Callable[[Settings], Any]


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # "string" | "integer" | "number" | "boolean"
    description: str
    default: Value | Dynamic = None  # None = absent (the engine decides, e.g. a random seed)
    minimum: float | Dynamic | None = None
    maximum: float | Dynamic | None = None
    multiple_of: int | None = None
    enum: tuple[str, ...] | None = None
    max_length: int | Dynamic | None = None
    required: bool = False
    format: str | None = None  # "uri"
    example: Any = None
    aliases: tuple[str, ...] = ()  # older names accepted by POST /generate (the first prototype's form)
    legacy_values: Mapping[str, str] | None = None  # older values accepted by POST /generate (lang 0/1)
    in_params: bool = True  # stored in job.params (prompt/urls have their own columns)

    def resolve(self, attr: str, settings: Settings) -> Any:
        value = getattr(self, attr)
        return value(settings) if callable(value) else value


JOB_PARAMS: tuple[Param, ...] = (
    Param("prompt", "string", "What the new character looks like and where it is, in Vietnamese or English "
          "(Vietnamese is translated to English first).", required=True, in_params=False,
          max_length=lambda s: s.prompt_max_chars, example="Cô gái nhảy trên núi"),
    Param("negative_prompt", "string", "What to avoid in the picture (optional; translated like the prompt).",
          in_params=False, max_length=lambda s: s.prompt_max_chars, example="blurry, low quality"),
    Param("lang", "string", "Language of the prompt: auto-detect, Vietnamese or English. POST /generate also "
          "accepts the first prototype's values 1 (Vietnamese) and 0 (English).", default="auto",
          enum=("auto", "vi", "en"), legacy_values={"1": "vi", "0": "en"}),
    Param("input_type", "string", "What the reference video is: a person filmed (pose is extracted), a ready-made "
          "skeleton video in the training style, or auto-detect.", default="auto",
          enum=("auto", "video", "skeleton")),
    Param("steps", "integer", "Denoising steps (more = slower, finer).", default=lambda s: s.steps,
          minimum=1, maximum=150, aliases=("step",)),
    Param("guidance_scale", "number", "Classifier-free guidance: how strictly the picture follows the prompt.",
          default=lambda s: s.guidance_scale, minimum=1, maximum=30),
    Param("seed", "integer", "Random seed for a reproducible result (absent = random; the one used is reported).",
          minimum=0, maximum=2**32 - 1),
    Param("frames", "integer", "Frames to generate (absent = the server default, capped by the video's length).",
          minimum=1, maximum=lambda s: s.max_output_frames),
    Param("stride", "integer", "Use every k-th frame of the reference video (5 = the Follow-Your-Pose default).",
          default=lambda s: s.stride, minimum=1, maximum=60),
    Param("width", "integer", "Output width in pixels, a multiple of 64.", default=lambda s: s.width,
          minimum=64, maximum=1024, multiple_of=64),
    Param("height", "integer", "Output height in pixels, a multiple of 64.", default=lambda s: s.height,
          minimum=64, maximum=1024, multiple_of=64),
    Param("scheduler", "string", "Sampler: DDIM (the reference) or DPM-Solver++ (good results in fewer steps).",
          default=lambda s: s.scheduler, enum=("ddim", "dpm++")),
    Param("window", "integer", "Long videos: frames per denoising window (absent = 24, the clip length the model "
          "was trained on). Videos longer than one window are made in overlapping windows.", minimum=2,
          maximum=lambda s: s.max_output_frames),
    Param("window_overlap", "integer", "Long videos: frames shared by neighbouring windows (absent = 8); must be "
          "smaller than the window.", minimum=0, maximum=lambda s: s.max_output_frames - 1),
    Param("anchor_first_frame", "boolean", "Long videos: every window also attends to the video's first frame so "
          "the character keeps one appearance (default true; false only to compare).", default=True),
    Param("video_url", "string", "Public http(s) URL of the reference video, instead of uploading `video` "
          "(downloaded by the server; private and local addresses are refused).", format="uri", in_params=False,
          max_length=2048, example="https://example.com/dance.mp4"),
    Param("callback_url", "string", "Public http(s) URL that receives the job JSON when it succeeds, fails or is "
          "canceled (signed with the Standard Webhooks scheme).", format="uri", in_params=False, max_length=2048),
)
PARAMS_BY_NAME = {p.name: p for p in JOB_PARAMS}
# POST /generate: the first prototype's form also sent `id` (the caller's own reference; echoed in params.client_id)
CLIENT_ID = Param("id", "string", "Your own reference for this request (echoed back as params.client_id).",
                  max_length=128)

VIDEO_EXTENSIONS = ("mp4", "mov", "avi", "mkv", "webm", "wmv", "m4v")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass
class JobRequest:
    """A validated job-create request (everything but the video itself)."""

    prompt: str
    negative_prompt: str | None
    params: dict[str, Any]  # steps, guidance_scale, seed, frames, stride, width, height, scheduler, lang, input_type
    video_url: str | None
    callback_url: str | None


def _describe(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


def _coerce(param: Param, raw: Any, settings: Settings, legacy: bool) -> Any:
    """One value from a form (strings) or JSON (typed) -> the declared type, or InvalidInput naming the field."""
    name = param.name

    def bad(code: str, hint: Message, value: Any = raw, **params: Any) -> InvalidInput:
        """The field's error as codes: ``field.<kind>`` (naming the field and the value) + its hint."""
        shown = _describe(value) if value is raw else value
        return InvalidInput(Message("field." + code, field=name, value=shown, **params), field=name, value=raw,
                            hint=hint)

    if param.type == "integer":
        if isinstance(raw, bool):
            raise bad("integer", Message("hint.number", example=50))
        if isinstance(raw, float) and raw.is_integer():
            raw_value = int(raw)
        elif isinstance(raw, int):
            raw_value = raw
        elif isinstance(raw, str) and re.fullmatch(r"\s*[+-]?\d{1,20}\s*", raw):
            raw_value = int(raw)
        else:
            raise bad("integer", Message("hint.number", example=param.resolve("default", settings)
                                         or param.resolve("minimum", settings) or 1))
        value: Any = raw_value
    elif param.type == "boolean":
        words = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False,
                 "off": False}
        if isinstance(raw, bool):
            value = raw
        elif isinstance(raw, str) and raw.strip().lower() in words:
            value = words[raw.strip().lower()]
        else:
            raise bad("boolean", Message("hint.boolean"))
    elif param.type == "number":
        if isinstance(raw, bool):
            raise bad("number", Message("hint.number", example=12.5))
        try:
            value = float(raw.strip()) if isinstance(raw, str) else float(raw)
        except (TypeError, ValueError):
            raise bad("number", Message("hint.number", example=12.5)) from None
        if not math.isfinite(value):
            raise bad("finite", Message("hint.number", example=12.5))
    else:
        if not isinstance(raw, str):
            raise bad("text", Message("hint.text"))
        value = raw.strip() if param.enum or param.format else raw
        if legacy and param.legacy_values and value in param.legacy_values:
            value = param.legacy_values[value]
        if param.enum:
            value = value.lower()
    lo, hi = param.resolve("minimum", settings), param.resolve("maximum", settings)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        kind = "between" if lo is not None and hi is not None else ("at_least" if lo is not None else "at_most")
        limits = {k: f"{v:g}" for k, v in (("min", lo), ("max", hi)) if v is not None}
        raise bad(kind, Message("hint." + kind, **limits), **limits)
    if param.multiple_of and value % param.multiple_of:
        down = max(param.multiple_of, value - value % param.multiple_of)
        raise bad("multiple", Message("hint.multiple", lower=down, upper=down + param.multiple_of), value=value,
                  multiple=param.multiple_of)
    if param.enum and value not in param.enum:
        raise bad("enum", Message("hint.enum", choices=", ".join(param.enum)), choices=", ".join(param.enum))
    max_len = param.resolve("max_length", settings)
    # prompts: the prompt stage's validator measures them after normalising (see _check_prompt)
    if max_len is not None and isinstance(value, str) and len(value) > max_len and not name.endswith("prompt"):
        raise bad("too_long", Message("hint.shorter"), value=len(value), max=max_len)
    return value


def _check_prompt(text: str, field: str, max_chars: int) -> str:
    """Empty / over-long / control characters -> InvalidInput naming the field (the prompt stage's own check when
    it is installed, so the API and the CLI refuse the same prompts)."""
    try:
        from ..prompt import validate_prompt  # the prompt stage's validator (no models needed)
    except ImportError:
        validate_prompt = None
    if validate_prompt is not None:
        result = validate_prompt(text, field=field, max_chars=max_chars)
        return result if isinstance(result, str) else text.strip()
    stripped = unicodedata.normalize("NFC", text).strip()
    if not stripped:
        raise InvalidInput(f"{field} is empty", field=field, value=text,
                           hint="Describe the character and the scene, e.g. \"a girl dancing on a mountain\".")
    if len(stripped) > max_chars:
        raise InvalidInput(f"{field} is {len(stripped)} characters long, over the limit of {max_chars}",
                           field=field, value=stripped[:40] + "...", hint="Shorten it.")
    if _CONTROL.search(stripped):
        raise InvalidInput(f"{field} contains control characters", field=field, value=stripped[:40],
                           hint="Remove them (tabs and new lines are allowed).")
    return stripped


def validate_job_request(data: Mapping[str, Any], settings: Settings, *, legacy: bool = False,
                         extra: Mapping[str, Param] | None = None) -> JobRequest:
    """Validate every field of a job-create request at once; all problems are reported together (422).

    ``data``: form fields (strings) or a JSON object. ``legacy``: also accept the old /generate names and values.
    Unknown fields are refused (a typo such as ``step`` on /api/v1/jobs would otherwise be silently ignored).
    """
    known = dict(PARAMS_BY_NAME)
    known.update(extra or {})
    aliases = {a: p.name for p in JOB_PARAMS for a in p.aliases} if legacy else {}
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for key, raw in data.items():
        name = aliases.get(key, key)
        if name not in known:
            close = [n for n in known if n.startswith(key[:3])] if len(key) >= 3 else []
            errors[key] = (f"unknown field {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "") +
                           f"; known fields: {', '.join(sorted(known))}")
            continue
        if name in values:
            errors[key] = f"{name} was given twice (as {key!r} and under another name)"
            continue
        if raw is None or (isinstance(raw, str) and raw.strip() == "" and name != "prompt"):
            continue  # an empty form field means "not given"
        try:
            values[name] = _coerce(known[name], raw, settings, legacy)
        except InvalidInput as exc:
            errors[key] = exc.text()
    for name in ("prompt", "negative_prompt"):
        if name in values and name not in errors:
            try:
                values[name] = _check_prompt(values[name], name, settings.prompt_max_chars)
            except InvalidInput as exc:
                errors[name] = exc.text()
    if "window_overlap" in values and "window_overlap" not in errors:
        window = values.get("window", 24)  # the pipeline's default window (diffusion/windows.py)
        if values["window_overlap"] >= window:
            errors["window_overlap"] = (f"window_overlap must be smaller than the window ({window}), not "
                                        f"{values['window_overlap']}; use e.g. {window // 3}")
    if "prompt" not in values and "prompt" not in errors:
        errors["prompt"] = Message("error.prompt_required")
    if errors:
        if len(errors) == 1:
            (field, message), = errors.items()
            raise InvalidInput(message, field=field, value=data.get(field))
        raise InvalidInput(f"{len(errors)} fields are invalid: {', '.join(errors)}", errors=errors)
    params: dict[str, Any] = {}
    for p in JOB_PARAMS:
        if not p.in_params:
            continue
        value = values.get(p.name, p.resolve("default", settings))
        if value is not None:
            params[p.name] = value
    for name, p in (extra or {}).items():
        if name in values:
            params["client_id" if name == "id" else name] = values[name]
    return JobRequest(prompt=values["prompt"], negative_prompt=values.get("negative_prompt"), params=params,
                      video_url=values.get("video_url"), callback_url=values.get("callback_url"))


# --- OpenAPI ------------------------------------------------------------------------------------------------------

def param_schema(param: Param, settings: Settings) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": param.type, "description": param.description}
    for attr, key in (("minimum", "minimum"), ("maximum", "maximum"), ("max_length", "maxLength"),
                      ("default", "default")):
        value = param.resolve(attr, settings)
        if value is not None:
            schema[key] = value
    if param.multiple_of:
        schema["multipleOf"] = param.multiple_of
    if param.enum:
        schema["enum"] = list(param.enum)
    if param.format:
        schema["format"] = param.format
    if param.example is not None:
        schema["examples"] = [param.example]
    if param.name in ("prompt", "negative_prompt"):
        schema["minLength"] = 1
    return schema


def request_schema(settings: Settings, *, multipart: bool, legacy: bool = False) -> dict[str, Any]:
    props = {p.name: param_schema(p, settings) for p in JOB_PARAMS}
    if multipart:
        props["video"] = {"type": "string", "format": "binary", "contentMediaType": "video/*",
                          "description": f"The reference video ({', '.join(VIDEO_EXTENSIONS)}; at most "
                                         f"{settings.max_upload_mb} MB, {settings.max_video_seconds:g} s, "
                                         f"{settings.max_video_fps:g} fps). Give `video` or `video_url`.",
                          # the same limits, machine-readable (the web UI checks a file before uploading it)
                          "x-extensions": list(VIDEO_EXTENSIONS), "x-max-upload-mb": settings.max_upload_mb,
                          "x-max-seconds": settings.max_video_seconds, "x-max-fps": settings.max_video_fps,
                          "x-max-pixels": settings.max_video_pixels}
    if legacy:
        props["video"] = {"description": "The reference video: a file, or its URL as text.",
                          "oneOf": [{"type": "string", "format": "binary"}, {"type": "string", "format": "uri"}]}
        for p in JOB_PARAMS:
            for alias in p.aliases:
                props[alias] = dict(param_schema(p, settings), description=f"Old name of `{p.name}`.")
            if p.legacy_values:
                props[p.name]["enum"] = list(p.enum or ()) + list(p.legacy_values)
        props["id"] = param_schema(CLIENT_ID, settings)
    return {"type": "object", "required": ["prompt"], "properties": props, "additionalProperties": False}


__all__ = ["Param", "JOB_PARAMS", "PARAMS_BY_NAME", "CLIENT_ID", "JobRequest", "validate_job_request",
           "param_schema", "request_schema", "VIDEO_EXTENSIONS"]
