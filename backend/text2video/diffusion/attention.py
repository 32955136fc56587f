"""Attention layers of the Follow-Your-Pose UNet3D.

Layout convention inside the model: video hidden states are kept with frames folded into the batch,
``(batch * frames, tokens, channels)`` for token sequences and ``(batch * frames, channels, h, w)`` for maps, so
the inflated 2-D layers run without copies. Layers that mix frames receive ``num_frames`` to unfold them.

All attention goes through :func:`torch.nn.functional.scaled_dot_product_attention` (flash / memory-efficient
kernels on CUDA, the fused CPU kernel on CPU); no xformers.

Parameter names match the released checkpoint (``to_q``/``to_k``/``to_v``/``to_out.0``, ``ff.net.0.proj``/``ff.net.2``,
``norm1``/``norm2``/``norm3``/``norm_temp``, ``attn_temp``, ``conv_temporal.down``/``conv_temporal.up``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn


def is_channels_last(t: torch.Tensor) -> bool:
    """Whether ``t`` is laid out channels-last (and not also plain contiguous, as 1x1 maps are both): the layout
    of a model converted with ``.to(memory_format=torch.channels_last)``, which its maps then keep."""
    return not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last)


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(..., tokens, heads * d) -> (..., heads, tokens, d) as a view."""
    *lead, n, c = x.shape
    return x.view(*lead, n, heads, c // heads).transpose(-3, -2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(..., heads, tokens, d) -> (..., tokens, heads * d)."""
    *lead, h, n, d = x.shape
    return x.transpose(-3, -2).reshape(*lead, n, h * d)


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, slice_size: Optional[int]) -> torch.Tensor:
    """SDPA over the leading (batch) dim, optionally in slices of ``slice_size`` to bound peak memory."""
    if not slice_size or q.shape[0] <= slice_size:
        return F.scaled_dot_product_attention(q, k, v)
    out = torch.empty_like(q)
    for start in range(0, q.shape[0], slice_size):
        end = start + slice_size
        # k/v may be broadcast (size 1) along dim 0.
        ks = k if k.shape[0] == 1 else k[start:end]
        vs = v if v.shape[0] == 1 else v[start:end]
        out[start:end] = F.scaled_dot_product_attention(q[start:end], ks, vs)
    return out


class AttnProcessor:
    """Plain (cross- or self-) attention. ``encoder_hidden_states`` may have a smaller batch than the queries when
    the queries are ``batch * frames``: the text keys/values are then computed once per video and broadcast over its
    frames instead of being repeated ``frames`` times."""

    slice_size: Optional[int] = None

    def __call__(self, attn: "Attention", hidden_states: torch.Tensor,
                 encoder_hidden_states: Optional[torch.Tensor] = None, num_frames: int = 1) -> torch.Tensor:
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        q = attn.to_q(hidden_states)
        k = attn.to_k(context)
        v = attn.to_v(context)
        bq, bk = q.shape[0], k.shape[0]
        if bk != bq:
            if bk * num_frames != bq:
                raise ValueError(f"encoder_hidden_states batch {bk} does not match {bq} queries / {num_frames} frames")
            # Every frame of a video attends to the same text: the frames' queries form one long sequence
            # (B*F, N, C) -> (B, F*N, C) (a view), against keys computed once per video.
            n = q.shape[1]
            q = q.view(bk, num_frames * n, q.shape[2])
            out = _merge_heads(_sdpa(_split_heads(q, attn.heads), _split_heads(k, attn.heads),
                                     _split_heads(v, attn.heads), self.slice_size))
            out = out.view(bq, n, out.shape[2])
        else:
            out = _merge_heads(_sdpa(_split_heads(q, attn.heads), _split_heads(k, attn.heads),
                                     _split_heads(v, attn.heads), self.slice_size))
        return attn.to_out[1](attn.to_out[0](out))


@dataclass
class FrameAnchor:
    """Source of the "first frame" keys/values of the sparse-causal attention (the door for long videos).

    ``mode``:
      * ``None``      every clip attends to its own frame 0 (the reference behaviour),
      * ``"record"``  each sparse-causal layer stores the K/V of frame 0 of the clip it sees (keyed by layer name),
      * ``"use"``     each layer attends to the stored K/V instead of its clip's frame 0.

    A long-video sampler runs the global first frame once per step in ``"record"`` mode, then every window in
    ``"use"`` mode, so all windows share the same anchor. Stored tensors are ``(batch, tokens, channels)`` after the
    ``to_k``/``to_v`` projections (heads not split).
    """

    mode: Optional[str] = None
    store: dict = field(default_factory=dict)

    def clear(self) -> None:
        self.store.clear()


def _sparse_causal_context(first: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """first (B, 1, N, C), x (B, F, N, C) -> (B, F, 2N, C): [first ; x[i-1]] for frame i, [first ; x[0]] for 0."""
    b, f, n, c = x.shape
    out = x.new_empty(b, f, 2 * n, c)
    out[:, :, :n] = first
    out[:, 0, n:] = x[:, 0]
    out[:, 1:, n:] = x[:, :-1]
    return out


class SparseCausalAttnProcessor:
    """Self-attention where the queries of frame i attend to the keys/values of frame 0 and frame i-1,
    concatenated along the token axis (frame 0 uses itself twice). ``anchor`` replaces the frame-0 source."""

    slice_size: Optional[int] = None

    def __init__(self, name: str = "", anchor: Optional[FrameAnchor] = None):
        self.name = name
        self.anchor = anchor

    def first_frame_kv(self, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """key/value (B, F, N, C) -> the anchor's (B, 1, N, C) keys and values."""
        anchor = self.anchor
        if anchor is None or anchor.mode is None:
            return key[:, :1], value[:, :1]
        if anchor.mode == "record":
            # Copies: a view would keep the whole window's keys/values of every layer alive until the step ends.
            anchor.store[self.name] = (key[:, 0].clone(), value[:, 0].clone())
            return key[:, :1], value[:, :1]
        if anchor.mode == "use":
            try:
                k0, v0 = anchor.store[self.name]
            except KeyError:
                raise RuntimeError(f"FrameAnchor has no recorded keys for layer {self.name!r}: run a 'record' pass first") from None
            return k0.unsqueeze(1).to(key.dtype), v0.unsqueeze(1).to(value.dtype)
        raise ValueError(f"FrameAnchor.mode must be None, 'record' or 'use', not {anchor.mode!r}")

    def __call__(self, attn: "Attention", hidden_states: torch.Tensor,
                 encoder_hidden_states: Optional[torch.Tensor] = None, num_frames: int = 1) -> torch.Tensor:
        bf, n, _ = hidden_states.shape
        b = bf // num_frames
        q = attn.to_q(hidden_states).view(b, num_frames, n, -1)
        k = attn.to_k(hidden_states).view(b, num_frames, n, -1)
        v = attn.to_v(hidden_states).view(b, num_frames, n, -1)
        k0, v0 = self.first_frame_kv(k, v)
        # Keys/values of frame i: [first frame ; frame i-1] along the tokens (order as the reference; it does not
        # change the result). Filled by slices: no index or cat temporaries.
        k = _sparse_causal_context(k0, k)
        v = _sparse_causal_context(v0, v)
        qh, kh, vh = (_split_heads(t, attn.heads).flatten(0, 1) for t in (q, k, v))
        out = _merge_heads(_sdpa(qh, kh, vh, self.slice_size))  # (B*F, N, C)
        return attn.to_out[1](attn.to_out[0](out))


class Attention(nn.Module):
    """Multi-head attention with the diffusers parameter names; the computation lives in ``processor``."""

    def __init__(self, query_dim: int, cross_attention_dim: Optional[int] = None, heads: int = 8,
                 dim_head: int = 64, dropout: float = 0.0, bias: bool = False, processor=None):
        super().__init__()
        inner_dim = heads * dim_head
        self.heads = heads
        self.to_q = nn.Linear(query_dim, inner_dim, bias=bias)
        self.to_k = nn.Linear(cross_attention_dim or query_dim, inner_dim, bias=bias)
        self.to_v = nn.Linear(cross_attention_dim or query_dim, inner_dim, bias=bias)
        self.to_out = nn.ModuleList([nn.Linear(inner_dim, query_dim), nn.Dropout(dropout)])
        self.processor = processor if processor is not None else AttnProcessor()

    def set_processor(self, processor) -> None:
        self.processor = processor

    def forward(self, hidden_states, encoder_hidden_states=None, num_frames: int = 1):
        return self.processor(self, hidden_states, encoder_hidden_states, num_frames=num_frames)


class GEGLU(nn.Module):
    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x):
        # Two products, one per half of the weight (row slices: views, so LoRA merges into ``proj`` still apply),
        # give two contiguous outputs: gelu and the product then run on contiguous memory and in place, instead of
        # on strided halves of one output (1.6x faster at 320 channels on CPU).
        inner = self.proj.out_features // 2
        weight, bias = self.proj.weight, self.proj.bias
        hidden = F.linear(x, weight[:inner], bias[:inner])
        gate = F.linear(x, weight[inner:], bias[inner:])
        return hidden.mul_(F.gelu(gate))


class FeedForward(nn.Module):
    """GEGLU feed-forward (``net.0.proj``, dropout, ``net.2``), optionally chunked along the tokens to save memory."""

    def __init__(self, dim: int, mult: int = 4, dropout: float = 0.0):
        super().__init__()
        inner = dim * mult
        self.net = nn.ModuleList([GEGLU(dim, inner), nn.Dropout(dropout), nn.Linear(inner, dim)])
        self.chunk_size: Optional[int] = None
        self.chunk_dim = 1

    def _run(self, x):
        for layer in self.net:
            x = layer(x)
        return x

    def forward(self, x):
        if not self.chunk_size or x.shape[self.chunk_dim] <= self.chunk_size:
            return self._run(x)
        return torch.cat([self._run(c) for c in x.split(self.chunk_size, dim=self.chunk_dim)], dim=self.chunk_dim)


class TemporalConv(nn.Module):
    """Residual temporal convolution along frames: ``x + up(down(x))`` with two bias-free Conv1d (k=3, pad=1).

    ``rank`` is the hidden width (160 in the release); as in the reference, a rank above the channel count is
    replaced by ``channels // 2`` (only matters for tiny configs). ``up`` starts at zero, so a freshly built layer is
    the identity (the state the reference training starts from).
    """

    def __init__(self, dim: int, rank: int = 160):
        super().__init__()
        if rank > dim:
            rank = dim // 2
        self.down = nn.Conv1d(dim, rank, kernel_size=3, padding=1, bias=False)
        self.up = nn.Conv1d(rank, dim, kernel_size=3, padding=1, bias=False)
        nn.init.normal_(self.down.weight, std=1 / rank)
        nn.init.zeros_(self.up.weight)

    def forward(self, x):  # x: (batch * tokens, channels, frames)
        return x + self.up(self.down(x.to(self.down.weight.dtype))).to(x.dtype)


class BasicTransformerBlock3D(nn.Module):
    """norm1 -> attn1 (sparse-causal) -> norm2 -> attn2 (text) -> norm3 -> ff -> norm_temp -> attn_temp (across
    frames) -> conv_temporal, each with its residual, exactly in the reference order."""

    def __init__(self, dim: int, num_attention_heads: int, attention_head_dim: int, cross_attention_dim: int,
                 dropout: float = 0.0, attention_bias: bool = False, temporal_conv_rank: int = 160):
        super().__init__()
        kw = dict(heads=num_attention_heads, dim_head=attention_head_dim, dropout=dropout, bias=attention_bias)
        self.attn1 = Attention(dim, processor=SparseCausalAttnProcessor(), **kw)
        self.norm1 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, cross_attention_dim=cross_attention_dim, **kw)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, dropout=dropout)
        self.norm3 = nn.LayerNorm(dim)
        self.attn_temp = Attention(dim, **kw)
        self.norm_temp = nn.LayerNorm(dim)
        self.conv_temporal = TemporalConv(dim, rank=temporal_conv_rank)

    def forward(self, hidden_states, encoder_hidden_states, num_frames: int):
        # hidden_states: (B*F, N, C); encoder_hidden_states: (B, L, D)
        h = hidden_states
        h = self.attn1(self.norm1(h), num_frames=num_frames) + h
        h = self.attn2(self.norm2(h), encoder_hidden_states, num_frames=num_frames) + h
        h = self.ff(self.norm3(h)) + h

        bf, n, c = h.shape
        b = bf // num_frames
        # Temporal attention: one sequence of F frames per (video, token).
        t = h.view(b, num_frames, n, c).transpose(1, 2).reshape(b * n, num_frames, c)
        t = self.attn_temp(self.norm_temp(t)) + t
        # Temporal convolution over the frame axis: (B*N, C, F).
        t = self.conv_temporal(t.transpose(1, 2))
        return t.view(b, n, c, num_frames).permute(0, 3, 1, 2).reshape(bf, n, c)


class Transformer3DModel(nn.Module):
    """GroupNorm -> 1x1 proj_in -> transformer blocks on the (h*w) tokens of every frame -> 1x1 proj_out -> residual."""

    def __init__(self, num_attention_heads: int, attention_head_dim: int, in_channels: int, num_layers: int = 1,
                 dropout: float = 0.0, norm_num_groups: int = 32, cross_attention_dim: int = 768,
                 attention_bias: bool = False, temporal_conv_rank: int = 160):
        super().__init__()
        inner_dim = num_attention_heads * attention_head_dim
        self.norm = nn.GroupNorm(norm_num_groups, in_channels, eps=1e-6, affine=True)
        self.proj_in = nn.Conv2d(in_channels, inner_dim, kernel_size=1)
        self.transformer_blocks = nn.ModuleList([
            BasicTransformerBlock3D(inner_dim, num_attention_heads, attention_head_dim, cross_attention_dim,
                                    dropout=dropout, attention_bias=attention_bias,
                                    temporal_conv_rank=temporal_conv_rank)
            for _ in range(num_layers)
        ])
        self.proj_out = nn.Conv2d(inner_dim, in_channels, kernel_size=1)

    def forward(self, hidden_states, encoder_hidden_states, num_frames: int):
        # hidden_states: (B*F, C, h, w), GroupNorm per frame as in the reference.
        bf, _, height, width = hidden_states.shape
        residual = hidden_states
        h = self.proj_in(self.norm(hidden_states))
        inner = h.shape[1]
        h = h.permute(0, 2, 3, 1).reshape(bf, height * width, inner)
        for block in self.transformer_blocks:
            h = block(h, encoder_hidden_states, num_frames)
        # Back to a map in the layout of the input (NCHW, or channels-last when the model was converted with
        # `.to(memory_format=torch.channels_last)`: then this is free).
        h = h.view(bf, height, width, inner).permute(0, 3, 1, 2)
        h = h.contiguous(memory_format=torch.channels_last if is_channels_last(residual) else torch.contiguous_format)
        return self.proj_out(h) + residual
