"""Loading real weights into :class:`~text2video.diffusion.unet3d.UNet3DConditionModel`.

Sources, in the order they take precedence for a parameter:

1. the Follow-Your-Pose checkpoint, ``followyourpose_checkpoint-1000/`` as saved by ``accelerate.save_state``:
   ``pytorch_model.bin`` (or ``model.safetensors``) holds the FULL UNet3D ``state_dict`` of the trained model (the
   reference restores it with ``accelerator.load_state`` into the whole model): all 868 names, including the 2-D
   weights it fine-tuned (``attn1.to_q``, ``attn2.to_q``), the temporal layers and ``skeleton_adapter.*``. A
   ``module.`` (DDP) or ``_orig_mod.`` (torch.compile) prefix on every key is removed. A partial checkpoint (only the
   trained parts) is accepted too: what it lacks comes from 2. and 3.
2. ``pose_encoder.pth``: the bare adapter ``state_dict`` (``conv_in.*``, ``body.<i>.*``), loaded under
   ``skeleton_adapter.``.
3. the SD-1.4 ``unet/`` folder: ``config.json`` (always) and ``diffusion_pytorch_model[.<variant>].safetensors|.bin``,
   whose 2-D names are the inflated model's names (frames are folded into the batch, so Conv2d weights are used as
   they are). Opened only if 1. and 2. leave parameters uncovered.

Without a Follow-Your-Pose checkpoint (``fyp_checkpoint=None``) the temporal layers (``attn_temp``, ``norm_temp``,
``conv_temporal``) and, without ``pose_encoder``, the adapter start from their fresh initialisation (the state the
reference training starts from). Otherwise every parameter must be covered.

Every unexpected key, shape mismatch or missing key raises :class:`~text2video.exceptions.ModelsMissing` naming
the file, the first 10 keys and the count. Memory: the model is built on the meta device and each tensor is assigned
(``load_state_dict(assign=True)``) from a memory-mapped file, converted one tensor at a time: never two full copies.
"""

from __future__ import annotations

import json
import logging
import re
import zipfile
from pathlib import Path
from typing import Callable, Iterable, Optional, Union

import torch

from ..exceptions import InvalidInput, ModelsMissing
from .attention import TemporalConv

log = logging.getLogger(__name__)

PathLike = Union[str, Path]
SD_WEIGHT_NAMES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
FYP_WEIGHT_NAMES = ("model.safetensors", "pytorch_model.bin")
# Parameters that a plain SD UNet lacks: fresh-initialised when no Follow-Your-Pose checkpoint is given.
TEMPORAL_KEY = re.compile(r"\.(attn_temp|norm_temp|conv_temporal)\.")
ADAPTER_PREFIX = "skeleton_adapter."
DOWNLOAD_HINT = "Run `python manage.py download` to fetch the models, or check the models folder."


def _listing(keys: Iterable[str]) -> str:
    keys = sorted(keys)
    head = ", ".join(keys[:10])
    return f"{head} (and {len(keys) - 10} more)" if len(keys) > 10 else head


class _Source:
    """A weights file opened lazily: key names and shapes without reading the data, tensors on demand."""

    def __init__(self, path: Path, rename: Callable[[str], str] = lambda k: k):
        self.path = path
        if not path.is_file():
            raise ModelsMissing(f"weights file {path} does not exist", field="models", value=str(path),
                                hint=DOWNLOAD_HINT)
        self._safe = None
        try:
            if path.suffix == ".safetensors":
                from safetensors import safe_open

                self._safe = safe_open(str(path), framework="pt", device="cpu")
                raw_keys = list(self._safe.keys())
                self._tensors = None
            else:
                self._tensors = _torch_load(path)
                raw_keys = list(self._tensors)
        except ModelsMissing:
            raise
        except Exception as exc:  # corrupt / truncated / not a weights file
            raise ModelsMissing(f"cannot read weights file {path}: {exc}", field="models", value=str(path),
                                hint="The file is damaged or incomplete: download it again.") from exc
        # our name -> the name in the file
        self.raw = {rename(short): key for key, short in zip(raw_keys, _strip_wrapper_prefix(raw_keys))}

    def keys(self):
        return self.raw.keys()

    def _raw_key(self, key: str) -> str:
        return self.raw[key]

    def shape(self, key: str) -> tuple:
        raw = self._raw_key(key)
        if self._safe is not None:
            return tuple(self._safe.get_slice(raw).get_shape())
        return tuple(self._tensors[raw].shape)

    def get(self, key: str) -> torch.Tensor:
        raw = self._raw_key(key)
        return self._safe.get_tensor(raw) if self._safe is not None else self._tensors[raw]


def _torch_load(path: Path) -> dict:
    """torch.load, memory-mapped when the file is in the zip format (torch >= 1.6 saves), tensors only."""
    mmap = zipfile.is_zipfile(path)
    data = torch.load(str(path), map_location="cpu", weights_only=True, mmap=mmap)
    # Some tools wrap the state dict ({"state_dict": ...} / {"model": ...}).
    for wrapper in ("state_dict", "model", "module"):
        if isinstance(data, dict) and set(data) == {wrapper} and isinstance(data[wrapper], dict):
            data = data[wrapper]
    if not isinstance(data, dict) or not all(torch.is_tensor(v) for v in data.values()):
        raise ModelsMissing(f"{path} is not a state dict of tensors", field="models", value=str(path),
                            hint="Point to the released weights file.")
    return data


def _strip_wrapper_prefix(keys: list[str]) -> list[str]:
    for prefix in ("module.", "_orig_mod."):
        if keys and all(k.startswith(prefix) for k in keys):
            keys = [k[len(prefix):] for k in keys]
    return keys


def _variant_name(name: str, variant: str) -> str:
    base, ext = name.rsplit(".", 1)
    return f"{base}.{variant}.{ext}"


def _find_file(folder: Path, names: Iterable[str], what: str, variant: Optional[str] = None) -> Path:
    names = [_variant_name(n, variant) for n in names] if variant else list(names)
    for name in names:
        if (folder / name).is_file():
            return folder / name
    if not variant:
        # Only an fp16 variant present (a common way SD is downloaded): use it; torch_dtype decides the dtype.
        for name in names:
            alt = folder / _variant_name(name, "fp16")
            if alt.is_file():
                log.info("using the fp16 variant %s", alt)
                return alt
    present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    raise ModelsMissing(f"{what}: none of {', '.join(names)} in {folder} (found: {', '.join(present) or 'nothing'})",
                        field="models", value=str(folder), hint=DOWNLOAD_HINT)


def _resolve_fyp(path: PathLike) -> Path:
    path = Path(path)
    if path.is_dir():
        return _find_file(path, FYP_WEIGHT_NAMES, "Follow-Your-Pose checkpoint")
    if not path.exists():
        raise ModelsMissing(f"Follow-Your-Pose checkpoint {path} does not exist", field="models", value=str(path),
                            hint=DOWNLOAD_HINT)
    return path


def _validate(source: _Source, expected: dict[str, tuple], allowed_prefix: str = "") -> None:
    """Unexpected keys and shape mismatches of one file -> ModelsMissing naming the file."""
    unexpected = [k for k in source.keys() if k not in expected or not k.startswith(allowed_prefix)]
    if unexpected:
        raise ModelsMissing(
            f"{len(unexpected)} unexpected key(s) in {source.path}: {_listing(unexpected)}", field="models",
            value=str(source.path),
            hint="This file does not belong to the Follow-Your-Pose UNet built on SD-1.4 (wrong file or config?).")
    mismatched = []
    for k in source.keys():
        got = source.shape(k)
        if got != tuple(expected[k]):
            mismatched.append(f"{k} {list(got)} != {list(expected[k])}")
    if mismatched:
        raise ModelsMissing(
            f"{len(mismatched)} shape mismatch(es) in {source.path} (file vs model): {_listing(mismatched)}",
            field="models", value=str(source.path),
            hint="The weights were made for a different UNet config: use the matching unet/config.json.")


def _reinit_fresh(model: torch.nn.Module, fresh: set[str], device) -> None:
    """Materialise the modules whose parameters no file provides, with their own initialisation."""
    roots = set()
    for key in fresh:
        match = re.match(r"(.*\.(?:attn_temp|norm_temp|conv_temporal))\.", key)
        roots.add(match.group(1) if match else ADAPTER_PREFIX.rstrip("."))
    for root in sorted(roots):
        module = model.get_submodule(root)
        module.to_empty(device=device)
        for sub in module.modules():
            if hasattr(sub, "reset_parameters"):
                sub.reset_parameters()
        for sub in module.modules():  # after the generic reset: the temporal conv starts as the identity
            if isinstance(sub, TemporalConv):
                torch.nn.init.normal_(sub.down.weight, std=1 / sub.down.out_channels)
                torch.nn.init.zeros_(sub.up.weight)


def load_unet3d(model_cls: type, sd_unet_dir: PathLike, fyp_checkpoint: Optional[PathLike] = None,
                pose_encoder: Optional[PathLike] = None, torch_dtype: Optional[torch.dtype] = None,
                device: Optional[Union[str, torch.device]] = None, variant: Optional[str] = None):
    """Build ``model_cls`` (the UNet3D class; passed in so this module never imports it back) from
    ``sd_unet_dir/config.json`` and load the weights (see module docstring).

    ``torch_dtype``: dtype of the floating-point weights (default float32); ``device``: where the model ends up
    (default CPU); ``variant``: SD weights variant (``"fp16"``); when ``None`` the plain file is preferred and an
    ``fp16`` variant is used if it is the only one present.
    """
    if torch_dtype is not None and not (isinstance(torch_dtype, torch.dtype) and torch_dtype.is_floating_point):
        raise InvalidInput(f"torch_dtype must be a floating torch.dtype, got {torch_dtype!r}", field="torch_dtype",
                           value=torch_dtype, hint="Use torch.float32, torch.float16 or torch.bfloat16.")
    dtype = torch_dtype or torch.float32
    sd_unet_dir = Path(sd_unet_dir)

    # 1. Config -> model on the meta device (no memory).
    config_file = sd_unet_dir / "config.json"
    if not config_file.is_file():
        raise ModelsMissing(f"UNet config {config_file} does not exist", field="models", value=str(config_file),
                            hint=DOWNLOAD_HINT)
    try:
        config = json.loads(config_file.read_text())
    except ValueError as exc:
        raise ModelsMissing(f"UNet config {config_file} is not valid JSON ({exc})", field="models",
                            value=str(config_file), hint="The file is damaged: download it again.") from exc
    config.pop("_class_name", None)
    with torch.device("meta"):
        model = model_cls.from_config(config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}

    # 2. Open the sources (lazily) and validate their keys and shapes.
    sources: list[_Source] = []
    if fyp_checkpoint is not None:
        src = _Source(_resolve_fyp(fyp_checkpoint))
        _validate(src, expected)
        sources.append(src)
    if pose_encoder is not None:
        pose_path = Path(pose_encoder)
        src = _Source(pose_path, rename=lambda k: k if k.startswith(ADAPTER_PREFIX) else ADAPTER_PREFIX + k)
        _validate(src, expected, allowed_prefix=ADAPTER_PREFIX)
        sources.append(src)
    covered = set().union(*(s.keys() for s in sources)) if sources else set()
    if set(expected) - covered:
        src = _Source(_find_file(sd_unet_dir, SD_WEIGHT_NAMES, "SD-1.4 UNet weights", variant))
        _validate(src, expected)
        sources.append(src)
        covered |= set(src.keys())

    # 3. Everything covered? Fresh init only for the parts a plain SD UNet lacks, and only without a checkpoint.
    missing = set(expected) - covered
    fresh = set()
    if fyp_checkpoint is None:
        fresh = {k for k in missing if TEMPORAL_KEY.search(k) or (pose_encoder is None and k.startswith(ADAPTER_PREFIX))}
    missing -= fresh
    if missing:
        files = ", ".join(str(s.path) for s in sources)
        raise ModelsMissing(f"{len(missing)} UNet3D parameter(s) missing from {files}: {_listing(missing)}",
                            field="models", value=files,
                            hint="The checkpoint is incomplete or does not match: " + DOWNLOAD_HINT)
    if fresh:
        log.warning("no Follow-Your-Pose weights for %d parameters (temporal layers%s): freshly initialised",
                    len(fresh), "" if pose_encoder is not None else ", pose adapter")

    # 4. Assign tensor by tensor (first source wins), converting dtype one tensor at a time.
    state = {}
    for key in expected:
        if key in fresh:
            continue
        src = next(s for s in sources if key in s.raw)
        tensor = src.get(key)
        state[key] = tensor.to(dtype) if tensor.is_floating_point() else tensor
    model.load_state_dict(state, strict=False, assign=True)
    del state
    if fresh:
        _reinit_fresh(model, fresh, device="cpu")
        model.to(dtype)
    if device is not None:
        model.to(device)
    model.eval()
    return model
