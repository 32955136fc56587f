"""The model families this service can run: one registration line each (:data:`FAMILIES`).

A family is one folder with one declaration (``FAMILY``, a :class:`~.base.Family`); the request's parameters and
their bounds, the API's schema, the CLI's flags, worker routing, download, doctor and ``GET /api/v1/models`` are all
derived from these declarations. Adding a family = its folder + one line below.
"""

from __future__ import annotations

from pathlib import Path

from .base import Family, FrameRule, Ref, RunInputs, Runner, Slot, Variant, load
from .follow_your_pose import FAMILY as FOLLOW_YOUR_POSE
from .wan_vace import FAMILY as WAN_VACE

# name -> declaration, in the order they are listed (the first is not the default: settings.default_model is)
FAMILIES: dict[str, Family] = {family.name: family for family in (
    FOLLOW_YOUR_POSE,
    WAN_VACE,
)}


def model_names() -> tuple[str, ...]:
    """Every model name a request may give (``model``): the variants of every family."""
    return tuple(v.name for family in FAMILIES.values() for v in family.variants)


def family_for(model: str) -> tuple[Family, Variant]:
    """The family and variant of a model name; KeyError for an unknown one."""
    for family in FAMILIES.values():
        for variant in family.variants:
            if variant.name == model:
                return family, variant
    raise KeyError(model)


def families_with_slot(slot: str) -> list[str]:
    """Model names whose family accepts the input ``slot`` (for the error refusing it elsewhere)."""
    return [v.name for f in FAMILIES.values() if f.slot(slot) is not None for v in f.variants]


def families_taking(param: str, shared: tuple) -> list[str]:
    """Model names whose family takes parameter ``param`` (for the error refusing it elsewhere)."""
    return [v.name for f in FAMILIES.values() if any(p.name == param for p in f.params(shared))
            for v in f.variants]


def lora_models(fits: str | None, width: int | None = None) -> list[str]:
    """Model names a LoRA file fits: its kind (``LoraFile.fits``) is their family's ``lora_format``, and where its
    width is one a variant declares (``lora_width``), that variant only."""
    names = []
    for family in FAMILIES.values():
        if fits is None or family.lora_format != fits:
            continue
        sized = [v.name for v in family.variants if width and v.lora_width == width]
        names += sized or list(family.variant_names)
    return names


def installed_families(models_root: Path) -> list[Family]:
    """Families with at least one variant whose weights are in ``models_root`` (a demo folder has them all)."""
    return [f for f in FAMILIES.values() if any(v.installed(models_root) for v in f.variants)]


def download_catalog(model: str, *, fp16: bool = False, parts: tuple[str, ...] | None = None,
                     pose_presets: tuple[str, ...] | None = None):
    """What ``download --model NAME`` fetches: the model's own files (its family's ``sources``) and the shared
    parts it needs (``parts`` narrows those: ``--only``). A :class:`text2video.models.sources.Catalog`."""
    from ..models import sources

    family, variant = family_for(model)
    shared = tuple(p for p in family.shared_parts if parts is None or p in parts)
    own = tuple(load(family.sources)(variant, fp16)) if family.sources is not None else ()
    presets = pose_presets if pose_presets is not None else sources.POSE_PRESET_NAMES
    shared_hub = (*sources.hub_files(shared, fp16), *sources.hub_pose_files(shared, presets))
    hub = own + tuple(f for f in shared_hub if f not in own)
    return sources.Catalog(hub, tuple(sources.zoo_files(shared, presets)))


def queue_name(family: Family | str) -> str:
    """The Celery queue of a family's jobs: a worker consumes the queues of the families it has weights for."""
    return "t2v." + (family if isinstance(family, str) else family.name)


__all__ = ["FAMILIES", "Family", "FrameRule", "Ref", "RunInputs", "Runner", "Slot", "Variant", "load",
           "model_names", "family_for", "families_with_slot", "families_taking", "lora_models", "installed_families",
           "queue_name", "download_catalog"]
