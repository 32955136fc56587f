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


def requested_providers(device: str = "auto") -> tuple[list, str | None]:
    """ORT provider list for ``device`` (auto | cpu | cuda | cuda:N), and a warning when CUDA was asked for but
    this onnxruntime build cannot provide it (we then run on the CPU rather than fail the whole job)."""
    import onnxruntime as ort

    device = (device or "auto").lower()
    available = ort.get_available_providers()
    if device == "cpu":
        return [CPU], None
    if device == "auto":
        return ([CUDA, CPU] if CUDA in available else [CPU]), None
    if device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit()):
        if CUDA not in available:
            return [CPU], (f"pose ran on the CPU: device {device!r} was asked for but this onnxruntime build has "
                           f"no CUDA provider (available: {', '.join(available)}); install onnxruntime-gpu "
                           "matching your CUDA to run it on the GPU")
        return [(CUDA, {"device_id": int(device[5:] or 0)}), CPU], None
    raise DeviceError(f"unknown device {device!r}", field="device", value=device,
                      hint="Use auto, cpu, cuda or cuda:N.")


def create_session(path: str | Path, device: str = "auto", *, threads: int = 0):
    """Open an ONNX model; returns (session, provider actually used, warning or None)."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise ModelsMissing(f"pose model {path} is missing", field="models_dir", value=str(path.parent.parent),
                            hint="Run `python manage.py download` (or use --models demo for tiny test models).")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # ORT warns about unused initialisers etc. on every load
    if threads:
        options.intra_op_num_threads = threads
    providers, warning = requested_providers(device)
    session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    used = session.get_providers()[0]
    wanted = providers[0] if isinstance(providers[0], str) else providers[0][0]
    if used != wanted:
        # ORT falls back silently when the CUDA libraries fail to load: say so.
        warning = (f"pose ran on {used}: ONNX Runtime could not start {wanted} for {path.name} "
                   "(check the CUDA/cuDNN libraries onnxruntime-gpu needs)")
    if warning:
        log.warning("%s", warning)
    log.info("pose model %s on %s", path.name, used)
    return session, used, warning
