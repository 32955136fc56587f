"""Wan VACE memory presets: where the pipeline's parts sit so that it fits the GPU it runs on.

``memory`` = ``auto|high|medium|low`` (the same setting as Follow-Your-Pose's, ``text2video.models.presets``):

=======  ======================================================================================================
high     everything on the GPU (transformer + UMT5 text encoder in the run dtype, VAE in fp32): fastest.
medium   model CPU offload (diffusers ``enable_model_cpu_offload``): each part comes onto the GPU only while it
         runs (text encoder -> transformer -> VAE); the largest part sets the peak.
low      group offload of the transformer (diffusers ``enable_group_offload``, one block per group, CUDA streams
         prefetching the next block), the text encoder on the CPU, the VAE on the GPU. Slowest GPU preset.
cpu      no GPU: everything on the CPU in bf16 (CPUs with native bf16) or fp32. Tiny demo weights only, in practice.
=======  ======================================================================================================

``auto`` picks the fastest GPU preset whose *estimated* peak fits in 90 % of the free VRAM, for the requested frames
and size. The estimate (:func:`estimate_peak_gb`) is built from parameter counts and activation sizes. All figures
are ESTIMATES: no GPU run has measured them.

Parameter counts (counted from the published configs on PyTorch's meta device, diffusers 0.42.1; the 14B's 69.4 GB
of fp32 transformer files agree, the 1.3B's listed 7.15 GB is less than 2.15e9 fp32 parameters take: unresolved,
the count is used): transformer ``WanVACETransformer3DModel`` 1.3B = 2.15e9 (30 blocks of 46 M + 15 VACE blocks of 51 M:
more than the "1.3B" name says), 14B = 17.3e9 (40 blocks of 351 M + 8 VACE blocks of 404 M); UMT5-XXL encoder
5.68e9 (11.4 GB of bf16 files); VAE ``AutoencoderKLWan`` 0.127e9 (kept in fp32).

Activations (bf16, per denoising forward; classifier-free guidance runs a separate forward, so it does not double
the peak): the transformer sees ``tokens = latent_frames x (height/16) x (width/16)`` with
``latent_frames = (frames - 1) / 4 + 1`` (+1 for the reference image). diffusers computes every VACE block's hint
before the main blocks, so ``len(vace_layers)`` hints of ``tokens x dim`` are alive at once, plus about
``ACTIVATION_TENSORS`` tensors of ``tokens x dim`` and one of ``tokens x ffn_dim`` (SDPA attention keeps no
tokens x tokens matrix). The VAE encode/decode (fp32, causal, one latent frame at a time) is taken as
``VAE_GB_PER_MEGAPIXEL`` per megapixel of frame size. GB here = GiB, as free VRAM is measured. With 81 frames:
1.3B at 832x480 -> high ~18.4 GB, medium ~11.4 GB (the bf16 text encoder alone is 10.6 GiB), low ~4 GB; 14B at
1280x720 -> high ~56 GB, medium ~45 GB, low ~15 GB (diffusers' Wan docs report 14B in about 13 GB with group
offload; users report 1.3B at ~18 GB with the official scripts).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MEMORY_CHOICES = ("auto", "high", "medium", "low")
GPU_PRESETS = ("high", "medium", "low")
HEADROOM = 0.9  # use at most 90 % of the free VRAM (fragmentation, other processes), as the FYP presets do
GB = 2**30  # GiB, as free VRAM is measured (torch.cuda.mem_get_info / 2**30)

# --- estimate constants (see the module docstring) ---------------------------------------------------------------
PARAMS = {  # per variant folder: parameters and the transformer's width, ffn width, VACE hint count
    "wan2.1-vace-1.3b": dict(transformer=2.154e9, dim=1536, ffn_dim=8960, layers=30, vace_layers=15,
                             block=46.44e6, vace_block=51.16e6),
    "wan2.1-vace-14b": dict(transformer=17.338e9, dim=5120, ffn_dim=13824, layers=40, vace_layers=8,
                            block=351.39e6, vace_block=403.83e6),
}
TEXT_ENCODER_PARAMS = 5.68e9
VAE_PARAMS = 0.127e9
CUDA_CONTEXT_GB = 0.8
ACTIVATION_TENSORS = 6
VAE_GB_PER_MEGAPIXEL = 6.0


@dataclass(frozen=True)
class WanPreset:
    name: str  # high | medium | low | cpu
    placement: str  # gpu | model_offload | group_offload | cpu
    reason: str
    estimated_peak_gb: float | None = None
    warning: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _variant_params(folder: str) -> dict[str, float]:
    if folder not in PARAMS:
        raise ValueError(f"no memory estimate for Wan VACE folder {folder!r}: use one of {', '.join(PARAMS)}")
    return PARAMS[folder]


def latent_tokens(frames: int, width: int, height: int, reference: bool = False) -> int:
    """Transformer tokens of one forward: latent frames x (h/8/2) x (w/8/2)."""
    return ((frames - 1) // 4 + 1 + int(reference)) * (height // 16) * (width // 16)


def activation_gb(folder: str, frames: int, width: int, height: int, reference: bool = False) -> float:
    p = _variant_params(folder)
    tokens = latent_tokens(frames, width, height, reference)
    return tokens * ((p["vace_layers"] + ACTIVATION_TENSORS) * p["dim"] + p["ffn_dim"]) * 2 / GB


def estimate_peak_gb(folder: str, name: str, frames: int = 81, width: int = 832, height: int = 480,
                     reference: bool = False, dtype_bytes: int = 2) -> float:
    """Estimated peak GPU memory (GB) of one generation with GPU preset ``name`` (see the module docstring)."""
    if name not in GPU_PRESETS:
        raise ValueError(f"no GPU memory estimate for preset {name!r}: use one of {', '.join(GPU_PRESETS)}")
    p = _variant_params(folder)
    transformer = p["transformer"] * dtype_bytes / GB
    text_encoder = TEXT_ENCODER_PARAMS * dtype_bytes / GB
    vae = VAE_PARAMS * 4 / GB
    act = activation_gb(folder, frames, width, height, reference)
    vae_work = VAE_GB_PER_MEGAPIXEL * width * height / 1e6
    if name == "high":
        peak = transformer + text_encoder + vae + max(act, vae_work)
    elif name == "medium":  # one part at a time on the GPU
        peak = max(text_encoder, transformer + act, vae + vae_work)
    else:  # group offload: the layers outside the blocks + two blocks in flight (the stream prefetches one)
        outside = p["transformer"] - p["layers"] * p["block"] - p["vace_layers"] * p["vace_block"]
        blocks = 2 * max(p["block"], p["vace_block"])
        peak = (max(outside, 0) + blocks) * dtype_bytes / GB + vae + max(act, vae_work)
    return round(peak + CUDA_CONTEXT_GB, 2)


def _gpu_preset(folder: str, name: str, reason: str, frames: int, width: int, height: int,
                reference: bool) -> WanPreset:
    placement = {"high": "gpu", "medium": "model_offload", "low": "group_offload"}[name]
    return WanPreset(name, placement, reason, estimate_peak_gb(folder, name, frames, width, height, reference))


def _low_memory(preset: WanPreset, free_vram_gb: float) -> WanPreset:
    from dataclasses import replace

    return replace(preset, warning=f"preset {preset.name} is estimated to need ~{preset.estimated_peak_gb:.1f} GB "
                                   f"but only {free_vram_gb:.1f} GB is free: it may run out of memory. Lower "
                                   "--frames, --width/--height, or free the GPU.")


def choose_preset(folder: str, device: str, free_vram_gb: float | None, memory: str = "auto", *, frames: int = 81,
                  width: int = 832, height: int = 480, reference: bool = False) -> WanPreset:
    """The Wan preset for ``memory`` (auto|high|medium|low) on ``device`` (cpu | cuda | cuda:N) with
    ``free_vram_gb`` free (None = unknown: then ``auto`` takes ``medium``)."""
    if memory not in MEMORY_CHOICES:
        raise ValueError(f"memory preset {memory!r} is not one of {', '.join(MEMORY_CHOICES)}: use auto (picks "
                         "by free GPU memory), high, medium or low")
    if device == "cpu":
        return WanPreset("cpu", "cpu", "no CUDA GPU: everything on the CPU")
    if not (device == "cuda" or device.startswith("cuda:")):
        raise ValueError(f"device {device!r} has no Wan memory presets: use cpu, cuda or cuda:N")
    size = (frames, width, height, reference)
    if memory != "auto":
        preset = _gpu_preset(folder, memory, f"memory {memory} asked for", *size)
        too_big = free_vram_gb is not None and preset.estimated_peak_gb > free_vram_gb
        return _low_memory(preset, free_vram_gb) if too_big else preset
    if free_vram_gb is None:
        return _gpu_preset(folder, "medium", "free GPU memory unknown: the middle preset", *size)
    for name in GPU_PRESETS:
        peak = estimate_peak_gb(folder, name, frames, width, height, reference)
        if peak <= free_vram_gb * HEADROOM:
            return _gpu_preset(folder, name, f"{free_vram_gb:.1f} GB free; {name} needs ~{peak:.1f} GB (estimated) "
                               f"for {frames} frames at {width}x{height}", *size)
    low = _gpu_preset(folder, "low", f"{free_vram_gb:.1f} GB free: less than any preset is estimated to need", *size)
    return _low_memory(low, free_vram_gb)


def apply_preset(pipe: Any, preset: WanPreset, device: Any) -> list[str]:
    """Place a freshly loaded (CPU) ``WanVACEPipeline`` as ``preset`` says; returns what was applied.

    ``device`` is the torch device to run on (the GPU for the GPU presets). Group offload with
    ``onload_device`` = ``offload_device`` = CPU is accepted by diffusers and runs (tests use it on the CPU);
    CUDA streams are used only when the onload device is a GPU.
    """
    import torch

    device = torch.device(device)
    if preset.placement in ("gpu", "cpu"):
        pipe.to(device)
        return [f"pipe.to({device})"]
    if preset.placement == "model_offload":
        pipe.enable_model_cpu_offload(device=device)  # diffusers accepts device=cpu too (a no-op move: tests)
        return ["enable_model_cpu_offload"]
    streams = device.type == "cuda"
    pipe.transformer.enable_group_offload(onload_device=device, offload_device=torch.device("cpu"),
                                          offload_type="block_level", num_blocks_per_group=1, use_stream=streams)
    pipe.vae.to(device)
    pipe.text_encoder.to("cpu")  # UMT5 runs on the CPU: its 11 GB never reach the GPU
    return [f"transformer.enable_group_offload(block_level, 1 block, streams={streams})", f"vae.to({device})",
            "text_encoder on cpu"]
