"""What a models folder holds: the one answer the pipeline, the engine, ``GET /api/v1/health`` and ``manage.py doctor``
read to say whether the models are present, what is missing (with the command that fetches it) and which variant.

    inv = inventory("models", pose_presets=["balanced"])
    inv.present, inv.missing["diffusion"], inv.fix("diffusion")   # -> "python manage.py download --models models ..."
    inv.demo, inv.sd_variant, inv.pose_presets                     # True/False, "fp16"/None, ("balanced",)

A folder written by ``manage.py download`` (it has ``manifest.json``) counts a file as present when the manifest
records it and its size still matches (:func:`text2video.models.manifest.missing`). A folder without a manifest (the
demo weights, or weights copied by hand) counts the files the loaders open.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import layout, manifest, sources


def resolve_root(models_dir: str | Path) -> Path:
    """The folder ``models_dir`` names; the word ``demo`` is the shared demo-weights folder."""
    return layout.default_demo_dir() if str(models_dir) == "demo" else Path(models_dir)


def _weights(folder: Path, *stems: str) -> bool:
    """A diffusers/transformers weights file in any of the usual names (fp32 or fp16 variant, .bin/.safetensors)."""
    return any(any(folder.glob(f"{stem}*.{ext}")) for stem in stems for ext in ("safetensors", "bin"))


def _only_fp16(folder: Path, stem: str = "diffusion_pytorch_model") -> bool:
    plain = any((folder / f"{stem}.{ext}").exists() for ext in ("safetensors", "bin"))
    return not plain and any((folder / f"{stem}.fp16.{ext}").exists() for ext in ("safetensors", "bin"))


def _sd_variant(root: Path) -> str | None:
    """``"fp16"`` when the UNet and VAE weights present are only the fp16 variant (diffusers must be told), else
    None."""
    if (root / layout.MANIFEST).is_file() and not (root / layout.DEMO_MARKER).exists():
        return manifest.sd_variant(root)
    sd = root / layout.SD_DIR
    return "fp16" if _only_fp16(sd / "unet") and _only_fp16(sd / "vae") else None


def _loader_files(root: Path, part: str, presets: tuple[str, ...]) -> dict[str, bool]:
    """What the loaders of ``part`` open -> whether it is there (folders without a manifest)."""
    if part == "prompt":
        return {f"{layout.TRANSLATION_DIR}/config.json": (root / layout.TRANSLATION_DIR / "config.json").is_file()}
    if part == "pose":
        return {rel: (root / rel).is_file() for preset in presets
                for rel in (layout.POSE_PRESETS[preset]["detector"], layout.POSE_PRESETS[preset]["pose"])}
    sd, ckpt = root / layout.SD_DIR, root / layout.FYP_CHECKPOINT_DIR
    found = {rel: (sd / rel).is_file() for rel in (
        "model_index.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "text_encoder/config.json",
        "vae/config.json", "unet/config.json", "scheduler/scheduler_config.json")}
    found["text_encoder/model weights"] = _weights(sd / "text_encoder", "model", "pytorch_model")
    found["vae/diffusion_pytorch_model weights"] = _weights(sd / "vae", "diffusion_pytorch_model")
    files = {f"{layout.SD_DIR}/{rel}": ok for rel, ok in found.items()}
    files[f"{layout.FYP_CHECKPOINT_DIR}/pytorch_model.bin (or model.safetensors)"] = \
        (ckpt / "pytorch_model.bin").is_file() or (ckpt / "model.safetensors").is_file()
    files[layout.FYP_POSE_ENCODER] = (root / layout.FYP_POSE_ENCODER).is_file()
    return files


@dataclass(frozen=True)
class Inventory:
    root: Path
    exists: bool
    demo: bool  # random demo weights (DEMO marker): the output is noise
    missing: dict[str, list[str]]  # part -> paths relative to root it lacks ([] = present)
    sd_variant: str | None  # "fp16" when only the fp16 SD weights are there
    pose_presets: tuple[str, ...]  # the pose presets whose two files are there

    @property
    def present(self) -> bool:
        return self.exists and not any(self.missing.values())

    def fix(self, part: str | None = None) -> str:
        """The command that fetches what is missing (of ``part``, or of every part)."""
        if self.demo:
            return f"python manage.py init-demo-models {self.root}"
        return f"python manage.py download --models {self.root}" + (f" --only {part}" if part else "")


def inventory(models_dir: str | Path, parts: tuple[str, ...] = sources.PARTS,
              pose_presets: tuple[str, ...] | list[str] | None = None) -> Inventory:
    """What ``models_dir`` holds for ``parts``; ``pose_presets`` defaults to every preset. Cheap: nothing is loaded
    (raises ValueError when ``manifest.json`` is damaged)."""
    root = resolve_root(models_dir)
    presets = tuple(p for p in (pose_presets or layout.POSE_PRESETS) if p in layout.POSE_PRESETS)
    demo = (root / layout.DEMO_MARKER).exists() or str(models_dir) == "demo"
    by_manifest = (root / layout.MANIFEST).is_file() and not demo
    missing = {}
    for part in parts:
        if by_manifest:
            missing[part] = manifest.missing(root, [part], presets)
        else:
            missing[part] = [rel for rel, ok in _loader_files(root, part, presets).items() if not ok]
    available = tuple(p for p in layout.POSE_PRESETS if all(
        (root / layout.POSE_PRESETS[p][kind]).is_file() for kind in ("detector", "pose")))
    return Inventory(root=root, exists=root.is_dir(), demo=demo, missing=missing, sd_variant=_sd_variant(root),
                     pose_presets=available)


__all__ = ["Inventory", "inventory", "resolve_root"]
