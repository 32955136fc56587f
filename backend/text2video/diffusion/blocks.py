"""ResNet, down/up-sampling and the down/mid/up blocks of the Follow-Your-Pose UNet3D.

Maps are ``(batch * frames, channels, h, w)`` (frames folded into the batch: the "inflated" 2-D convolutions run as
plain Conv2d). The reference applies its ResNet GroupNorms to the 5-D ``(b, c, f, h, w)`` tensor, i.e. the
statistics of each group are taken over ALL frames of a video: :class:`FrameGroupNorm` reproduces that on the folded
layout.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..exceptions import InvalidInput, ModelConfigError
from .attention import Transformer3DModel, is_channels_last


class FrameGroupNorm(nn.GroupNorm):
    """GroupNorm whose statistics span all frames of a video (as GroupNorm on ``(b, c, f, h, w)``).

    Input ``(B*F, C, h, w)``, seen as the 4-D map ``(B, C, F*h, w)`` (channels-last memory) or ``(B, C, F, h*w)``
    and handed to torch's own group_norm: one fused kernel with fp32 statistics (also for bf16/fp16 inputs), and for
    channels-last maps no copy at all. It was 5-20x faster than statistics taken with var_mean on an fp32 copy.
    """

    def forward(self, x: torch.Tensor, num_frames: int = 1) -> torch.Tensor:  # type: ignore[override]
        if num_frames == 1:
            return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
        bf, c, h, w = x.shape
        b = bf // num_frames
        if is_channels_last(x):
            # Memory (B, F, h, w, C) is a channels-last (B, C, F*h, w) map: views in and out.
            video = x.permute(0, 2, 3, 1).reshape(b, num_frames * h, w, c).permute(0, 3, 1, 2)
            out = F.group_norm(video, self.num_groups, self.weight, self.bias, self.eps)
            return out.permute(0, 2, 3, 1).reshape(bf, h, w, c).permute(0, 3, 1, 2)
        video = x.reshape(b, num_frames, c, h * w).transpose(1, 2)  # (B, C, F, h*w)
        out = F.group_norm(video, self.num_groups, self.weight, self.bias, self.eps)
        return out.transpose(1, 2).reshape(bf, c, h, w)


class ResnetBlock3D(nn.Module):
    def __init__(self, in_channels: int, out_channels: Optional[int] = None, temb_channels: int = 1280,
                 groups: int = 32, eps: float = 1e-6, dropout: float = 0.0, output_scale_factor: float = 1.0):
        super().__init__()
        out_channels = out_channels or in_channels
        self.output_scale_factor = output_scale_factor
        self.norm1 = FrameGroupNorm(groups, in_channels, eps=eps, affine=True)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb_channels, out_channels)
        self.norm2 = FrameGroupNorm(groups, out_channels, eps=eps, affine=True)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor, num_frames: int) -> torch.Tensor:
        h = F.silu(self.norm1(x, num_frames), inplace=True)
        h = self.conv1(h)
        # temb: (B, T) -> added to every frame of its video.
        t = self.time_emb_proj(F.silu(temb))
        # (works for NCHW and channels-last maps alike)
        h = h + t.repeat_interleave(num_frames, dim=0)[:, :, None, None]
        h = F.silu(self.norm2(h, num_frames), inplace=True)
        h = self.conv2(self.dropout(h))
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        out = x + h
        if self.output_scale_factor != 1.0:
            out = out / self.output_scale_factor
        return out


class Downsample3D(nn.Module):
    def __init__(self, channels: int, out_channels: Optional[int] = None, padding: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(channels, out_channels or channels, 3, stride=2, padding=padding)

    def forward(self, x):
        return self.conv(x)


class Upsample3D(nn.Module):
    def __init__(self, channels: int, out_channels: Optional[int] = None):
        super().__init__()
        self.conv = nn.Conv2d(channels, out_channels or channels, 3, padding=1)

    def forward(self, x, output_size=None):
        if output_size is None:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        else:
            x = F.interpolate(x, size=tuple(output_size), mode="nearest")
        return self.conv(x)


def adapter_layers(num_layers: int) -> list[int]:
    """Indices of the layers of a down block after which the pose-adapter feature is added.

    The reference adds it when ``(layer + 2) % 3 == 0`` (layer counted from 0): after the SECOND layer for the
    released ``layers_per_block=2``. With ``layers_per_block=1`` that rule never fires, which would silently drop the
    pose; our rule for that case is: after the only layer.
    """
    if num_layers == 1:
        return [0]
    return [i for i in range(num_layers) if (i + 2) % 3 == 0]


def _add_feature(h: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
    """h (B*F, C, h, w) + feature (B'*F, C, h, w) where B = n * B' (classifier-free guidance batch):
    broadcast, no copy of the feature."""
    if feature.shape[1:] != h.shape[1:]:
        raise InvalidInput(
            f"pose feature of shape {tuple(feature.shape[1:])} does not fit hidden states {tuple(h.shape[1:])}",
            field="pose", value=tuple(feature.shape),
            hint="The pose frames must be at the output resolution (8 x latent size); height and width multiples of 64.",
        )
    n = h.shape[0] // feature.shape[0]
    if n * feature.shape[0] != h.shape[0]:
        raise InvalidInput(f"pose features batch {feature.shape[0]} does not divide sample batch {h.shape[0]}",
                           field="pose_features", value=feature.shape[0],
                           hint="Compute the features for the video batch (before duplicating it for guidance).")
    if n == 1:
        return h + feature
    return (h.view(n, feature.shape[0], *h.shape[1:]) + feature).view(h.shape)


class CrossAttnDownBlock3D(nn.Module):
    has_cross_attention = True

    def __init__(self, in_channels: int, out_channels: int, temb_channels: int, num_layers: int = 2,
                 resnet_eps: float = 1e-6, resnet_groups: int = 32, num_attention_heads: int = 8,
                 cross_attention_dim: int = 768, add_downsample: bool = True, downsample_padding: int = 1,
                 dropout: float = 0.0, temporal_conv_rank: int = 160, output_scale_factor: float = 1.0):
        super().__init__()
        self.resnets = nn.ModuleList([
            ResnetBlock3D(in_channels if i == 0 else out_channels, out_channels, temb_channels, groups=resnet_groups,
                          eps=resnet_eps, dropout=dropout, output_scale_factor=output_scale_factor)
            for i in range(num_layers)
        ])
        self.attentions = nn.ModuleList([
            Transformer3DModel(num_attention_heads, out_channels // num_attention_heads, out_channels,
                               norm_num_groups=resnet_groups, cross_attention_dim=cross_attention_dim,
                               dropout=dropout, temporal_conv_rank=temporal_conv_rank)
            for _ in range(num_layers)
        ])
        self.downsamplers = (nn.ModuleList([Downsample3D(out_channels, padding=downsample_padding)])
                             if add_downsample else None)
        self.adapter_layers = adapter_layers(num_layers)

    def forward(self, hidden_states, temb, encoder_hidden_states, num_frames: int, pose_feature=None):
        output_states = ()
        for i, (resnet, attn) in enumerate(zip(self.resnets, self.attentions)):
            hidden_states = resnet(hidden_states, temb, num_frames)
            hidden_states = attn(hidden_states, encoder_hidden_states, num_frames)
            if pose_feature is not None and i in self.adapter_layers:
                hidden_states = _add_feature(hidden_states, pose_feature)
            output_states += (hidden_states,)
        if self.downsamplers is not None:
            for down in self.downsamplers:
                hidden_states = down(hidden_states)
            output_states += (hidden_states,)
        return hidden_states, output_states


class DownBlock3D(nn.Module):
    has_cross_attention = False

    def __init__(self, in_channels: int, out_channels: int, temb_channels: int, num_layers: int = 2,
                 resnet_eps: float = 1e-6, resnet_groups: int = 32, add_downsample: bool = True,
                 downsample_padding: int = 1, dropout: float = 0.0, output_scale_factor: float = 1.0, **_):
        super().__init__()
        self.resnets = nn.ModuleList([
            ResnetBlock3D(in_channels if i == 0 else out_channels, out_channels, temb_channels, groups=resnet_groups,
                          eps=resnet_eps, dropout=dropout, output_scale_factor=output_scale_factor)
            for i in range(num_layers)
        ])
        self.downsamplers = (nn.ModuleList([Downsample3D(out_channels, padding=downsample_padding)])
                             if add_downsample else None)
        self.adapter_layers = adapter_layers(num_layers)

    def forward(self, hidden_states, temb, encoder_hidden_states, num_frames: int, pose_feature=None):
        output_states = ()
        for i, resnet in enumerate(self.resnets):
            hidden_states = resnet(hidden_states, temb, num_frames)
            if pose_feature is not None and i in self.adapter_layers:
                hidden_states = _add_feature(hidden_states, pose_feature)
            output_states += (hidden_states,)
        if self.downsamplers is not None:
            for down in self.downsamplers:
                hidden_states = down(hidden_states)
            output_states += (hidden_states,)
        return hidden_states, output_states


class UNetMidBlock3DCrossAttn(nn.Module):
    def __init__(self, in_channels: int, temb_channels: int, resnet_eps: float = 1e-6, resnet_groups: int = 32,
                 num_attention_heads: int = 8, cross_attention_dim: int = 768, output_scale_factor: float = 1.0,
                 dropout: float = 0.0, temporal_conv_rank: int = 160, num_layers: int = 1):
        super().__init__()
        res = dict(groups=resnet_groups, eps=resnet_eps, dropout=dropout, output_scale_factor=output_scale_factor)
        self.resnets = nn.ModuleList([ResnetBlock3D(in_channels, in_channels, temb_channels, **res)
                                      for _ in range(num_layers + 1)])
        self.attentions = nn.ModuleList([
            Transformer3DModel(num_attention_heads, in_channels // num_attention_heads, in_channels,
                               norm_num_groups=resnet_groups, cross_attention_dim=cross_attention_dim,
                               dropout=dropout, temporal_conv_rank=temporal_conv_rank)
            for _ in range(num_layers)
        ])

    def forward(self, hidden_states, temb, encoder_hidden_states, num_frames: int):
        hidden_states = self.resnets[0](hidden_states, temb, num_frames)
        for attn, resnet in zip(self.attentions, self.resnets[1:]):
            hidden_states = attn(hidden_states, encoder_hidden_states, num_frames)
            hidden_states = resnet(hidden_states, temb, num_frames)
        return hidden_states


class CrossAttnUpBlock3D(nn.Module):
    has_cross_attention = True

    def __init__(self, in_channels: int, out_channels: int, prev_output_channel: int, temb_channels: int,
                 num_layers: int = 3, resnet_eps: float = 1e-6, resnet_groups: int = 32,
                 num_attention_heads: int = 8, cross_attention_dim: int = 768, add_upsample: bool = True,
                 dropout: float = 0.0, temporal_conv_rank: int = 160, output_scale_factor: float = 1.0):
        super().__init__()
        resnets = []
        for i in range(num_layers):
            skip = in_channels if i == num_layers - 1 else out_channels
            res_in = prev_output_channel if i == 0 else out_channels
            resnets.append(ResnetBlock3D(res_in + skip, out_channels, temb_channels, groups=resnet_groups,
                                         eps=resnet_eps, dropout=dropout, output_scale_factor=output_scale_factor))
        self.resnets = nn.ModuleList(resnets)
        self.attentions = nn.ModuleList([
            Transformer3DModel(num_attention_heads, out_channels // num_attention_heads, out_channels,
                               norm_num_groups=resnet_groups, cross_attention_dim=cross_attention_dim,
                               dropout=dropout, temporal_conv_rank=temporal_conv_rank)
            for _ in range(num_layers)
        ])
        self.upsamplers = nn.ModuleList([Upsample3D(out_channels)]) if add_upsample else None

    def forward(self, hidden_states, res_hidden_states_tuple, temb, encoder_hidden_states, num_frames: int,
                upsample_size=None):
        for resnet, attn in zip(self.resnets, self.attentions):
            res = res_hidden_states_tuple[-1]
            res_hidden_states_tuple = res_hidden_states_tuple[:-1]
            hidden_states = resnet(torch.cat([hidden_states, res], dim=1), temb, num_frames)
            hidden_states = attn(hidden_states, encoder_hidden_states, num_frames)
        if self.upsamplers is not None:
            for up in self.upsamplers:
                hidden_states = up(hidden_states, upsample_size)
        return hidden_states


class UpBlock3D(nn.Module):
    has_cross_attention = False

    def __init__(self, in_channels: int, out_channels: int, prev_output_channel: int, temb_channels: int,
                 num_layers: int = 3, resnet_eps: float = 1e-6, resnet_groups: int = 32, add_upsample: bool = True,
                 dropout: float = 0.0, output_scale_factor: float = 1.0, **_):
        super().__init__()
        resnets = []
        for i in range(num_layers):
            skip = in_channels if i == num_layers - 1 else out_channels
            res_in = prev_output_channel if i == 0 else out_channels
            resnets.append(ResnetBlock3D(res_in + skip, out_channels, temb_channels, groups=resnet_groups,
                                         eps=resnet_eps, dropout=dropout, output_scale_factor=output_scale_factor))
        self.resnets = nn.ModuleList(resnets)
        self.upsamplers = nn.ModuleList([Upsample3D(out_channels)]) if add_upsample else None

    def forward(self, hidden_states, res_hidden_states_tuple, temb, encoder_hidden_states, num_frames: int,
                upsample_size=None):
        for resnet in self.resnets:
            res = res_hidden_states_tuple[-1]
            res_hidden_states_tuple = res_hidden_states_tuple[:-1]
            hidden_states = resnet(torch.cat([hidden_states, res], dim=1), temb, num_frames)
        if self.upsamplers is not None:
            for up in self.upsamplers:
                hidden_states = up(hidden_states, upsample_size)
        return hidden_states


# 2-D names (SD configs) and 3-D names (reference configs) both map to our 3-D blocks.
DOWN_BLOCKS = {"CrossAttnDownBlock2D": CrossAttnDownBlock3D, "CrossAttnDownBlock3D": CrossAttnDownBlock3D,
               "DownBlock2D": DownBlock3D, "DownBlock3D": DownBlock3D}
UP_BLOCKS = {"CrossAttnUpBlock2D": CrossAttnUpBlock3D, "CrossAttnUpBlock3D": CrossAttnUpBlock3D,
             "UpBlock2D": UpBlock3D, "UpBlock3D": UpBlock3D}
MID_BLOCKS = ("UNetMidBlock2DCrossAttn", "UNetMidBlock3DCrossAttn")


def to_3d_name(name: str) -> str:
    return name.replace("2D", "3D")


def check_block_types(field: str, values: Sequence[str], known: dict) -> list[str]:
    out = []
    for v in values:
        if v not in known:
            raise ModelConfigError(f"unsupported {field} entry {v!r}", field=field, value=v,
                                   hint=f"Use one of {sorted(set(map(to_3d_name, known)))} (2-D names are accepted "
                                        "too).")
        out.append(to_3d_name(v))
    return out
