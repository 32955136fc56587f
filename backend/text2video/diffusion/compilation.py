"""The opt-in compiled UNet (``torch.compile``): compiled once per input shape, timed, and eager where it cannot be.

    unet_call = CompiledUNet(pipe.unet, "default", cache_dir=Path("data/compile-cache"))
    out = unet_call(latents, t, text, pose_features=feats)   # compiles on the first call of each shape

Shapes are static: each distinct (guidance batch, frames, height, width) is compiled once per process and reused
whenever it comes back (``recompile_limit`` shapes at most, then that shape runs eager). Dynamic shapes were
measured and rejected: ``dynamic=True`` never finished tracing the tiny demo UNet (sympy expansion of the
reshape chains, > 10 min), and automatic dynamic recompiled on every size change anyway (size-dependent guards), at
3x the tracing cost of a static shape. A recompile is logged with its reason (dynamo's ``recompiles`` artifact,
routed to this module's logger and counted in :attr:`CompiledUNet.recompiles`).

Inductor keeps its compiled kernels and FX graphs in ``TORCHINDUCTOR_CACHE_DIR`` (set to ``cache_dir`` unless the
user set it): a later process compiling the same shapes reuses them. Where compilation cannot work (no C++
compiler for the CPU backend, no Triton for CUDA, an unknown backend, or any compiler error at the first call) the
UNet runs eager and :attr:`CompiledUNet.failure` says why, logged once as a warning.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Optional

log = logging.getLogger(__name__)

COMPILE_MODES = ("off", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
RECOMPILE_LIMIT = 32  # distinct shapes compiled per process before a new one runs eager
_RECOMPILES_LOGGER = "torch._dynamo.guards.__recompiles"


class _RecompileLog(logging.Handler):
    """Dynamo's recompile messages (with their guard-failure reason), counted and re-logged as ours."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.reasons: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        reason = record.getMessage()
        self.reasons.append(reason)
        log.info("the UNet is compiled again for a new input shape (%d so far): %s", len(self.reasons),
                 " ".join(reason.split()))


_recompile_log: Optional[_RecompileLog] = None


def _watch_recompiles() -> _RecompileLog:
    """Switch dynamo's ``recompiles`` log on (unless the user set TORCH_LOGS) and route it here, once."""
    global _recompile_log
    if _recompile_log is None:
        import torch

        if not os.environ.get("TORCH_LOGS"):
            torch._logging.set_logs(recompiles=True)
            logging.getLogger(_RECOMPILES_LOGGER).propagate = False  # ours alone says it, in our log format
        _recompile_log = _RecompileLog()
        logging.getLogger(_RECOMPILES_LOGGER).addHandler(_recompile_log)
    return _recompile_log


def unsupported_reason(device: Any, backend: str) -> Optional[str]:
    """Why ``backend`` cannot compile for ``device`` on this machine (None when it can, as far as can be known
    before trying): inductor needs a C++ compiler for CPU code and Triton for CUDA code."""
    import torch

    if backend != "inductor":
        return None
    if torch.device(device).type == "cuda":
        from torch.utils._triton import has_triton

        return None if has_triton() else "Triton is not installed (pip install triton)"
    from torch._inductor.cpp_builder import get_cpp_compiler

    try:
        get_cpp_compiler()
    except (RuntimeError, OSError) as exc:  # inductor's "no compiler found" errors
        return f"no C++ compiler for the CPU code ({exc}); install g++ or clang, or set CXX"
    return None


def _use_cache_dir(folder: Path) -> None:
    """Point inductor's cache at ``folder`` unless the user chose one (torch writes its /tmp default into the
    environment on first use, so that value counts as unset)."""
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    if os.environ.get("TORCHINDUCTOR_CACHE_DIR") in (None, default_cache_dir()):
        folder.mkdir(parents=True, exist_ok=True)
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder.resolve())


class CompiledUNet:
    """Calls the UNet through ``torch.compile`` (``mode`` for inductor), falling back to the eager UNet with one
    warning when compiling fails. The eager module is left as it is (same parameters, names and hooks), so LoRA
    merges and memory savers keep working on it."""

    def __init__(self, unet: Any, mode: str = "default", *, backend: str = "inductor",
                 cache_dir: Optional[Path] = None) -> None:
        import torch

        self.unet, self.mode, self.backend = unet, mode, backend
        self.failure: Optional[str] = None
        self.first_call_s: Optional[float] = None  # compile + run of the first call (the cost at start)
        self._watch = _watch_recompiles()
        self._seen_recompiles = len(self._watch.reasons)
        if cache_dir is not None:
            _use_cache_dir(Path(cache_dir))
        self.cache_dir = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
        self._compiled = None
        reason = unsupported_reason(unet.device, backend)
        if reason is not None:
            self._fall_back(reason)
            return
        try:
            self._compiled = torch.compile(unet, backend=backend, mode=mode if backend == "inductor" else None,
                                           dynamic=False, recompile_limit=RECOMPILE_LIMIT)
        except torch._dynamo.exc.TorchDynamoException as exc:  # e.g. InvalidBackend
            self._fall_back(f"{type(exc).__name__}: {exc}")

    @property
    def recompiles(self) -> list[str]:
        """Recompile reasons logged since this UNet was compiled (one per new input shape)."""
        return self._watch.reasons[self._seen_recompiles:]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        import torch

        if self._compiled is None:
            return self.unet(*args, **kwargs)
        started = time.monotonic()
        try:
            out = self._compiled(*args, **kwargs)
        except torch._dynamo.exc.TorchDynamoException as exc:  # BackendCompilerFailed (compiler missing/broken)
            self._fall_back(" ".join(f"{type(exc).__name__}: {exc}".split())[:500])
            return self.unet(*args, **kwargs)
        if self.first_call_s is None:
            self.first_call_s = time.monotonic() - started
            log.info("UNet compiled (torch.compile %s, mode %s) and run in %.1f s; compile cache: %s",
                     self.backend, self.mode, self.first_call_s, self.cache_dir)
        return out

    def _fall_back(self, reason: str) -> None:
        self.failure = reason
        self._compiled = None
        log.warning("torch.compile is not available here, the UNet runs eager (as without --compile): %s", reason)


__all__ = ["COMPILE_MODES", "CompiledUNet", "RECOMPILE_LIMIT", "unsupported_reason"]
