"""`python manage.py doctor`: is this machine ready to generate, and if not, what to do about it.

Every check returns a :class:`Check` with a status (OK, WARN, FAIL), what was found and, when not OK, the fix.
FAIL means something generation needs is missing or broken (the command exits 1); WARN means it will work, but
slowly or with demo output. Nothing is downloaded, built or written by the checks.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kombu.utils.url import maybe_sanitize_url

from .devices import cpu_bf16
from .settings import Settings, sqlite_file

OK, WARN, FAIL = "OK", "WARN", "FAIL"


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # machine facts for --json (gpu list, preset...)

    @property
    def ok(self) -> bool:
        return not any(c.status == FAIL for c in self.checks)

    def add(self, name: str, status: str, detail: str, fix: str = "") -> Check:
        check = Check(name, status, detail, fix)
        self.checks.append(check)
        return check

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.to_dict() for c in self.checks], **self.facts}

    def format(self) -> str:
        width = max(len(c.name) for c in self.checks) if self.checks else 8
        lines = [f"{'STATUS':<6}  {'CHECK':<{width}}  DETAIL"]
        for c in self.checks:
            lines.append(f"{c.status:<6}  {c.name:<{width}}  {c.detail}")
            if c.fix and c.status != OK:
                lines.append(f"{'':<6}  {'':<{width}}  fix: {c.fix}")
        fails = sum(c.status == FAIL for c in self.checks)
        warns = sum(c.status == WARN for c in self.checks)
        lines.append("ready" + (f" ({warns} warning(s))" if warns else "") if not fails
                     else f"NOT ready: {fails} failure(s), {warns} warning(s)")
        return "\n".join(lines)


# --- machine facts ------------------------------------------------------------------------------------------------


def nvidia_driver_present() -> bool:
    """A GPU driver is installed, whatever torch thinks (catches a CPU-only torch on a GPU machine)."""
    return Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None


def gpus() -> list[dict[str, Any]]:
    """[{index, name, free_gb, total_gb, capability, bf16}] of the CUDA devices torch sees."""
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    found = []
    for i in range(torch.cuda.device_count()):
        free, total = torch.cuda.mem_get_info(i)
        cap = torch.cuda.get_device_capability(i)
        found.append({"index": i, "name": torch.cuda.get_device_name(i), "free_gb": round(free / 2**30, 2),
                      "total_gb": round(total / 2**30, 2), "capability": f"{cap[0]}.{cap[1]}", "bf16": cap >= (8, 0)})
    return found


def _writable_dir(path: Path) -> tuple[bool, str]:
    """Whether ``path`` is (or could be created as) a writable directory; never creates anything."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return False, f"{probe} is not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        return False, f"{probe} is not writable"
    return True, "exists" if probe == path else f"will be created (under {probe})"


# --- checks -------------------------------------------------------------------------------------------------------


def check_python(r: Report) -> None:
    version = platform.python_version()
    if sys.version_info < (3, 10):
        r.add("python", FAIL, f"Python {version}", "Use Python 3.10 or newer.")
    else:
        r.add("python", OK, f"Python {version} ({sys.executable})")


def check_torch(r: Report) -> None:
    try:
        import torch
    except ImportError as exc:
        r.add("torch", FAIL, f"torch is not importable ({exc})", "pip install -r requirements.txt")
        return
    cuda = torch.version.cuda or "none (CPU build)"
    r.add("torch", OK, f"torch {torch.__version__}, CUDA build: {cuda}")
    r.facts["torch"] = {"version": torch.__version__, "cuda": torch.version.cuda}


def check_gpu(r: Report) -> list[dict[str, Any]]:
    found = gpus()
    r.facts["gpus"] = found
    if found:
        for g in found:
            r.add(f"gpu:{g['index']}", OK, f"{g['name']}, {g['free_gb']:.1f} of {g['total_gb']:.1f} GB free, "
                  f"compute capability {g['capability']}")
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if len(found) > 1 and visible is None:
            r.add("gpu", WARN, f"{len(found)} GPUs visible to one process: a worker uses only one",
                  "Run one worker per GPU: CUDA_VISIBLE_DEVICES=N python manage.py worker (see docs/gpu.md).")
    elif nvidia_driver_present():
        r.add("gpu", WARN, "an NVIDIA driver is present but torch sees no CUDA device (CPU-only torch build?)",
              "Install a CUDA build of torch: pip install torch --index-url https://download.pytorch.org/whl/cu124")
    else:
        r.add("gpu", WARN, "no CUDA GPU: generation runs on the CPU (minutes per denoising step)",
              "Use a machine with an NVIDIA GPU (a Colab/Kaggle T4 works: docs/gpu.md), or --models demo to try "
              "the service.")
    return found


def check_bf16(r: Report, found: list[dict[str, Any]]) -> bool:
    native, flags = cpu_bf16()
    r.facts["cpu_bf16"] = native
    if found:
        gpu_bf16 = all(g["bf16"] for g in found)
        r.add("bf16", OK, f"GPU bf16: {'yes' if gpu_bf16 else 'no (capability < 8.0: fp16 is used)'}; "
              f"CPU bf16: {'yes (' + flags + ')' if native else 'no'}")
    else:
        r.add("bf16", OK if native else WARN,
              f"CPU bf16: {'native (' + flags + '): the CPU preset runs in bf16' if native else 'not native: fp32'}",
              "" if native else "Nothing to do: the CPU preset uses fp32 (about 2x slower than bf16 would be).")
    return native


def check_av(r: Report) -> None:
    try:
        import av
        from av.codec import Codec
    except ImportError as exc:
        r.add("pyav", FAIL, f"PyAV is not importable ({exc})", "pip install av")
        return
    try:
        Codec("libx264", "w")
    except Exception:  # noqa: BLE001 - any failure means no encoder
        r.add("pyav", FAIL, f"PyAV {av.__version__} has no libx264 encoder: result.mp4 cannot be written as H.264",
              "pip install --force-reinstall av (the PyPI wheels bundle FFmpeg with libx264).")
        return
    r.add("pyav", OK, f"PyAV {av.__version__}, FFmpeg with libx264 encoder")


def check_onnxruntime(r: Report, gpu_present: bool) -> None:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        r.add("onnxruntime", FAIL, f"onnxruntime is not importable ({exc})", "pip install onnxruntime")
        return
    providers = ort.get_available_providers()
    r.facts["onnxruntime_providers"] = providers
    gpu_providers = [p for p in providers if p in ("CUDAExecutionProvider", "TensorrtExecutionProvider",
                                                   "ROCMExecutionProvider")]
    detail = f"onnxruntime {ort.__version__}, providers: {', '.join(providers)}"
    if gpu_present and not gpu_providers:
        r.add("onnxruntime", WARN, "!!! a GPU is present but ONNX Runtime has ONLY CPU providers: pose extraction "
              f"will run on the CPU, several times slower !!! ({detail})",
              f"pip uninstall -y onnxruntime && pip install onnxruntime-gpu=={ort.__version__}")
    else:
        r.add("onnxruntime", OK, detail)


def check_models(r: Report, settings: Settings, deep: bool = False) -> None:
    from .models import layout, manifest, sources
    from .models.demo import is_current_demo
    from .models.inventory import inventory

    presets = [settings.pose_preset] if settings.pose_preset in layout.POSE_PRESETS else None
    try:
        found = inventory(settings.models_dir, pose_presets=presets)
    except ValueError as exc:  # a damaged manifest.json
        r.add("models", FAIL, str(exc), f"python manage.py download --models {settings.models_dir}")
        return
    root = found.root
    if str(settings.models_dir) == "demo":
        state = "built" if is_current_demo(root) else "built on first use"
        r.add("models", WARN, f"demo weights ({root}, {state}): random, the output is noise",
              "For real videos: python manage.py download, then use --models models (the default).")
        return
    r.facts["models_dir"] = str(root.resolve())
    if not found.exists:
        r.add("models", FAIL, f"models folder {root} does not exist", f"{found.fix()}   (or --models demo to try "
              "the service)")
        return
    if found.demo:
        r.add("models", WARN, f"{root} is a demo folder: random weights, the output is noise",
              "python manage.py download --models <another folder> for real weights.")
        return
    records = manifest.load(root).files.values()
    for part in sources.PARTS:
        absent = found.missing[part]
        if absent:
            shown = ", ".join(absent[:3]) + (f" and {len(absent) - 3} more" if len(absent) > 3 else "")
            r.add(f"models:{part}", FAIL, f"missing or unverified in {root}: {shown}", found.fix(part))
            continue
        recs = [rec for rec in records if rec.part == part]
        kinds = sorted({rec.verified for rec in recs})
        size = sum(rec.size for rec in recs)
        r.add(f"models:{part}", OK if recs else WARN,
              f"{len(recs)} files, {size / 2**30:.2f} GB, verified: {', '.join(kinds)}" if recs else
              "present, but not recorded in manifest.json: no hashes to check",
              "" if recs else f"{found.fix(part)} (verifies and records them)")
    if deep:
        problems = manifest.verify(root, deep=True)
        if problems:
            r.add("models:hashes", FAIL, "; ".join(problems[:3]) + (" ..." if len(problems) > 3 else ""),
                  f"python manage.py download --models {root} (re-fetches the damaged files)")
        else:
            r.add("models:hashes", OK, f"SHA-256 of all {len(records)} recorded files re-computed and matching")
    if found.sd_variant:
        r.facts["sd_variant"] = found.sd_variant


def check_families(r: Report, settings: Settings) -> None:
    """Per model (text2video.families): are the weights its declaration names here? A worker on this folder
    serves the families that have them (the parts checks above say what exactly is missing)."""
    from .families import FAMILIES
    from .models.layout import models_root

    root = models_root(settings.models_dir)
    served = []
    for family in FAMILIES.values():
        for variant in family.variants:
            if variant.installed(root):
                served.append(variant.name)
                r.add(f"model:{variant.name}", OK, f"{variant.title}: weights present (about {variant.vram_gb:g} GB "
                      f"of GPU memory at its defaults)")
            else:
                r.add(f"model:{variant.name}", WARN, f"{variant.title}: not installed here; its jobs wait for a "
                      "worker that has it", f"python manage.py download --model {variant.name}")
    r.facts["models_served"] = served


def check_database(r: Report, settings: Settings) -> None:
    url = settings.database_url
    path = sqlite_file(url)
    if path is not None and not path.exists():
        ok, how = _writable_dir(path.parent)
        r.add("database", OK if ok else FAIL, f"SQLite {path}: not created yet, folder {how}",
              "" if ok else f"Make {path.parent} writable or set TEXT2VIDEO_DATA_DIR / TEXT2VIDEO_DATABASE_URL.")
        return
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(url, connect_args={"connect_timeout": 3} if url.startswith("postgresql") else {})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        r.add("database", FAIL, f"cannot connect to {maybe_sanitize_url(url)}: {reason}",
              "Start the database or fix TEXT2VIDEO_DATABASE_URL (empty = SQLite in the data folder).")
        return
    r.add("database", OK, f"connected to {maybe_sanitize_url(url)}")


def check_broker(r: Report, settings: Settings) -> None:
    url = settings.broker_url
    path = sqlite_file(url)
    if path is not None:
        ok, how = _writable_dir(path.parent)
        r.add("broker", OK if ok else FAIL, f"SQLite broker {path}: folder {how}",
              "" if ok else f"Make {path.parent} writable or set TEXT2VIDEO_BROKER_URL.")
        return
    if url.startswith(("redis://", "rediss://")):
        try:
            import redis

            redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
        except Exception as exc:  # noqa: BLE001
            r.add("broker", FAIL, f"Redis {maybe_sanitize_url(url)} does not answer PING: {type(exc).__name__}: {exc}",
                  "Start Redis (docker run -p 6379:6379 redis) or unset TEXT2VIDEO_BROKER_URL for the SQLite broker.")
            return
        r.add("broker", OK, f"Redis {maybe_sanitize_url(url)} answers PING")
        return
    if url.startswith("sqla+"):
        try:
            import sqlalchemy as sa

            engine = sa.create_engine(url[len("sqla+"):])
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            engine.dispose()
        except Exception as exc:  # noqa: BLE001
            r.add("broker", FAIL, f"cannot connect to {maybe_sanitize_url(url)}: {type(exc).__name__}",
                  "Start the database or fix TEXT2VIDEO_BROKER_URL.")
            return
        r.add("broker", OK, f"connected to {maybe_sanitize_url(url)}")
        return
    r.add("broker", WARN, f"{maybe_sanitize_url(url)}: this kind of broker is not checked", "")


def check_disk(r: Report, settings: Settings) -> None:
    from .models.download import free_disk_bytes, human

    floor = settings.min_free_disk_mb * 1024 * 1024
    free = free_disk_bytes(settings.data_dir)
    r.facts["data_free_bytes"] = free
    if free < floor:
        r.add("disk:data", FAIL, f"{human(free)} free for {settings.data_dir}, below the {human(floor)} floor: new "
              "jobs are refused", "Free disk space, lower TEXT2VIDEO_MIN_FREE_DISK_MB, or move TEXT2VIDEO_DATA_DIR.")
    else:
        r.add("disk:data", OK, f"{human(free)} free for {settings.data_dir} (floor {human(floor)})")
    if str(settings.models_dir) != "demo":
        mfree = free_disk_bytes(settings.models_dir)
        r.add("disk:models", OK if mfree > 12 * 2**30 or Path(settings.models_dir).is_dir() else WARN,
              f"{human(mfree)} free for {settings.models_dir} (a full download needs about 11 GB, 8 GB with --fp16)",
              "Download to a bigger disk with --models DIR.")


def check_preset(r: Report, settings: Settings, found: list[dict[str, Any]], bf16_cpu: bool) -> None:
    from .exceptions import Text2VideoError
    from .models.presets import choose_preset

    device = settings.device
    if device == "auto":
        device = "cuda" if found else "cpu"
    free = None
    if device.startswith("cuda"):
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        match = [g for g in found if g["index"] == index]
        if not match:
            r.add("preset", FAIL, f"device {device} asked for but torch sees no such CUDA device",
                  "Use --device auto or cpu, or fix CUDA_VISIBLE_DEVICES.")
            return
        free = match[0]["free_gb"]
    try:
        preset = choose_preset(device, free, bf16_cpu, settings.memory, frames=settings.frames, width=settings.width,
                               height=settings.height)
    except Text2VideoError as exc:
        r.add("preset", FAIL, str(exc), exc.hint or "")
        return
    r.facts["preset"] = preset.to_dict()
    peak = f", ~{preset.estimated_peak_gb:.1f} GB peak (estimated)" if preset.estimated_peak_gb else ""
    detail = (f"--memory {settings.memory} -> {preset.name} on {preset.device} in {preset.dtype}{peak}: "
              f"{preset.reason}")
    if preset.warning:
        r.add("preset", WARN, f"{detail}. {preset.warning}", "See docs/gpu.md for what each preset needs.")
    else:
        r.add("preset", OK, detail)


def run_checks(settings: Settings, deep: bool = False) -> Report:
    """Every check, in the order the report prints them."""
    r = Report()
    check_python(r)
    check_torch(r)
    found = check_gpu(r)
    bf16 = check_bf16(r, found)
    check_av(r)
    check_onnxruntime(r, gpu_present=bool(found) or nvidia_driver_present())
    check_models(r, settings, deep=deep)
    check_families(r, settings)
    check_database(r, settings)
    check_broker(r, settings)
    check_disk(r, settings)
    check_preset(r, settings, found, bf16)
    return r
