"""The job-create request over HTTP: the generation parameters of :mod:`text2video.request` plus what only the API
takes (``video_url``, ``callback_url``, the old form's ``id``), validated together, and their OpenAPI schemas.

Bounds and defaults an operator can configure are callables of the :class:`Settings`, so the published document
always matches what the server enforces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..families import FAMILIES, families_with_slot
from ..request import (DEFAULTED, PROMPT_FIELDS, REQUEST_PARAMS, Param, all_params, family_params, param_schema,
                       parse_params, published_params)
from ..settings import Settings
from ..video.image import IMAGE_EXTENSIONS

# Fields of POST /api/v1/jobs beyond the generation parameters (stored in their own columns, not in job.params).
URL_PARAMS: tuple[Param, ...] = (
    Param("video_url", "string", "Public http(s) URL of the reference video, instead of uploading `video` "
          "(downloaded by the server; private and local addresses are refused).", format="uri",
          max_length=2048, example="https://example.com/dance.mp4"),
    Param("reference_image_url", "string", "Public http(s) URL of a character photo (PNG, JPEG or WebP), instead "
          "of uploading `reference_image`; only the models that take one (GET /api/v1/models: slots).",
          format="uri", max_length=2048, example="https://example.com/character.png"),
    Param("callback_url", "string", "Public http(s) URL that receives the job JSON when it succeeds, fails or is "
          "canceled (signed with the Standard Webhooks scheme).", format="uri", max_length=2048),
)
# POST /generate: the first prototype's form also sent `id` (the caller's own reference; echoed in params.client_id)
CLIENT_ID = Param("id", "string", "Your own reference for this request (echoed back as params.client_id).",
                  max_length=128)

VIDEO_EXTENSIONS = ("mp4", "mov", "avi", "mkv", "webm", "wmv", "m4v")


@dataclass
class JobRequest:
    """A validated job-create request (everything but the video itself)."""

    prompt: str
    negative_prompt: str | None
    params: dict[str, Any]  # steps, guidance_scale, seed, frames, stride, width, height, scheduler, lang, input_type
    video_url: str | None
    callback_url: str | None
    model: str = ""
    reference_image_url: str | None = None


def validate_job_request(data: Mapping[str, Any], settings: Settings, *, legacy: bool = False) -> JobRequest:
    """Validate every field of a job-create request at once; all problems are reported together (422).

    ``data``: form fields (strings) or a JSON object. ``legacy``: POST /generate's old names and values, and `id`.
    """
    extra = {p.name: p for p in URL_PARAMS + ((CLIENT_ID,) if legacy else ())}
    values = parse_params(data, settings, legacy=legacy, extra=extra)
    params = {name: values[name] for name in all_params()
              if name not in PROMPT_FIELDS and name != "model" and values[name] is not None}
    if values[DEFAULTED] and params.get("loras"):
        params[DEFAULTED] = values[DEFAULTED]  # the worker's engine applies a distillation LoRA's values to these
    if values.get("id") is not None:
        params["client_id"] = values["id"]
    return JobRequest(prompt=values["prompt"], negative_prompt=values["negative_prompt"], params=params,
                      video_url=values["video_url"], callback_url=values["callback_url"], model=values["model"],
                      reference_image_url=values["reference_image_url"])


def _per_model_schemas(settings: Settings) -> dict[str, Any]:
    return {variant.name: {name: param_schema(p, settings) for name, p in family_params(family).items()}
            for family in FAMILIES.values() for variant in family.variants}


def request_schema(settings: Settings, *, multipart: bool, legacy: bool = False) -> dict[str, Any]:
    published = published_params(settings)  # the default model's bounds; each model's under x-models
    props = {p.name: param_schema(p, settings, form=multipart) for p in (*published.values(), *URL_PARAMS)}
    if multipart:
        props["reference_image"] = {
            "type": "string", "format": "binary", "contentMediaType": "image/*",
            "description": f"A character photo (PNG, JPEG or WebP; at most {settings.max_image_mb:g} MB and "
                           f"{settings.max_image_pixels} pixels; EXIF orientation applied), for the models that "
                           f"take one: {', '.join(families_with_slot('reference_image')) or 'none installed'}.",
            "x-extensions": list(IMAGE_EXTENSIONS), "x-max-upload-mb": settings.max_image_mb,
            "x-max-pixels": settings.max_image_pixels}
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
        for p in published.values():
            for alias in p.aliases:
                props[alias] = dict(param_schema(p, settings), description=f"Old name of `{p.name}`.")
            if p.legacy_values:
                props[p.name]["enum"] = list(p.enum or ()) + list(p.legacy_values)
        props["id"] = param_schema(CLIENT_ID, settings)
    return {"type": "object", "required": [p.name for p in REQUEST_PARAMS if p.required], "properties": props,
            "additionalProperties": False, "x-models": _per_model_schemas(settings)}


__all__ = ["URL_PARAMS", "CLIENT_ID", "JobRequest", "validate_job_request", "request_schema", "VIDEO_EXTENSIONS"]
