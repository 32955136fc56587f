"""``skeleton_adapter``: the T2I-Adapter-style pose encoder of Follow-Your-Pose.

PixelUnshuffle(8) of each RGB skeleton frame (3 -> 192 channels, latent resolution), ``conv_in`` 3x3 to the first
stage width, then ``len(channels)`` stages of ``num_res_blocks`` residual blocks. A stage after the first begins with
a 2x average pool, and its first block has a 1x1 ``in_conv`` where the width changes. Each block:
``x + block2(relu(block1(x)))`` with ``block1`` 3x3 and ``block2`` 1x1. The output of every stage is one feature map,
added to the matching UNet down block.

Parameter names (``conv_in``, ``body.<i>.in_conv|block1|block2``) are those of ``pose_encoder.pth``.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class AdapterResBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, down: bool):
        super().__init__()
        self.down = down
        self.in_conv = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None
        self.block1 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.block2 = nn.Conv2d(out_channels, out_channels, 1)

    def forward(self, x):
        if self.down:
            x = F.avg_pool2d(x, kernel_size=2, stride=2)
        if self.in_conv is not None:
            x = self.in_conv(x)
        return x + self.block2(F.relu(self.block1(x)))


class SkeletonAdapter(nn.Module):
    def __init__(self, channels: Sequence[int] = (320, 640, 1280, 1280), num_res_blocks: int = 2,
                 in_channels: int = 3, downscale_factor: int = 8):
        super().__init__()
        self.channels = tuple(channels)
        self.num_res_blocks = num_res_blocks
        self.downscale_factor = downscale_factor
        self.unshuffle = nn.PixelUnshuffle(downscale_factor)
        body = []
        for i, ch in enumerate(self.channels):
            for j in range(num_res_blocks):
                first = i > 0 and j == 0
                body.append(AdapterResBlock(self.channels[i - 1] if first else ch, ch, down=first))
        self.body = nn.ModuleList(body)
        self.conv_in = nn.Conv2d(in_channels * downscale_factor**2, self.channels[0], 3, padding=1)

    def forward(self, pose: torch.Tensor) -> list[torch.Tensor]:
        """pose (N, 3, H, W) in [0, 1] (N = batch * frames) -> one (N, C_i, H/8/2^i, W/8/2^i) map per stage."""
        x = self.conv_in(self.unshuffle(pose))
        features = []
        for i in range(len(self.channels)):
            for j in range(self.num_res_blocks):
                x = self.body[i * self.num_res_blocks + j](x)
            features.append(x)
        return features
