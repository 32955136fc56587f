"""``GET /api/v1/models``: the model families this service declares, which are installed here (their weights in
the models folder; ``demo`` has them all), their variants, capabilities and limits. All of it is read from the
families' declarations (:mod:`text2video.families`) and the request's parameters narrowed for each."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from ..families import FAMILIES, Family
from ..models.layout import models_root
from ..request import default_window, family_params, param_schema
from ..settings import Settings
from .auth import require_key
from .services import get_settings

bp = Blueprint("models", __name__, url_prefix="/api/v1/models")


def _limits(family: Family, settings: Settings) -> dict[str, Any]:
    """Frame rule, size multiples, bounds and defaults of the numeric parameters as this family takes them."""
    params = family_params(family)
    rule = family.frame_rule
    window = default_window(family, settings) if "window" in params else None
    frame_rule = {"step": rule.step, "offset": rule.offset, "text": rule.describe(window)}
    if rule.any_above_window:  # the rule holds up to the request's window; any count above it
        frame_rule["any_above_window"] = True
    limits: dict[str, Any] = {"frame_rule": frame_rule,
                              "size_multiple": params["width"].multiple_of if "width" in params else None,
                              "default_frames": family.default_frames or settings.frames,
                              "default_fps": family.default_fps, "prompt_tokens": family.prompt_tokens}
    for name, p in params.items():
        if p.type in ("integer", "number"):
            limits[name] = {k: v for k, v in (("minimum", p.resolve("minimum", settings)),
                                              ("maximum", p.resolve("maximum", settings)),
                                              ("multiple_of", p.multiple_of),
                                              ("default", p.resolve("default", settings))) if v is not None}
    return limits


def describe_family(family: Family, settings: Settings) -> dict[str, Any]:
    root = models_root(settings.models_dir)
    variants = [{"name": v.name, "title": v.title, "description": v.description, "vram_gb": v.vram_gb,
                 "licence": v.licence, "installed": v.installed(root)} for v in family.variants]
    params = family_params(family)
    return {"name": family.name, "title": family.title, "installed": any(v["installed"] for v in variants),
            "variants": variants, "capabilities": family.capabilities(),
            "slots": [{"name": s.name, "kind": s.kind, "required": s.required, "description": s.description}
                      for s in family.slots],
            "translate_default": family.translate_default, "limits": _limits(family, settings),
            "params": {name: param_schema(p, settings) for name, p in params.items()},
            "refuses": list(family.refuses)}


@bp.get("")
@require_key
def list_models():
    settings = get_settings()
    return jsonify({"default": settings.default_model,
                    "families": [describe_family(f, settings) for f in FAMILIES.values()]})


MODELS_SCHEMA = {"type": "object", "required": ["default", "families"], "properties": {
    "default": {"type": "string", "description": "The model of a request that names none"},
    "families": {"type": "array", "items": {"type": "object", "required": ["name", "installed", "variants"],
                                            "properties": {
        "name": {"type": "string"}, "title": {"type": "string"},
        "installed": {"type": "boolean", "description": "Its weights are in this server's models folder"},
        "variants": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string", "description": "What a job's `model` names"}, "title": {"type": "string"},
            "description": {"type": "string"}, "vram_gb": {"type": "number"}, "licence": {"type": "string"},
            "installed": {"type": "boolean"}}}},
        "capabilities": {"type": "object", "properties": {
            "slots": {"type": "array", "items": {"type": "string"}}, "loras": {"type": "boolean"},
            "preview": {"type": "boolean"}, "long_video": {"type": "boolean"}}},
        "slots": {"type": "array", "items": {"type": "object"}},
        "translate_default": {"type": "boolean"},
        "limits": {"type": "object", "description": "Frame rule, size multiple, bounds and defaults"},
        "params": {"type": "object", "description": "The JSON Schema of each parameter it takes"},
        "refuses": {"type": "array", "items": {"type": "string"}}}}}}}

__all__ = ["bp", "describe_family", "MODELS_SCHEMA"]
