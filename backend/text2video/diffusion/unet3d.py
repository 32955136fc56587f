"""The Follow-Your-Pose UNet3D: Stable Diffusion v1-4's UNet inflated to video, with a skeleton pose adapter.

Configured like diffusers' ``UNet2DConditionModel`` (the SD-1.4 ``unet/config.json`` works as is through
``from_config``; 2-D block names are mapped to their 3-D counterparts, unknown keys are ignored by diffusers), plus
the options of the video parts whose defaults match the released checkpoint:

* ``temporal_conv_rank`` (160): hidden width of the residual temporal convolution of every transformer block,
* ``pose_adapter_channels`` (``None`` = ``block_out_channels``, i.e. 320/640/1280/1280 for SD-1.4),
* ``pose_adapter_num_res_blocks`` (2), ``pose_in_channels`` (3, RGB), ``pose_downscale_factor`` (8: 3 -> 192 channels).

Shapes: ``sample`` (B, 4, F, h, w); ``encoder_hidden_states`` (B, L, D); ``pose`` (B', F, 3, 8h, 8w) in [0, 1];
``encode_pose(pose)`` -> one tensor (B', F, C_i, h / 2^i, w / 2^i) per down block. ``B`` must be a multiple of
``B'``: with classifier-free guidance the pipeline computes the features ONCE for the B' videos and passes them at
every step for the ``B = 2 B'`` batch ``[uncond; cond]``; they are broadcast (index ``k`` of the batch uses feature
``k % B'``), exactly like the reference's ``skeleton.repeat(2, ...)`` but without the copy or the recomputation.

Where the pose features are added: after the second layer of each down block (after resnet + transformer in
cross-attention blocks, after the resnet in the last block), as the reference. With ``layers_per_block=1`` (tiny
demo models) they are added after the only layer (the reference's rule would never add them; see
``blocks.adapter_layers``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from torch import nn

from ..exceptions import InvalidInput, ModelConfigError
from .adapter import SkeletonAdapter
from .attention import Attention, FeedForward, FrameAnchor, SparseCausalAttnProcessor, is_channels_last
from .blocks import (
    DOWN_BLOCKS,
    MID_BLOCKS,
    UP_BLOCKS,
    FrameGroupNorm,
    UNetMidBlock3DCrossAttn,
    check_block_types,
    to_3d_name,
)
from .loading import load_unet3d


@dataclass
class UNet3DConditionOutput(BaseOutput):
    """``sample``: (B, out_channels, F, h, w), the predicted noise."""

    sample: torch.Tensor


def _unsupported(field: str, value, expected) -> ModelConfigError:
    return ModelConfigError(f"UNet3D config option {field}={value!r} is not supported", field=field, value=value,
                            hint=f"Follow-Your-Pose (SD-1.x) uses {field}={expected!r}.")


class UNet3DConditionModel(ModelMixin, ConfigMixin):
    _supports_gradient_checkpointing = False

    @register_to_config
    def __init__(
        self,
        sample_size: Optional[int] = None,
        in_channels: int = 4,
        out_channels: int = 4,
        center_input_sample: bool = False,
        flip_sin_to_cos: bool = True,
        freq_shift: int = 0,
        down_block_types: Sequence[str] = ("CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D",
                                           "DownBlock3D"),
        mid_block_type: str = "UNetMidBlock3DCrossAttn",
        up_block_types: Sequence[str] = ("UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D",
                                         "CrossAttnUpBlock3D"),
        only_cross_attention: Union[bool, Sequence[bool]] = False,
        block_out_channels: Sequence[int] = (320, 640, 1280, 1280),
        layers_per_block: int = 2,
        downsample_padding: int = 1,
        mid_block_scale_factor: float = 1.0,
        act_fn: str = "silu",
        norm_num_groups: int = 32,
        norm_eps: float = 1e-5,
        cross_attention_dim: int = 768,
        attention_head_dim: Union[int, Sequence[int]] = 8,
        num_attention_heads: Optional[Union[int, Sequence[int]]] = None,
        dual_cross_attention: bool = False,
        use_linear_projection: bool = False,
        class_embed_type: Optional[str] = None,
        num_class_embeds: Optional[int] = None,
        upcast_attention: bool = False,
        resnet_time_scale_shift: str = "default",
        dropout: float = 0.0,
        # Video / pose parts (defaults = the released Follow-Your-Pose checkpoint).
        temporal_conv_rank: int = 160,
        pose_adapter_channels: Optional[Sequence[int]] = None,
        pose_adapter_num_res_blocks: int = 2,
        pose_in_channels: int = 3,
        pose_downscale_factor: int = 8,
    ):
        super().__init__()
        # 1. Validate what the architecture supports (SD-1.x options), naming the field.
        for name, value, expected in (
            ("only_cross_attention", only_cross_attention, False),
            ("dual_cross_attention", dual_cross_attention, False),
            ("use_linear_projection", use_linear_projection, False),
            ("class_embed_type", class_embed_type, None),
            ("num_class_embeds", num_class_embeds, None),
            ("upcast_attention", upcast_attention, False),
            ("resnet_time_scale_shift", resnet_time_scale_shift, "default"),
            ("act_fn", act_fn, "silu"),
        ):
            ok = (not any(value) if isinstance(value, (list, tuple)) and expected is False else value == expected)
            if not ok:
                raise _unsupported(name, value, expected)
        if mid_block_type not in MID_BLOCKS:
            raise _unsupported("mid_block_type", mid_block_type, "UNetMidBlock2DCrossAttn")
        n = len(block_out_channels)
        if len(down_block_types) != n or len(up_block_types) != n:
            raise ModelConfigError(
                f"down_block_types ({len(down_block_types)}), up_block_types ({len(up_block_types)}) and "
                f"block_out_channels ({n}) must have the same length", field="block_out_channels",
                value=list(block_out_channels), hint="Give one entry per resolution level.")
        down_types = check_block_types("down_block_types", down_block_types, DOWN_BLOCKS)
        up_types = check_block_types("up_block_types", up_block_types, UP_BLOCKS)
        # Record the 3-D names, so a saved config says what the model is.
        self.register_to_config(down_block_types=down_types, up_block_types=up_types,
                                mid_block_type=to_3d_name(mid_block_type))

        # diffusers' legacy naming: for SD-1.x "attention_head_dim" is in fact the number of heads.
        heads = num_attention_heads or attention_head_dim
        heads = list(heads) if isinstance(heads, (list, tuple)) else [heads] * n
        for ch, h in zip(block_out_channels, heads):
            if ch % h or ch % norm_num_groups:
                raise ModelConfigError(f"block width {ch} must be divisible by the heads ({h}) and "
                                       f"norm_num_groups ({norm_num_groups})", field="block_out_channels",
                                       value=list(block_out_channels), hint="Pick widths that are multiples of both.")
        adapter_channels = list(pose_adapter_channels or block_out_channels)
        if len(adapter_channels) != n:
            raise ModelConfigError("pose_adapter_channels needs one width per down block",
                                   field="pose_adapter_channels", value=adapter_channels,
                                   hint=f"Give {n} values (default: block_out_channels).")

        time_embed_dim = block_out_channels[0] * 4
        common = dict(temb_channels=time_embed_dim, resnet_eps=norm_eps, resnet_groups=norm_num_groups,
                      dropout=dropout)
        attn = dict(cross_attention_dim=cross_attention_dim, temporal_conv_rank=temporal_conv_rank)

        # 2. Input, time embedding.
        self.conv_in = nn.Conv2d(in_channels, block_out_channels[0], kernel_size=3, padding=1)
        self.time_proj = Timesteps(block_out_channels[0], flip_sin_to_cos, freq_shift)
        self.time_embedding = TimestepEmbedding(block_out_channels[0], time_embed_dim)

        # 3. Down blocks.
        self.down_blocks = nn.ModuleList()
        out_ch = block_out_channels[0]
        for i, kind in enumerate(down_types):
            in_ch, out_ch = out_ch, block_out_channels[i]
            cls = DOWN_BLOCKS[kind]
            kw = dict(num_layers=layers_per_block, add_downsample=i < n - 1, downsample_padding=downsample_padding,
                      **common)
            if cls.has_cross_attention:
                kw.update(num_attention_heads=heads[i], **attn)
            self.down_blocks.append(cls(in_ch, out_ch, **kw))

        # 4. Mid block.
        self.mid_block = UNetMidBlock3DCrossAttn(block_out_channels[-1], num_attention_heads=heads[-1],
                                                 output_scale_factor=mid_block_scale_factor, **common, **attn)

        # 5. Up blocks (layers_per_block + 1 resnets each: they also take the downsampler's skip).
        self.up_blocks = nn.ModuleList()
        rev_ch, rev_heads = list(reversed(block_out_channels)), list(reversed(heads))
        out_ch = rev_ch[0]
        for i, kind in enumerate(up_types):
            prev, out_ch = out_ch, rev_ch[i]
            in_ch = rev_ch[min(i + 1, n - 1)]
            cls = UP_BLOCKS[kind]
            kw = dict(num_layers=layers_per_block + 1, add_upsample=i < n - 1, **common)
            if cls.has_cross_attention:
                kw.update(num_attention_heads=rev_heads[i], **attn)
            self.up_blocks.append(cls(in_ch, out_ch, prev, **kw))
        self.num_upsamplers = n - 1

        # 6. Output (GroupNorm over all frames of a video, as the reference's 5-D GroupNorm).
        self.conv_norm_out = FrameGroupNorm(norm_num_groups, block_out_channels[0], eps=norm_eps)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(block_out_channels[0], out_channels, kernel_size=3, padding=1)

        # 7. Pose encoder.
        self.skeleton_adapter = SkeletonAdapter(adapter_channels, pose_adapter_num_res_blocks,
                                                in_channels=pose_in_channels, downscale_factor=pose_downscale_factor)

        # Name every sparse-causal processor after its module, for FrameAnchor's per-layer store.
        for name, module in self.named_modules():
            if isinstance(module, Attention) and isinstance(module.processor, SparseCausalAttnProcessor):
                module.processor.name = name

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained_2d(cls, sd_unet_dir, fyp_checkpoint=None, pose_encoder=None, torch_dtype=None, device=None,
                           variant=None) -> "UNet3DConditionModel":
        """SD-1.4 ``unet/`` folder inflated to 3-D + Follow-Your-Pose checkpoint + ``pose_encoder.pth``.
        See :func:`text2video.diffusion.loading.load_unet3d`."""
        return load_unet3d(cls, sd_unet_dir, fyp_checkpoint=fyp_checkpoint, pose_encoder=pose_encoder,
                           torch_dtype=torch_dtype, device=device, variant=variant)

    # ------------------------------------------------------------------ options
    def set_frame_anchor(self, anchor: Optional[FrameAnchor]) -> None:
        """Plug the source of the "first frame" keys/values of every sparse-causal layer (None = own frame 0)."""
        for module in self.modules():
            if isinstance(module, Attention) and isinstance(module.processor, SparseCausalAttnProcessor):
                module.processor.anchor = anchor

    def set_attention_slice(self, slice_size: Optional[Union[int, str]] = "auto") -> None:
        """Compute attention in slices of ``slice_size`` (batch*frame*head) rows to bound peak memory; ``None`` off.
        ``"auto"``: slices of 8 rows."""
        size = 8 if slice_size == "auto" else slice_size
        if size is not None and (not isinstance(size, int) or size <= 0):
            raise ModelConfigError("attention slice size must be a positive integer, 'auto' or None",
                                   field="slice_size", value=slice_size, hint="Try 'auto'.")
        for module in self.modules():
            if isinstance(module, Attention):
                module.processor.slice_size = size

    def enable_forward_chunking(self, chunk_size: Optional[int] = None, dim: int = 1) -> None:
        """Run the feed-forward layers in chunks of ``chunk_size`` tokens (default 1024) to save memory."""
        for module in self.modules():
            if isinstance(module, FeedForward):
                module.chunk_size, module.chunk_dim = chunk_size or 1024, dim

    def disable_forward_chunking(self) -> None:
        for module in self.modules():
            if isinstance(module, FeedForward):
                module.chunk_size = None

    # ------------------------------------------------------------------ pose
    def encode_pose(self, pose: torch.Tensor) -> list[torch.Tensor]:
        """pose (B', F, 3, H, W) in [0, 1] -> [(B', F, C_i, H/8/2^i, W/8/2^i) for each down block].

        Independent of the timestep and of the guidance branch: compute once per generation and pass the list as
        ``pose_features`` at every step."""
        if pose.ndim != 5 or pose.shape[2] != self.config.pose_in_channels:
            raise InvalidInput(f"pose must be (batch, frames, {self.config.pose_in_channels}, H, W), got "
                               f"{tuple(pose.shape)}", field="pose", value=tuple(pose.shape),
                               hint="Stack the skeleton frames as (batch, frames, channels, height, width).")
        factor = self.config.pose_downscale_factor * 2 ** (len(self.config.block_out_channels) - 1)
        if pose.shape[-1] % factor or pose.shape[-2] % factor:
            raise InvalidInput(f"pose frames of {pose.shape[-1]}x{pose.shape[-2]} are not multiples of {factor}",
                               field="pose", value=tuple(pose.shape[-2:]),
                               hint=f"Use a width and height that are multiples of {factor}.")
        b, f = pose.shape[:2]
        p = pose.reshape(b * f, *pose.shape[2:]).to(device=self.conv_in.weight.device,
                                                    dtype=self.skeleton_adapter.conv_in.weight.dtype)
        return [x.view(b, f, *x.shape[1:]) for x in self.skeleton_adapter(p)]

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        sample: torch.Tensor,
        timestep: Union[torch.Tensor, float, int],
        encoder_hidden_states: torch.Tensor,
        pose: Optional[torch.Tensor] = None,
        pose_features: Optional[Sequence[torch.Tensor]] = None,
        return_dict: bool = True,
    ) -> Union[UNet3DConditionOutput, tuple]:
        """One denoising evaluation. ``pose`` or (precomputed) ``pose_features``; neither = no pose conditioning."""
        # 1. Check the inputs.
        if sample.ndim != 5:
            raise InvalidInput(f"sample must be (batch, channels, frames, h, w), got {tuple(sample.shape)}",
                               field="sample", value=tuple(sample.shape), hint="Add the frame axis at dim 2.")
        b, _, f, h, w = sample.shape
        if encoder_hidden_states.shape[0] != b:
            raise InvalidInput(f"encoder_hidden_states batch {encoder_hidden_states.shape[0]} != sample batch {b}",
                               field="encoder_hidden_states", value=tuple(encoder_hidden_states.shape),
                               hint="Give one text embedding per video of the batch.")
        if pose is not None and pose_features is not None:
            raise InvalidInput("give either pose or pose_features, not both", field="pose", value="both",
                               hint="Pass pose_features=unet.encode_pose(pose) and no pose.")
        if pose is not None:
            pose_features = self.encode_pose(pose)
        if pose_features is not None:
            if len(pose_features) != len(self.down_blocks):
                raise InvalidInput(f"pose_features has {len(pose_features)} tensors, expected {len(self.down_blocks)}",
                                   field="pose_features", value=len(pose_features), hint="Use encode_pose(pose).")
            for feat in pose_features:
                if feat.ndim != 5 or feat.shape[1] != f:
                    raise InvalidInput(f"pose features of shape {tuple(feat.shape)} do not match {f} frames",
                                       field="pose", value=tuple(feat.shape),
                                       hint="Give one skeleton frame per generated frame.")
            pose_features = [feat.flatten(0, 1) for feat in pose_features]
        if self.config.center_input_sample:
            sample = 2 * sample - 1.0

        # 2. Time embedding (B, 4 * C0).
        timesteps = timestep
        if not torch.is_tensor(timesteps):
            dtype = torch.float64 if isinstance(timestep, float) else torch.int64
            timesteps = torch.tensor([timesteps], dtype=dtype, device=sample.device)
        elif timesteps.ndim == 0:
            timesteps = timesteps[None].to(sample.device)
        timesteps = timesteps.expand(b)
        weight_dtype = self.conv_in.weight.dtype
        emb = self.time_embedding(self.time_proj(timesteps).to(dtype=weight_dtype))

        # 3. Fold frames into the batch: (B, C, F, h, w) -> (B*F, C, h, w).
        x = sample.to(weight_dtype).permute(0, 2, 1, 3, 4).reshape(b * f, -1, h, w)
        if is_channels_last(self.conv_in.weight):
            # Model converted with .to(memory_format=torch.channels_last): run every map channels-last (faster
            # oneDNN convolutions on CPU).
            x = x.contiguous(memory_format=torch.channels_last)
        text = encoder_hidden_states.to(weight_dtype)
        x = self.conv_in(x)

        # 4. Down, with the pose features.
        up_factor = 2**self.num_upsamplers
        forward_upsample_size = h % up_factor != 0 or w % up_factor != 0
        skips = (x,)
        for i, block in enumerate(self.down_blocks):
            feat = pose_features[i] if pose_features is not None else None
            x, res = block(x, emb, text, f, pose_feature=feat)
            skips += res

        # 5. Mid.
        x = self.mid_block(x, emb, text, f)

        # 6. Up.
        for i, block in enumerate(self.up_blocks):
            res = skips[-len(block.resnets):]
            skips = skips[: -len(block.resnets)]
            size = skips[-1].shape[-2:] if (forward_upsample_size and i < len(self.up_blocks) - 1) else None
            x = block(x, res, emb, text, f, upsample_size=size)

        # 7. Output, back to (B, C, F, h, w).
        x = self.conv_out(self.conv_act(self.conv_norm_out(x, f))).contiguous()
        out = x.view(b, f, *x.shape[1:]).permute(0, 2, 1, 3, 4).contiguous()
        if not return_dict:
            return (out,)
        return UNet3DConditionOutput(sample=out)
