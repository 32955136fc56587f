"""``<models>/manifest.json``: which model files are present and verified.

Written by `manage.py download` after each file is fetched and its hash checked, so an interrupted download leaves a
manifest that is true for what it lists. :mod:`text2video.models.inventory` (whether a folder is ready, with or
without a manifest) and `manage.py doctor` read it:

    from text2video.models import manifest
    m = manifest.load(root)            # Manifest (empty when absent; m.demo for a demo folder)
    manifest.missing(root, ["diffusion"])   # [] when every file that part needs is present with its recorded size
    manifest.sd_variant(root)          # "fp16" when the SD weights are the fp16 variant (pass as variant= to diffusers)

File format (version 1)::

    {"version": 1, "updated": "2026-11-25T03:00:00+00:00",
     "parts": {"diffusion": {"revisions": {"CompVis/stable-diffusion-v1-4": "<commit>"}, "variant": "fp16"}},
     "files": {"stable-diffusion-v1-4/unet/diffusion_pytorch_model.fp16.safetensors":
                 {"size": 1719125304, "sha256": "...", "source": "https://huggingface.co/...", "part": "diffusion",
                  "slot": "stable-diffusion-v1-4/unet/diffusion_pytorch_model.safetensors",
                  "verified": "hub-lfs-sha256", "time": "..."}}}

``verified`` says what the hash was checked against: ``pinned`` (a value in sources.py), ``hub-lfs-sha256`` (the
SHA-256 the Hub publishes for LFS files), ``hub-git-sha1`` (the git blob hash the Hub publishes for small files),
``first-download`` (nothing published: the hash is recorded now and checked on later downloads).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from . import layout, sources

VERSION = 1


@dataclass
class FileRecord:
    path: str  # relative to the models root, "/" separated
    size: int
    sha256: str
    source: str  # URL it came from
    part: str
    slot: str = ""  # sources' stable name for the file (same for the fp16 and fp32 variants)
    verified: str = "first-download"
    time: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("path")
        return data


@dataclass
class Manifest:
    root: Path
    files: dict[str, FileRecord] = field(default_factory=dict)
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)
    updated: str = ""
    demo: bool = False  # a demo folder (random weights, DEMO marker): never listed file by file

    @property
    def path(self) -> Path:
        return self.root / layout.MANIFEST

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "updated": self.updated,
            "parts": self.parts,
            "files": {path: rec.to_dict() for path, rec in sorted(self.files.items())},
        }

    def by_slot(self) -> dict[str, FileRecord]:
        return {rec.slot or rec.path: rec for rec in self.files.values()}


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def load(root: str | Path) -> Manifest:
    """The manifest of ``root`` (an empty one when the file is absent). Raises ValueError on a corrupt file."""
    root = Path(root)
    manifest = Manifest(root=root, demo=(root / layout.DEMO_MARKER).exists())
    path = root / layout.MANIFEST
    if not path.exists():
        return manifest
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); delete it and run `python manage.py download` again") \
            from exc
    if data.get("version") != VERSION:
        raise ValueError(f"{path} has version {data.get('version')!r}, this code reads version {VERSION}; "
                         "run `python manage.py download` to rewrite it")
    manifest.updated = data.get("updated", "")
    manifest.parts = data.get("parts", {})
    for rel, rec in data.get("files", {}).items():
        manifest.files[rel] = FileRecord(path=rel, **rec)
    return manifest


def save(manifest: Manifest) -> Path:
    """Write atomically (temp file + rename), so readers never see half a manifest."""
    manifest.root.mkdir(parents=True, exist_ok=True)
    manifest.updated = now()
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", suffix=".json", dir=manifest.root)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(manifest.to_dict(), fh, indent=2)
            fh.write("\n")
        os.replace(tmp, manifest.path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return manifest.path


def record(root: str | Path, rec: FileRecord) -> Manifest:
    """Add or replace one file's record (other records with the same slot, e.g. the other variant, are dropped)."""
    manifest = load(root)
    for path in [p for p, r in manifest.files.items() if (r.slot or p) == (rec.slot or rec.path) and p != rec.path]:
        del manifest.files[path]
    rec.time = rec.time or now()
    manifest.files[rec.path] = rec
    save(manifest)
    return manifest


def sha256_file(path: str | Path, chunk: int = 4 * 1024 * 1024) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def git_blob_sha1(path: str | Path) -> str:
    """The hash git (and the Hub's ETag for non-LFS files) gives a file: sha1(b"blob <size>\\0" + content)."""
    path = Path(path)
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as fh:
        while block := fh.read(4 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def expected_slots(parts: Iterable[str] = sources.PARTS, pose_presets: Iterable[str] | None = None,
                   ) -> dict[str, tuple[str, ...]]:
    """slot -> every acceptable destination path (any variant) of the required files of ``parts``."""
    parts = tuple(parts)
    presets = tuple(pose_presets) if pose_presets is not None else sources.POSE_PRESET_NAMES
    slots: dict[str, tuple[str, ...]] = {}
    for f in sources.hub_files(parts, fp16=True) + sources.hub_pose_files(parts, presets):
        if not f.optional:
            slots[f.slot] = tuple(f.dest(c) for c in f.candidates)
    for z in sources.zoo_files(parts, presets):
        slots[z.slot] = (z.dest,)
    return slots


def missing(root: str | Path, parts: Iterable[str] = sources.PARTS, pose_presets: Iterable[str] | None = None,
            ) -> list[str]:
    """Paths (relative to ``root``) of the files ``parts`` need that are absent, unrecorded or of the wrong size.

    ``pose_presets`` defaults to every preset; a loader for one preset passes ``[settings.pose_preset]``.
    Folders without a manifest (demo weights) are answered by :mod:`text2video.models.inventory`.
    """
    root = Path(root)
    parts = tuple(parts)
    presets = tuple(pose_presets) if pose_presets is not None else sources.POSE_PRESET_NAMES
    manifest = load(root)
    absent: list[str] = []
    for slot, paths in expected_slots(parts, presets).items():
        ok = False
        for rel in paths:
            rec = manifest.files.get(rel)
            file = root / rel
            if rec is not None and file.is_file() and file.stat().st_size == rec.size:
                ok = True
                break
        if not ok:
            absent.append(slot)
    return absent


def verify(root: str | Path, deep: bool = False) -> list[str]:
    """Problems with the recorded files: absent, size changed, or (``deep``) SHA-256 changed. [] = all good."""
    root = Path(root)
    manifest = load(root)
    problems: list[str] = []
    for rel, rec in sorted(manifest.files.items()):
        file = root / rel
        if not file.is_file():
            problems.append(f"{rel}: recorded in the manifest but absent")
        elif file.stat().st_size != rec.size:
            problems.append(f"{rel}: size {file.stat().st_size} differs from the recorded {rec.size}")
        elif deep and sha256_file(file) != rec.sha256:
            problems.append(f"{rel}: SHA-256 differs from the recorded {rec.sha256[:12]}...")
    return problems


def sd_variant(root: str | Path) -> str | None:
    """``"fp16"`` when the UNet and VAE weights present are the fp16 variant, else None.

    diffusers only finds ``*.fp16.safetensors`` when told ``variant="fp16"``; a folder downloaded with ``--fp16`` needs
    it, a plain one must not get it. (The text encoder is always the fp32 file, cast at load time.)
    """
    manifest = load(root)
    weights = [p for p in manifest.files
               if p.startswith((f"{layout.SD_DIR}/unet/", f"{layout.SD_DIR}/vae/"))
               and p.rsplit(".", 1)[-1] in ("safetensors", "bin")]
    if weights and all(".fp16." in p for p in weights):
        return "fp16"
    return None
