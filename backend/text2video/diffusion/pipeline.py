"""Follow-Your-Pose text+pose -> video pipeline in the diffusers style.

Components (by composition, ``register_modules``): ``vae`` (AutoencoderKL), ``text_encoder`` (CLIPTextModel),
``tokenizer`` (CLIPTokenizer), ``unet`` (:class:`text2video.diffusion.unet3d.UNet3DConditionModel`) and
``scheduler`` (DDIM by default, as the reference; DPM-Solver++ multistep via ``set_scheduler("dpm++")``).

Unlike the reference implementation, work that depends neither on the timestep nor on the guidance branch is done
once per generation: the text embeddings (``encode_prompt``) and the pose-adapter features (``prepare_pose``).
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np
import torch
from diffusers import AutoencoderKL, DDIMScheduler, DiffusionPipeline, DPMSolverMultistepScheduler
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor
from transformers import CLIPTextModel, CLIPTokenizer

from ..exceptions import Canceled, DeviceError, InvalidInput, ModelsMissing
from ..models.clip_tokenizer import load_clip_tokenizer
from ..models.inventory import Inventory, inventory
from ..models.layout import ModelPaths
from .attention import FrameAnchor
from .compilation import CompiledUNet
from .windows import DEFAULT_OVERLAP, DEFAULT_WINDOW, blend_weights, frame_windows

log = logging.getLogger(__name__)

SCHEDULERS = ("ddim", "dpm++")
OUTPUT_TYPES = ("np", "pt", "latent")
# Longer videos are denoised in overlapping windows (DEFAULT_WINDOW / DEFAULT_OVERLAP: see .windows).
# SD-1.x VAE latent scale; used when a VAE config does not carry ``scaling_factor``.
DEFAULT_LATENT_SCALE = 0.18215

StepCallback = Callable[[int, int], Optional[bool]]
# diffusers' ``callback_on_step_end(pipe, step_index, timestep, callback_kwargs) -> dict``
StepEndCallback = Callable[[Any, int, torch.Tensor, dict], Optional[dict]]


@dataclass
class FollowYourPosePipelineOutput(BaseOutput):
    """``frames``: output_type "np" -> float32 array (batch, frames, height, width, 3) in [0, 1];
    "pt" -> tensor (batch, frames, 3, height, width) in [0, 1]; "latent" -> latents (batch, 4, frames, h, w)."""

    frames: Union[np.ndarray, torch.Tensor]


def check_models_dir(models_dir: Union[str, Path]) -> Inventory:
    """Raise ModelsMissing naming the folder, what is missing in it and the command that fetches it; else what the
    folder holds."""
    root = Path(models_dir)
    found = inventory(root, parts=("diffusion",))
    if not found.exists:
        raise ModelsMissing(f"models folder {str(root)!r} does not exist", field="models_dir", value=str(root),
                            hint="Run `python manage.py download` to fetch the weights, or use --models demo for "
                            "tiny demo weights.")
    missing = found.missing["diffusion"]
    if missing:
        shown = ", ".join(missing[:10]) + (f" (and {len(missing) - 10} more)" if len(missing) > 10 else "")
        raise ModelsMissing(f"models folder {str(root)!r} is incomplete: missing {shown}", field="models_dir",
                            value=str(root), hint="Run `python manage.py download` to fetch them (or use "
                            "--models demo for tiny demo weights).")
    return found


def check_device(device: Union[str, torch.device]) -> torch.device:
    """The torch device asked for, refusing CUDA where there is none (never a silent CPU fallback)."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise DeviceError(f"device {device!r} is not a device name", field="device", value=str(device),
                          hint="Use auto, cpu, cuda or cuda:N.") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {device!r} was asked for but CUDA is not available on this machine",
                              field="device", value=str(device),
                              hint="Use --device cpu (or auto), or install a CUDA build of torch on a GPU machine.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"device {device!r} does not exist: this machine has {torch.cuda.device_count()} "
                              "CUDA device(s)", field="device", value=str(device), hint="Use cuda:0 or cuda.")
    elif dev.type not in ("cpu", "mps", "xpu"):
        raise DeviceError(f"device {device!r} is not supported", field="device", value=str(device),
                          hint="Use auto, cpu, cuda or cuda:N.")
    return dev


class FollowYourPosePipeline(DiffusionPipeline):
    r"""Pose-guided text-to-video generation with Follow-Your-Pose (Stable Diffusion v1-4 + UNet3D + pose adapter).

    Example::

        pipe = FollowYourPosePipeline.from_models_dir("models", device="cuda", torch_dtype=torch.float16)
        out = pipe("an astronaut on the beach", pose=skeleton_frames, video_length=24,
                   generator=torch.Generator().manual_seed(0))
        frames = out.frames[0]  # (24, 512, 512, 3) float in [0, 1]
    """

    model_cpu_offload_seq = "text_encoder->unet->vae"
    _callback_tensor_inputs = ["latents", "noise_pred", "pred_original_sample"]  # what callback_on_step_end may ask

    def __init__(self, vae: AutoencoderKL, text_encoder: CLIPTextModel, tokenizer: CLIPTokenizer, unet: Any,
                 scheduler: Union[DDIMScheduler, DPMSolverMultistepScheduler]):
        super().__init__()
        self.register_modules(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                              scheduler=scheduler)
        self.vae_scale_factor = 2 ** (len(self.vae.config.block_out_channels) - 1) if vae is not None else 8
        # Counters a test (or a curious user) can read: how often the expensive parts ran in the last call.
        self.last_call_stats: dict[str, int] = {}
        self._num_timesteps = 0
        self.compiled_unet: Optional[CompiledUNet] = None  # set by enable_compile()

    @property
    def num_timesteps(self) -> int:
        """Denoising steps of the current (or last) call, as in diffusers pipelines."""
        return self._num_timesteps

    # ------------------------------------------------------------------------------------------------ loading
    @classmethod
    def from_models_dir(cls, models_dir: Union[str, Path], *, device: Union[str, torch.device] = "cpu",
                        torch_dtype: torch.dtype = torch.float32, scheduler: str = "ddim") -> "FollowYourPosePipeline":
        """Load SD-1.4 (tokenizer, text encoder, VAE, scheduler) + the Follow-Your-Pose UNet3D from a models folder
        in the layout of :mod:`text2video.models.layout`, then move everything to ``device``/``torch_dtype``."""
        from .unet3d import UNet3DConditionModel

        root = Path(models_dir)
        found = check_models_dir(root)
        dev = check_device(device)
        paths = ModelPaths(root)
        sd, variant = paths.sd, found.sd_variant
        tokenizer = load_clip_tokenizer(root)  # the same object the prompt stage's token report uses
        text_encoder = CLIPTextModel.from_pretrained(sd / "text_encoder", torch_dtype=torch_dtype)
        vae = AutoencoderKL.from_pretrained(sd / "vae", torch_dtype=torch_dtype,
                                            variant=variant)
        unet = UNet3DConditionModel.from_pretrained_2d(
            sd / "unet", fyp_checkpoint=paths.fyp_checkpoint, pose_encoder=paths.pose_encoder,
            torch_dtype=torch_dtype, device=dev, variant=variant)
        # The reference builds DDIM from SD-1.4's scheduler config (a PNDM config: scaled_linear betas,
        # steps_offset 1, set_alpha_to_one False); DDIMScheduler reads the fields it knows.
        sched = DDIMScheduler.from_pretrained(sd / "scheduler")
        pipe = cls(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=sched)
        pipe.set_scheduler(scheduler)
        pipe.to(dev)  # components were loaded in torch_dtype already
        return pipe

    def set_scheduler(self, name: str) -> None:
        """``ddim`` (the reference sampler) or ``dpm++`` (DPM-Solver++ multistep: similar quality in fewer steps)."""
        if name not in SCHEDULERS:
            raise InvalidInput(f"scheduler {name!r} is not supported", field="scheduler", value=name,
                               hint=f"Use one of: {', '.join(SCHEDULERS)}.")
        current = "dpm++" if isinstance(self.scheduler, DPMSolverMultistepScheduler) else "ddim"
        if name == current:
            return
        if name == "dpm++":
            self.scheduler = DPMSolverMultistepScheduler.from_config(
                self.scheduler.config, algorithm_type="dpmsolver++", solver_order=2)
        else:
            self.scheduler = DDIMScheduler.from_config(self.scheduler.config)

    # ----------------------------------------------------------------------------------------- memory savers
    def enable_vae_slicing(self) -> None:
        """Decode one frame of a chunk at a time (less peak memory, slightly slower)."""
        self.vae.enable_slicing()

    def disable_vae_slicing(self) -> None:
        self.vae.disable_slicing()

    def enable_vae_tiling(self) -> None:
        """Decode each frame in overlapping tiles: for large resolutions on small GPUs."""
        self.vae.enable_tiling()

    def disable_vae_tiling(self) -> None:
        self.vae.disable_tiling()

    # ------------------------------------------------------------------------------------------------ speed
    def enable_compile(self, mode: str = "default", *, backend: str = "inductor",
                       cache_dir: Optional[Path] = None) -> CompiledUNet:
        """Run the UNet through ``torch.compile`` (see :mod:`.compilation`): each new input shape compiles on its
        first step (slow: seconds to minutes), later steps are faster. Where compiling fails the UNet runs eager
        and ``compiled_unet.failure`` says why. The UNet module itself is unchanged."""
        self.compiled_unet = CompiledUNet(self.unet, mode, backend=backend, cache_dir=cache_dir)
        return self.compiled_unet

    def disable_compile(self) -> None:
        self.compiled_unet = None

    # --------------------------------------------------------------------------------------------- helpers
    def check_inputs(self, prompt: Any, pose: Any, video_length: int, height: int, width: int,
                     num_inference_steps: int, guidance_scale: float, negative_prompt: Any = None,
                     output_type: str = "np", decode_chunk_size: int = 8, latents: Optional[torch.Tensor] = None
                     ) -> None:
        if not isinstance(prompt, str) or not prompt.strip():
            raise InvalidInput(f"prompt must be a non-empty string, got {prompt!r}", field="prompt", value=prompt,
                               hint="Describe the character and the scene, e.g. 'an astronaut on the beach'.")
        if negative_prompt is not None and not isinstance(negative_prompt, str):
            raise InvalidInput(f"negative_prompt must be a string or None, got {type(negative_prompt).__name__}",
                               field="negative_prompt", value=negative_prompt, hint="Pass text or leave it out.")
        for name, value in (("height", height), ("width", width)):
            if not isinstance(value, int) or value <= 0 or value % 64:
                raise InvalidInput(f"{name} must be a positive multiple of 64, got {value!r}", field=name,
                                   value=value, hint=f"Use e.g. {max(64, (int(value) // 64) * 64 if isinstance(value, (int, float)) and value > 0 else 512)}.")
        if not isinstance(num_inference_steps, int) or num_inference_steps <= 0:
            raise InvalidInput(f"num_inference_steps must be a positive integer, got {num_inference_steps!r}",
                               field="steps", value=num_inference_steps, hint="Use e.g. 50 (DDIM) or 25 (dpm++).")
        if not isinstance(guidance_scale, (int, float)) or guidance_scale < 0:
            raise InvalidInput(f"guidance_scale must be >= 0, got {guidance_scale!r}", field="guidance_scale",
                               value=guidance_scale, hint="Use e.g. 12.5; 1.0 or less turns guidance off.")
        if not isinstance(video_length, int) or video_length <= 0:
            raise InvalidInput(f"video_length must be a positive integer, got {video_length!r}", field="frames",
                               value=video_length, hint="Use e.g. 24.")
        if output_type not in OUTPUT_TYPES:
            raise InvalidInput(f"output_type {output_type!r} is not supported", field="output_type",
                               value=output_type, hint=f"Use one of: {', '.join(OUTPUT_TYPES)}.")
        if not isinstance(decode_chunk_size, int) or decode_chunk_size <= 0:
            raise InvalidInput(f"decode_chunk_size must be a positive integer, got {decode_chunk_size!r}",
                               field="decode_chunk_size", value=decode_chunk_size, hint="Use e.g. 8.")
        shape = tuple(pose.shape) if hasattr(pose, "shape") else None
        if shape is None or len(shape) not in (4, 5):
            raise InvalidInput(f"pose must be skeleton frames shaped (frames, 3, H, W) or (1, frames, 3, H, W) "
                               f"(tensor in [0, 1]) or (frames, H, W, 3) (uint8 array), got "
                               f"{shape if shape is not None else type(pose).__name__}", field="pose",
                               value=shape, hint="Read the skeleton video with text2video.video.iter_frames.")
        if len(shape) == 5 and shape[0] != 1:
            raise InvalidInput(f"pose batch must be 1, got {shape[0]}", field="pose", value=shape,
                               hint="Generate one video per call.")
        frames, ph, pw = self._pose_frames_hw(pose)
        if frames < video_length:
            raise InvalidInput(f"pose has {frames} frames but video_length is {video_length}", field="frames",
                               value=video_length, hint=f"Ask for at most {frames} frames, or use a longer pose "
                               "video / a smaller stride.")
        if (ph, pw) != (height, width):
            raise InvalidInput(f"pose frames are {pw}x{ph} but the output is {width}x{height}", field="pose",
                               value=(pw, ph), hint="Resize/crop the skeleton frames to the output size "
                               "(text2video.video.iter_frames(size=(width, height))).")
        if latents is not None:
            expected = (1, self.unet.config.in_channels, video_length, height // self.vae_scale_factor,
                        width // self.vae_scale_factor)
            if tuple(latents.shape) != expected:
                raise InvalidInput(f"latents shape {tuple(latents.shape)} does not match {expected}",
                                   field="latents", value=tuple(latents.shape),
                                   hint="Pass latents shaped (1, 4, frames, height/8, width/8) or none.")

    @staticmethod
    def _pose_frames_hw(pose: Any) -> tuple[int, int, int]:
        shape = tuple(pose.shape)
        if len(shape) == 5:
            shape = shape[1:]
        if isinstance(pose, np.ndarray) and shape[-1] == 3:  # (F, H, W, 3) uint8 frames as decoded
            return shape[0], shape[1], shape[2]
        return shape[0], shape[2], shape[3]

    def encode_prompt(self, prompt: str, device: torch.device, do_classifier_free_guidance: bool,
                      negative_prompt: Optional[str] = None) -> torch.Tensor:
        """CLIP embeddings, once per generation: (2, 77, D) = [negative/unconditional, prompt] with guidance,
        (1, 77, D) without. Text past CLIP's 77 tokens is dropped (as in SD); the prompt stage reports it."""

        def embed(text: str) -> torch.Tensor:
            ids = self.tokenizer(text, padding="max_length", max_length=self.tokenizer.model_max_length,
                                 truncation=True, return_tensors="pt").input_ids
            return self.text_encoder(ids.to(device))[0]

        cond = embed(prompt)
        if not do_classifier_free_guidance:
            return cond
        uncond = embed(negative_prompt or "")
        return torch.cat([uncond, cond])

    def prepare_pose(self, pose: Any, video_length: int, device: torch.device, dtype: torch.dtype,
                     chunk_frames: Optional[int] = None, storage_device: Optional[torch.device] = None) -> Any:
        """Skeleton frames -> pose-adapter features, computed ONCE per generation and reused at every step for
        both guidance branches (they depend on neither): a list of (1, F, C_i, h_i, w_i) tensors.

        Long videos: frames are converted and encoded ``chunk_frames`` at a time (the adapter works frame by
        frame, so the result is the same), and the features can be kept on ``storage_device`` (the CPU) until
        a window needs them."""
        if isinstance(pose, np.ndarray):
            source = torch.from_numpy(np.ascontiguousarray(pose[0] if pose.ndim == 5 else pose)).permute(0, 3, 1, 2)
        else:
            source = pose[0] if pose.ndim == 5 else pose
        source = source[:video_length]  # uint8 stays uint8 until its chunk is converted
        # With model CPU offload the accelerate hook only fires on forward(); bring the UNet in for encode_pose.
        hook = getattr(self.unet, "_hf_hook", None)
        if hook is not None and hasattr(hook, "pre_forward"):
            hook.pre_forward(self.unet)
        chunk = chunk_frames or video_length
        parts: list[list[torch.Tensor]] = []
        for start in range(0, video_length, chunk):
            frames = source[start:start + chunk].to(device)
            frames = frames.float() / 255.0 if frames.dtype == torch.uint8 else frames.float()
            self.last_call_stats["encode_pose"] = self.last_call_stats.get("encode_pose", 0) + 1
            features = self.unet.encode_pose(frames.unsqueeze(0).to(dtype))  # (1, f, 3, H, W) in [0, 1]
            if storage_device is not None:
                features = [f.to(storage_device) for f in features]
            parts.append(features)
        if len(parts) == 1:
            return parts[0]
        return [torch.cat(level, dim=1) for level in zip(*parts)]

    def prepare_latents(self, batch_size: int, num_channels: int, video_length: int, height: int, width: int,
                        dtype: torch.dtype, device: torch.device, generator: Optional[torch.Generator],
                        latents: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Initial noise (batch, 4, frames, h, w). Drawn on the generator's device (CPU generators give the same
        noise on every device), then scaled by the scheduler's initial sigma."""
        shape = (batch_size, num_channels, video_length, height // self.vae_scale_factor,
                 width // self.vae_scale_factor)
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
        else:
            latents = latents.to(device=device, dtype=dtype)
        return latents * self.scheduler.init_noise_sigma

    def prepare_extra_step_kwargs(self, generator: Optional[torch.Generator], eta: float) -> dict[str, Any]:
        params = set(inspect.signature(self.scheduler.step).parameters)
        kwargs: dict[str, Any] = {}
        if "eta" in params:
            kwargs["eta"] = eta
        if "generator" in params:
            kwargs["generator"] = generator
        return kwargs

    def _predict_noise(self, latents: torch.Tensor, t: torch.Tensor, text_embeddings: torch.Tensor,
                       pose_features: Any, do_cfg: bool, guidance_scale: float) -> torch.Tensor:
        """One UNet evaluation (both guidance branches in one batch) -> the guided noise prediction."""
        model_input = torch.cat([latents] * 2) if do_cfg else latents
        model_input = self.scheduler.scale_model_input(model_input, t)
        unet = self.compiled_unet or self.unet
        out = unet(model_input, t, encoder_hidden_states=text_embeddings, pose_features=pose_features)
        self.last_call_stats["unet"] += 1
        noise_pred = (out.sample if hasattr(out, "sample") else out[0]).to(latents.dtype)
        if do_cfg:
            noise_uncond, noise_text = noise_pred.chunk(2)
            noise_pred = noise_uncond + guidance_scale * (noise_text - noise_uncond)
        return noise_pred

    def predicted_original_sample(self, step_output: Any, sample: torch.Tensor, noise_pred: torch.Tensor,
                                  t: torch.Tensor) -> torch.Tensor:
        """x0, the clean latents the scheduler predicts at this step: DDIM's step gives it; DPM-Solver++'s does not,
        so it is computed from the noise prediction the same way (x0 = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t))."""
        x0 = getattr(step_output, "pred_original_sample", None)
        if x0 is not None:
            return x0
        alpha = self.scheduler.alphas_cumprod[int(t)].to(sample.device, torch.float32)
        kind = self.scheduler.config.prediction_type
        x, out = sample.float(), noise_pred.float()
        if kind == "epsilon":
            x0 = (x - (1 - alpha).sqrt() * out) / alpha.sqrt()
        elif kind == "v_prediction":
            x0 = alpha.sqrt() * x - (1 - alpha).sqrt() * out
        else:  # "sample": the model predicts x0 itself
            x0 = out
        return x0.to(sample.dtype)

    def decode_latents(self, latents: torch.Tensor, decode_chunk_size: int = 8) -> torch.Tensor:
        """Latents (B, 4, F, h, w) -> video (B, F, 3, H, W) float32 in [0, 1], decoding ``decode_chunk_size``
        frames at a time so VAE memory does not grow with the video length."""
        b, c, f, h, w = latents.shape
        scale = getattr(self.vae.config, "scaling_factor", None) or DEFAULT_LATENT_SCALE
        flat = (latents / scale).permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
        flat = flat.to(dtype=self.vae.dtype)
        chunks = []
        for start in range(0, flat.shape[0], decode_chunk_size):
            image = self.vae.decode(flat[start:start + decode_chunk_size]).sample
            chunks.append(((image.float() + 1) / 2).clamp(0, 1).cpu())
        video = torch.cat(chunks)
        return video.reshape(b, f, *video.shape[1:])

    # ------------------------------------------------------------------------------------------------- call
    @torch.no_grad()
    def __call__(self, prompt: str, pose: Union[torch.Tensor, np.ndarray], video_length: int, height: int = 512,
                 width: int = 512, num_inference_steps: int = 50, guidance_scale: float = 12.5,
                 negative_prompt: Optional[str] = None, eta: float = 0.0,
                 generator: Optional[torch.Generator] = None, latents: Optional[torch.Tensor] = None,
                 output_type: str = "np", callback: Optional[StepCallback] = None, decode_chunk_size: int = 8,
                 window_size: Optional[int] = DEFAULT_WINDOW, window_overlap: int = DEFAULT_OVERLAP,
                 anchor_first_frame: bool = True, return_dict: bool = True,
                 callback_on_step_end: Optional[StepEndCallback] = None,
                 callback_on_step_end_tensor_inputs: tuple[str, ...] = ("latents",)
                 ) -> Union[FollowYourPosePipelineOutput, tuple]:
        r"""Generate ``video_length`` frames of ``prompt`` following ``pose``.

        Args:
            pose: skeleton frames at the output size, one per generated frame (extra frames are ignored):
                tensor (frames, 3, H, W) or (1, frames, 3, H, W) in [0, 1] (uint8 0..255 also accepted), or a
                uint8 array (frames, H, W, 3) as decoded from video.
            guidance_scale: classifier-free guidance weight; <= 1 runs the UNet on the prompt branch only.
            callback: ``callback(step, total)`` after every UNet pass: every denoising step, or every window of
                every step for long videos (``total`` = steps x windows; ``step`` counts from 1). Returning
                ``False`` or raising :class:`~text2video.exceptions.Canceled` stops the generation before the
                next UNet call (``Canceled`` is raised).
            decode_chunk_size: frames the VAE decodes at once.
            window_size, window_overlap: videos longer than ``window_size`` frames are denoised in overlapping
                windows (memory stays that of one window). Every window attends to the keys/values of the
                video's global first frame (recorded once per step) so they share one appearance; overlapping
                frames blend the windows' predictions. ``None`` = the whole video in one pass.
            anchor_first_frame: with several windows, every window's sparse-causal attention attends to the
                video's global frame 0 (keys/values recorded from the first window at every step) instead of its
                own first frame, so the character keeps one appearance. ``False`` lets each window anchor on its
                own first frame (for comparison). No effect on a video that fits in one window.
            callback_on_step_end: as in diffusers, ``callback_on_step_end(pipe, step_index, timestep,
                callback_kwargs)`` once per denoising step, after the scheduler step; ``callback_kwargs`` holds the
                tensors named in ``callback_on_step_end_tensor_inputs`` (``latents``: after the step,
                ``noise_pred``: the guided prediction of the whole video, ``pred_original_sample``: the predicted
                clean latents x0, e.g. for a live preview). A returned ``{"latents": ...}`` replaces the latents.
        """
        self.last_call_stats = {"unet": 0, "encode_pose": 0, "encode_prompt": 0}
        # 0. Check inputs: every error names the argument, its value and the fix.
        self.check_inputs(prompt, pose, video_length, height, width, num_inference_steps, guidance_scale,
                          negative_prompt, output_type, decode_chunk_size, latents)
        unknown = [k for k in callback_on_step_end_tensor_inputs if k not in self._callback_tensor_inputs]
        if unknown:
            raise InvalidInput(f"callback_on_step_end_tensor_inputs {unknown} are not available",
                               field="callback_on_step_end_tensor_inputs", value=unknown,
                               hint=f"Ask for some of: {', '.join(self._callback_tensor_inputs)}.")
        windows = frame_windows(video_length, window_size, window_overlap)
        device = self._execution_device
        do_cfg = guidance_scale > 1.0
        unet_dtype = self.unet.dtype

        # 1. Text embeddings, once (with guidance: [negative, prompt] stacked as one batch of 2).
        self.last_call_stats["encode_prompt"] += 1
        text_embeddings = self.encode_prompt(prompt, device, do_cfg, negative_prompt).to(unet_dtype)

        # 2. Pose-adapter features, once; the UNet broadcasts them over the guidance batch. Long videos on a GPU
        #    keep them in (pinned) CPU memory and bring each window's slice in when it runs.
        offload_features = len(windows) > 1 and device.type == "cuda"
        pose_features = self.prepare_pose(pose, video_length, device, unet_dtype,
                                          chunk_frames=windows[0][1] if len(windows) > 1 else None,
                                          storage_device=torch.device("cpu") if offload_features else None)
        if offload_features:
            pose_features = [f.pin_memory() for f in pose_features]

        # 3. Timesteps.
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        timesteps = self.scheduler.timesteps
        self._num_timesteps = len(timesteps)

        # 4. Initial latents (seeded by ``generator``).
        latents = self.prepare_latents(1, self.unet.config.in_channels, video_length, height, width, unet_dtype,
                                       device, generator, latents)
        extra_step_kwargs = self.prepare_extra_step_kwargs(generator, eta)

        # 5. Denoising loop: one UNet pass per window and step (one window unless the video is long). Progress
        #    and cancellation go by UNet pass: (pass, steps x windows).
        total = len(timesteps) * len(windows)
        done = 0

        def report() -> None:
            if callback is not None and callback(done, total) is False:
                raise Canceled("generation canceled", hint="Start a new generation to try again.")

        blend = blend_weights(windows, video_length, device, latents.dtype) if len(windows) > 1 else None
        anchor = FrameAnchor() if len(windows) > 1 and anchor_first_frame else None
        self.last_call_stats["windows"] = len(windows)
        self.unet.set_frame_anchor(anchor)
        try:
            with self.progress_bar(total=len(timesteps)) as progress_bar:
                for i, t in enumerate(timesteps):
                    if blend is None:
                        noise_pred = self._predict_noise(latents, t, text_embeddings, pose_features, do_cfg,
                                                         guidance_scale)
                    else:
                        noise_pred = torch.zeros_like(latents)
                        if anchor is not None:
                            anchor.clear()
                        for w, (start, end) in enumerate(windows):
                            # The first window holds the global frame 0: record its keys/values (this step's),
                            # the other windows attend to them instead of their own first frame.
                            if anchor is not None:
                                anchor.mode = "record" if w == 0 else "use"
                            part = self._predict_noise(latents[:, :, start:end], t, text_embeddings,
                                                       [f[:, start:end].to(device, non_blocking=True)
                                                        for f in pose_features], do_cfg, guidance_scale)
                            noise_pred[:, :, start:end] += part * blend[w]
                            if w < len(windows) - 1:
                                done += 1
                                report()
                    step_output = self.scheduler.step(noise_pred, t, latents, **extra_step_kwargs)
                    stepped = step_output.prev_sample
                    if callback_on_step_end is not None:
                        tensors = {"latents": stepped, "noise_pred": noise_pred}
                        if "pred_original_sample" in callback_on_step_end_tensor_inputs:  # only when asked
                            tensors["pred_original_sample"] = self.predicted_original_sample(
                                step_output, latents, noise_pred, t)
                        outputs = callback_on_step_end(
                            self, i, t, {k: tensors[k] for k in callback_on_step_end_tensor_inputs}) or {}
                        stepped = outputs.pop("latents", stepped)
                    latents = stepped
                    progress_bar.update()
                    done += 1
                    report()
        finally:
            if anchor is not None:
                anchor.clear()
                self.unet.set_frame_anchor(None)

        # 6. Decode in frame chunks.
        if output_type == "latent":
            frames: Union[np.ndarray, torch.Tensor] = latents
        else:
            video = self.decode_latents(latents, decode_chunk_size)
            frames = video if output_type == "pt" else video.permute(0, 1, 3, 4, 2).numpy()
        self.maybe_free_model_hooks()
        if not return_dict:
            return (frames,)
        return FollowYourPosePipelineOutput(frames=frames)


__all__ = ["FollowYourPosePipeline", "FollowYourPosePipelineOutput", "SCHEDULERS", "check_device", "check_models_dir",
           "frame_windows", "DEFAULT_WINDOW", "DEFAULT_OVERLAP"]
