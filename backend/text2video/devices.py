"""Which device and precision a model runs on: ``auto`` resolved for this machine, explicit choices checked.

Shared by the engine (generation) and ``manage.py doctor`` (what this machine can do), so both give one answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .exceptions import DeviceError

DTYPES = ("auto", "fp32", "fp16", "bf16")
_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_bf16() -> tuple[bool, str]:
    """(native bf16 matmuls on this CPU?, which instructions): AVX512-BF16 or AMX; emulated bf16 is slower than
    fp32. Read from /proc/cpuinfo; elsewhere (macOS, Windows) from what oneDNN reports."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        import torch

        capability = str(torch.backends.cpu.get_cpu_capability()).upper()
        native = "AVX512" in capability and bool(
            getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)())
        return native, f"oneDNN {capability}" if native else "none"
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    found = [f for f in _BF16_FLAGS if f in flags]
    return bool(found), ", ".join(found) or "none"


def resolve_device(device: str | None) -> Any:
    """auto -> cuda when available, else cpu; an explicit cuda without CUDA is a DeviceError (no fallback)."""
    import torch

    from .diffusion.pipeline import check_device

    name = (device or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    return check_device(name)


def resolve_dtype(dtype: str | None, device: Any, cuda_auto: str = "fp16") -> Any:
    """auto -> ``cuda_auto`` on CUDA (fp16; bf16 for a model that overflows in fp16), bf16 on a CPU with native
    bf16, else fp32. fp16 on CPU is refused (slow, and several CPU kernels lack it)."""
    import torch

    name = (dtype or "auto").strip().lower()
    if name not in DTYPES:
        raise DeviceError(f"dtype {dtype!r} is not supported", field="dtype", value=dtype,
                          hint=f"Use one of: {', '.join(DTYPES)}.")
    if name == "auto":
        if device.type == "cuda":
            return {"fp16": torch.float16, "bf16": torch.bfloat16}[cuda_auto]
        return torch.bfloat16 if device.type == "cpu" and cpu_bf16()[0] else torch.float32
    if name == "fp16" and device.type == "cpu":
        raise DeviceError("dtype fp16 is not supported on the CPU", field="dtype", value=dtype,
                          hint="Use --dtype bf16 (fast on CPUs with AVX512-BF16/AMX) or fp32.")
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[name]


def dtype_name(dtype: Any) -> str:
    return {"torch.float32": "fp32", "torch.float16": "fp16", "torch.bfloat16": "bf16"}.get(str(dtype), str(dtype))


__all__ = ["DTYPES", "cpu_bf16", "resolve_device", "resolve_dtype", "dtype_name"]
