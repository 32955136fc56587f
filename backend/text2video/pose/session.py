"""ONNX Runtime sessions: CUDA when available, CPU otherwise, and the provider actually used is reported.

A GPU box silently running pose on the CPU is a known trap (onnxruntime without the -gpu build, or CUDA libraries
that fail to load): ORT then falls back without raising. We read back ``session.get_providers()`` and log it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..exceptions import DeviceError, ModelsMissing

log = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def requested_providers(device: str = "auto") -> list:
    """ORT provider list for ``device`` (auto | cpu | cuda | cuda:N)."""
    import onnxruntime as ort

    device = (device or "auto").lower()
    available = ort.get_available_providers()
    if device == "cpu":
        return [CPU]
    if device == "auto":
        return [CUDA, CPU] if CUDA in available else [CPU]
    if device.startswith("cuda"):
        if CUDA not in available:
            raise DeviceError(
                f"device {device!r} asked for the pose stage, but this onnxruntime build has no CUDA provider "
                f"(available: {', '.join(available)})", field="device", value=device,
                hint="Install onnxruntime-gpu matching your CUDA, or use --device cpu / auto.")
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        return [(CUDA, {"device_id": index}), CPU]
    raise DeviceError(f"unknown device {device!r}", field="device", value=device,
                      hint="Use auto, cpu, cuda or cuda:N.")


def create_session(path: str | Path, device: str = "auto", *, threads: int = 0):
    """Open an ONNX model; returns (session, provider actually used)."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise ModelsMissing(f"pose model {path} is missing", field="models_dir", value=str(path.parent.parent),
                            hint="Run `python manage.py download` (or use --models demo for tiny test models).")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # ORT warns about unused initialisers etc. on every load
    if threads:
        options.intra_op_num_threads = threads
    providers = requested_providers(device)
    session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    used = session.get_providers()[0]
    wanted = providers[0] if isinstance(providers[0], str) else providers[0][0]
    if used != wanted:
        log.warning("pose model %s: asked for %s but ONNX Runtime runs it on %s", path.name, wanted, used)
        if device.lower().startswith("cuda"):
            raise DeviceError(f"ONNX Runtime could not start {wanted} for {path.name} (it fell back to {used})",
                              field="device", value=device,
                              hint="Check the CUDA/cuDNN libraries onnxruntime-gpu needs, or use --device cpu.")
    log.info("pose model %s on %s", path.name, used)
    return session, used
