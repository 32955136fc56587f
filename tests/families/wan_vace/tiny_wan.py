"""A tiny random WanVACEPipeline for the helpers' tests: diffusers' own classes, sizes cut to a few channels.

No tokenizer or text encoder: the tests pass ``prompt_embeds`` (the pipeline then never calls them). When the
family's demo builder (``families/wan_vace/demo.py``) is merged, these tests can use it instead.
"""

from __future__ import annotations

import torch

TEXT_DIM = 32


def tiny_transformer(seed: int = 0, num_layers: int = 2):
    from diffusers import WanVACETransformer3DModel

    torch.manual_seed(seed)
    return WanVACETransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=8, in_channels=16, out_channels=16,
        text_dim=TEXT_DIM, freq_dim=32, ffn_dim=32, num_layers=num_layers, vace_layers=[0], vace_in_channels=96,
        rope_max_seq_len=32).eval()


def tiny_pipeline(seed: int = 0, num_layers: int = 2):
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanVACEPipeline

    torch.manual_seed(seed)
    vae = AutoencoderKLWan(base_dim=8, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True]).eval()
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
    pipe = WanVACEPipeline(tokenizer=None, text_encoder=None, vae=vae, scheduler=scheduler,
                           transformer=tiny_transformer(seed, num_layers))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def prompt_embeds(seed: int = 0, tokens: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, tokens, TEXT_DIM, generator=g), torch.randn(1, tokens, TEXT_DIM, generator=g)
