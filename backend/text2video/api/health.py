"""``GET /api/v1/health``: is the service up, and (authenticated callers only) can it do work?

Everyone gets ``{"status": "ok"|"degraded", "auth_required"}``; with a valid key (or with keys off) also the
device, which models are present, live workers, queue depth, job counts and free disk. The details are read from
the job store (worker heartbeats) and the models folder, never from a model: the web process loads none.
"""

from __future__ import annotations

import time

from flask import Blueprint, jsonify

from .. import storage
from ..jobs.workers import WorkerRegistry
from ..models.inventory import inventory, resolve_root
from ..models.layout import FYP_DIR, POSE_DIR, POSE_PRESETS, SD_DIR, TRANSLATION_DIR
from .auth import auth_enabled, is_authenticated
from .services import get_settings, get_store

bp = Blueprint("health", __name__, url_prefix="/api/v1")

_CACHE_S = 2.0  # models-folder checks touch the disk; a dashboard polling every second should not
_cache: dict[str, tuple[float, dict]] = {}


def models_report(models_dir, pose_preset: str = "balanced") -> dict:
    """Which parts of the models folder are present (cheap file checks; nothing is loaded)."""
    root = resolve_root(models_dir)
    key = f"{root}|{pose_preset}"
    hit = _cache.get(key)
    if hit and time.monotonic() - hit[0] < _CACHE_S:
        return hit[1]
    found = inventory(root, pose_presets=[pose_preset if pose_preset in POSE_PRESETS else "balanced"])
    diffusion = found.missing["diffusion"]
    parts = {
        SD_DIR: not any(rel.startswith(SD_DIR + "/") for rel in diffusion),
        FYP_DIR: not any(rel.startswith(FYP_DIR + "/") for rel in diffusion),
        TRANSLATION_DIR: not found.missing["prompt"],
        POSE_DIR: not found.missing["pose"],
    }
    missing = [name for name, ok in parts.items() if not ok]
    report = {"dir": str(root), "present": not missing, "parts": parts, "missing": missing, "demo": found.demo}
    if missing:
        report["hint"] = ("Run `python manage.py init-demo-models` (demo)" if str(models_dir) == "demo" else
                          "Run `python manage.py download` to fetch them")
    _cache[key] = (time.monotonic(), report)
    return report


@bp.get("/health")
def health():
    settings = get_settings()
    store = get_store()
    body: dict = {"auth_required": auth_enabled()}
    try:
        depth = store.queue_depth()
        store_ok = True
    except Exception:  # noqa: BLE001 - a down database is exactly what health must report
        depth, store_ok = None, False
    if not is_authenticated():
        body["status"] = "ok" if store_ok else "unavailable"
        return jsonify(body), 200 if store_ok else 503
    workers = [w.to_dict() for w in WorkerRegistry(store).live()] if store_ok else []
    models = models_report(settings.models_dir, settings.pose_preset)
    free_mb = storage.free_disk_mb(settings)
    problems = []
    if not store_ok:
        problems.append("the job database is unreachable")
    if not workers:
        problems.append("no worker is running: jobs wait in the queue (start one with `python manage.py worker`)")
    if not models["present"]:
        problems.append(f"models missing: {', '.join(models['missing'])}")
    if free_mb < settings.min_free_disk_mb:
        problems.append(f"free disk {free_mb:.0f} MB is under the {settings.min_free_disk_mb} MB floor")
    devices = sorted({w["device"] for w in workers if w.get("device")})
    body.update({
        "status": "ok" if not problems else ("unavailable" if not store_ok else "degraded"),
        "problems": problems,
        "device": {"configured": settings.device, "workers": devices},
        "models": models,
        "workers": {"alive": len(workers), "list": workers},
        "queue": {"depth": depth, "broker": _broker_kind(settings.broker_url)},
        "jobs": store.count_by_status() if store_ok else None,
        "disk": {"free_mb": round(free_mb), "floor_mb": settings.min_free_disk_mb},
    })
    return jsonify(body), 200 if store_ok else 503


def _broker_kind(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else url
