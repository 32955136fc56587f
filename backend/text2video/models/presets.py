"""Memory presets: how the video pipeline is placed and chunked so that it fits the GPU it runs on.

``--memory auto|high|medium|low`` (setting ``memory``, env ``TEXT2VIDEO_MEMORY``):

=======  ======================================================================================================
high     everything on the GPU in fp16, PyTorch SDPA attention, VAE decodes 8 frames per call: fastest.
medium   fp16 + VAE slicing (one frame per decode) and tiling + attention slicing + feed-forward chunking.
low      model CPU offload (accelerate: only the stage running sits on the GPU) + the medium savings with smaller
         chunks. For cards with 10 GB or less.
cpu      no GPU: bf16 where the CPU has native bf16 (AVX512-BF16 / AMX), else fp32. Minutes per denoising step.
=======  ======================================================================================================

``auto`` picks the fastest GPU preset whose *estimated* peak fits in 90 % of the free VRAM, for the requested frames
and size. The estimate (``estimate_peak_gb``) is built from:

- weights in fp16: UNet3D ~998 M parameters = 2.0 GB, CLIP text encoder 0.25 GB, VAE 0.17 GB, plus ~0.6 GB of CUDA
  context and allocator slack;
- activations, which grow linearly with frames x height x width and double with classifier-free guidance (both
  branches in one batch): about 0.35 GB per 512x512 frame-image with SDPA (high), 0.15 GB with attention slicing and
  feed-forward chunking (medium), 0.12 GB with smaller chunks (low);
- the VAE decode, ~0.35 GB per 512x512 frame decoded at once (8 frames per call in high, 1 in medium/low).

These figures are ESTIMATES (no GPU run has measured them yet: see docs/gpu.md); with the defaults (24 frames,
512x512) they give high >= ~22 GB free, medium >= ~11.4 GB, low below that.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..exceptions import InvalidInput
from ..messages import Message

MEMORY_CHOICES = ("auto", "high", "medium", "low")
GPU_PRESETS = ("high", "medium", "low")

# --- estimate constants (GB), see the module docstring ---------------------------------------------------------
UNET_GB = 2.0
TEXT_ENCODER_GB = 0.25
VAE_GB = 0.17
CUDA_CONTEXT_GB = 0.6
ACTIVATION_GB_PER_IMAGE = {"high": 0.35, "medium": 0.15, "low": 0.12}
VAE_DECODE_GB_PER_FRAME = 0.35
HEADROOM = 0.9  # use at most 90 % of the free VRAM: fragmentation and other processes


@dataclass(frozen=True)
class Preset:
    name: str  # high | medium | low | cpu
    dtype: str  # fp16 | bf16 | fp32
    offload: str  # none | model (accelerate model CPU offload)
    vae_slicing: bool
    vae_tiling: bool
    attention_chunk: int | None  # attention slice size (rows of batch*frames*heads); None = one SDPA call
    decode_chunk_size: int  # frames per VAE decode call
    reason: str
    device: str = "cuda"
    ff_chunk: int | None = None  # feed-forward chunk (tokens); None = off
    estimated_peak_gb: float | None = None
    warning: str = ""

    @property
    def torch_dtype(self):
        import torch

        return {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[self.dtype]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _workload(frames: int, width: int, height: int) -> float:
    """Frames x pixels in units of one 512x512 image."""
    return frames * width * height / (512 * 512)


def estimate_peak_gb(name: str, frames: int = 24, width: int = 512, height: int = 512,
                     guidance: bool = True) -> float:
    """Estimated peak GPU memory (GB) of one generation with GPU preset ``name`` (see the module docstring)."""
    if name not in GPU_PRESETS:
        raise InvalidInput(f"no GPU memory estimate for preset {name!r}", field="memory", value=name,
                           hint=f"Use one of: {', '.join(GPU_PRESETS)}.")
    images = _workload(frames, width, height) * (2 if guidance else 1)
    # With model offload only the UNet is resident while denoising; the VAE comes in for the decode.
    weights = UNET_GB if name == "low" else UNET_GB + TEXT_ENCODER_GB + VAE_GB
    decode_frames = 8 if name == "high" else 1
    decode = VAE_DECODE_GB_PER_FRAME * min(decode_frames, frames) * width * height / (512 * 512)
    return round(weights + CUDA_CONTEXT_GB + max(ACTIVATION_GB_PER_IMAGE[name] * images, decode), 2)


def _gpu_preset(name: str, device: str, reason: str, frames: int, width: int, height: int) -> Preset:
    peak = estimate_peak_gb(name, frames, width, height)
    if name == "high":
        return Preset("high", "fp16", "none", False, False, None, 8, reason, device, None, peak)
    if name == "medium":
        return Preset("medium", "fp16", "none", True, True, 16, 1, reason, device, 1024, peak)
    return Preset("low", "fp16", "model", True, True, 8, 1, reason, device, 512, peak)


def cpu_preset(bf16_cpu: bool, reason: str = "") -> Preset:
    dtype = "bf16" if bf16_cpu else "fp32"
    why = reason or ("no CUDA GPU: running on the CPU in "
                     + ("bf16 (the CPU has native bf16: AVX512-BF16/AMX)" if bf16_cpu else
                        "fp32 (the CPU has no native bf16)"))
    return Preset("cpu", dtype, "none", True, False, None, 1, why, "cpu", None, None, Message("preset.cpu_slow"))


def choose_preset(device: str, free_vram_gb: float | None, bf16_cpu: bool, memory: str = "auto", *,
                  frames: int = 24, width: int = 512, height: int = 512) -> Preset:
    """The preset for ``memory`` (auto|high|medium|low) on ``device`` with ``free_vram_gb`` free.

    ``device`` is ``cpu``, ``cuda`` or ``cuda:N``; ``free_vram_gb`` None means unknown (then ``auto`` is ``medium``);
    ``bf16_cpu``: the CPU computes bf16 natively (used on the CPU only).
    """
    if memory not in MEMORY_CHOICES:
        raise InvalidInput(f"memory preset {memory!r} is not one of {', '.join(MEMORY_CHOICES)}", field="memory",
                           value=memory, hint="Use --memory auto (picks by free GPU memory), high, medium or low.")
    if not isinstance(device, str) or not (device == "cpu" or device == "cuda" or device.startswith("cuda:")):
        raise InvalidInput(f"device {device!r} has no memory presets", field="device", value=device,
                           hint="Use cpu, cuda or cuda:N.")
    if device == "cpu":
        return cpu_preset(bf16_cpu)
    if memory != "auto":
        preset = _gpu_preset(memory, device, f"--memory {memory} asked for", frames, width, height)
        if free_vram_gb is not None and preset.estimated_peak_gb and preset.estimated_peak_gb > free_vram_gb:
            return _with_warning(preset, free_vram_gb)
        return preset
    if free_vram_gb is None:
        return _gpu_preset("medium", device, "free GPU memory unknown: the middle preset", frames, width, height)
    budget = free_vram_gb * HEADROOM
    for name in GPU_PRESETS:
        peak = estimate_peak_gb(name, frames, width, height)
        if peak <= budget:
            return _gpu_preset(name, device, f"{free_vram_gb:.1f} GB free; {name} needs ~{peak:.1f} GB (estimated) "
                               f"for {frames} frames at {width}x{height}", frames, width, height)
    low = _gpu_preset("low", device, f"{free_vram_gb:.1f} GB free: less than any preset is estimated to need",
                      frames, width, height)
    return _with_warning(low, free_vram_gb)


def _with_warning(preset: Preset, free_vram_gb: float) -> Preset:
    from dataclasses import replace

    return replace(preset, warning=Message("preset.low_memory", preset=preset.name,
                                           need=f"{preset.estimated_peak_gb:.1f}", free=f"{free_vram_gb:.1f}"))


def apply_preset(pipe: Any, preset: Preset) -> list[str]:
    """Switch on the pipeline's opt-in memory savers for ``preset``; returns what was applied (for the job record).

    Only methods the pipeline or its UNet actually has are called (``enable_vae_slicing``, ``enable_vae_tiling``,
    ``enable_model_cpu_offload``, ``unet.set_attention_slice``, ``unet.enable_forward_chunking``); the dtype and,
    without offload, the device are chosen at load time (``preset.torch_dtype``, ``preset.device``).
    ``preset.decode_chunk_size`` is a call argument of the pipeline, passed by the engine.
    """
    applied: list[str] = []
    unet = getattr(pipe, "unet", None)

    def call(obj: Any, method: str, *args: Any, label: str | None = None, **kwargs: Any) -> None:
        fn = getattr(obj, method, None) if obj is not None else None
        if callable(fn):
            fn(*args, **kwargs)
            applied.append(label or method)

    if preset.vae_slicing:
        call(pipe, "enable_vae_slicing")
    elif hasattr(pipe, "disable_vae_slicing"):
        pipe.disable_vae_slicing()
    if preset.vae_tiling:
        call(pipe, "enable_vae_tiling")
    elif hasattr(pipe, "disable_vae_tiling"):
        pipe.disable_vae_tiling()
    if preset.attention_chunk:
        call(unet, "set_attention_slice", preset.attention_chunk,
             label=f"unet.set_attention_slice({preset.attention_chunk})")
    else:
        call(unet, "set_attention_slice", None, label="unet.set_attention_slice(None)")
    if preset.ff_chunk:
        call(unet, "enable_forward_chunking", preset.ff_chunk, 1,
             label=f"unet.enable_forward_chunking({preset.ff_chunk})")
    elif unet is not None and hasattr(unet, "disable_forward_chunking"):
        unet.disable_forward_chunking()
    if preset.offload == "model":
        # Call on a pipeline still on the CPU (load with device="cpu"): accelerate then moves each model to the GPU
        # only while it runs.
        kwargs = {"device": preset.device} if preset.device != "cuda" else {}
        try:
            call(pipe, "enable_model_cpu_offload", label="enable_model_cpu_offload", **kwargs)
        except RuntimeError as exc:  # no CUDA / no accelerate: say which preset needs what
            from ..exceptions import DeviceError

            raise DeviceError(f"memory preset {preset.name!r} needs model CPU offload, which failed: {exc}",
                              field="memory", value=preset.name,
                              hint="Use --memory medium, or run on a CUDA GPU with accelerate installed.") from exc
    return applied
