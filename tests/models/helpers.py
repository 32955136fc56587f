"""Helpers for the models tests (a module with a unique name: `conftest` imports clash across test folders)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from text2video.models import sources


def make_catalog(fake, parts=sources.PARTS, fp16=False, presets=sources.POSE_PRESET_NAMES) -> sources.Catalog:
    """The real catalog, with the balanced pose models pinned to the fake files' hashes (accurate stays unpinned)
    and the wholebody ones (pinned to the real DWPose hashes) pinned to the fake Hub's files instead."""
    pins = {d: h for d, h in fake.onnx_sha.items() if d in {z.dest for z in sources.ZOO_FILES["balanced"]}}
    catalog = sources.catalog(parts, fp16, presets).with_zoo_hashes(pins)
    dwpose = fake.repos[sources.DWPOSE_REPO]
    hub = tuple(replace(f, sha256={c: hashlib.sha256(dwpose[c]).hexdigest() for c in f.candidates})
                if f.repo_id == sources.DWPOSE_REPO else f for f in catalog.hub)
    return sources.Catalog(hub, catalog.zoo)


def run_download(root: Path, fake, parts=sources.PARTS, **kwargs):
    """download() against the fake servers; returns (plan, printed lines)."""
    from text2video.models.download import download

    lines: list[str] = []
    fp16 = kwargs.pop("fp16", False)
    presets = kwargs.pop("pose_presets", sources.POSE_PRESET_NAMES)
    kwargs.setdefault("catalog", make_catalog(fake, tuple(parts), fp16, presets))
    plan = download(root, parts, fp16=fp16, pose_presets=presets, endpoint=fake.hub_url,
                    zoo_url=fake.cdn_url + "/zoo/", progress=False, backoff_s=0.0, out=lines.append, **kwargs)
    return plan, lines
