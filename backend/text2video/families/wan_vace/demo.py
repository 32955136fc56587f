"""Tiny demo Wan2.1 VACE pipelines in the real diffusers layout (random weights: their videos are NOISE).

``build_demo(root)`` writes ``root/wan2.1-vace-1.3b/`` and ``root/wan2.1-vace-14b/``, each what the published
``Wan-AI/Wan2.1-VACE-*-diffusers`` repositories hold: ``model_index.json`` (``WanVACEPipeline``, tokenizer class
``T5TokenizerFast`` as there), ``transformer/`` (``WanVACETransformer3DModel``), ``vae/`` (``AutoencoderKLWan``),
``text_encoder/`` (``UMT5EncoderModel``), ``tokenizer/`` (``spiece.model`` + ``tokenizer.json`` +
``tokenizer_config.json`` + ``special_tokens_map.json``) and ``scheduler/`` (``UniPCMultistepScheduler`` with the
published settings). ``WanVACEPipeline.from_pretrained`` loads them through exactly the code path of the real folders.

What is kept real, so that the frame and size rules are the real ones: latent channels 16, VAE 8x spatial and 4x
temporal compression (``dim_mult`` of 4 entries, ``temperal_downsample`` [False, True, True]), patch (1, 2, 2) (sides
multiples of 16), ``vace_in_channels`` 96 (16 + 16 latent channels of the masked video + 64 of the 8x8 mask), VACE
blocks at every 2nd layer (1.3B: [0, 2, ..., 28] of 30) or every 5th (14B: [0, 5, ..., 35] of 40), UMT5 with gated-GELU.
Widths and depths are tiny. The tokenizer is a SentencePiece unigram model trained here (the real one is
google/umt5-xxl's, 256k pieces) on the prompt demo's Vietnamese + English corpus.

Seeded: the same build writes the same bytes. Build: 0.3-1 s on 2 busy CPU cores once torch, diffusers and
transformers are imported (that import is 5-12 s cold); 1.7 MB per folder, 3.5 MB in all.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from .sources import FOLDERS as MODEL_FOLDERS

SEED = 4321
FOLDERS = tuple(MODEL_FOLDERS.values())  # wan2.1-vace-1.3b, wan2.1-vace-14b
# Tiny transformers with the published layer patterns: 1.3B has VACE blocks at every 2nd of 30 layers, 14B at every
# 5th of 40 (configs of Wan-AI/Wan2.1-VACE-*-diffusers); here 4 and 6 layers.
TRANSFORMER_LAYERS = {"wan2.1-vace-1.3b": (4, [0, 2]), "wan2.1-vace-14b": (6, [0, 5])}
TEXT_DIM = 32  # UMT5 d_model (4096 in umt5-xxl) = the transformer's text_dim
TRANSFORMER_CONFIG = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16,
                          out_channels=16, text_dim=TEXT_DIM, freq_dim=32, ffn_dim=48, cross_attn_norm=True,
                          qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024, vace_in_channels=96)
VAE_CONFIG = dict(base_dim=4, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=1, attn_scales=[],
                  temperal_downsample=[False, True, True], dropout=0.0)
TEXT_ENCODER_CONFIG = dict(d_model=TEXT_DIM, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                           relative_attention_num_buckets=8, relative_attention_max_distance=32, dropout_rate=0.0,
                           feed_forward_proj="gated-gelu", tie_word_embeddings=False, pad_token_id=0, eos_token_id=1,
                           decoder_start_token_id=0)
# scheduler/scheduler_config.json of Wan-AI/Wan2.1-VACE-*-diffusers (both ship flow_shift 3.0; the runner sets it
# for the requested size).
SCHEDULER_CONFIG = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear",
                        solver_order=2, prediction_type="flow_prediction", predict_x0=True, solver_type="bh2",
                        lower_order_final=True, disable_corrector=[], final_sigmas_type="zero", flow_shift=3.0,
                        use_flow_sigmas=True, timestep_spacing="linspace", steps_offset=0)
MAX_TOKENS = 512  # the pipeline's max_sequence_length default
DEMO_NOTE = ("Random tiny Wan2.1 VACE: its videos are noise. "
             "Run `python manage.py download --model {model}` for the real weights.\n")


def _write_tokenizer(folder: Path) -> None:
    """A T5 tokenizer folder with the files the Hub's umt5-xxl one has: the trained ``spiece.model``, the
    ``tokenizer.json`` transformers converts from it, ``tokenizer_config.json`` and ``special_tokens_map.json``."""
    from ...prompt.demo import train_sentencepiece

    folder.mkdir(parents=True)
    (folder / "spiece.model").write_bytes(train_sentencepiece())
    specials = {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
    (folder / "special_tokens_map.json").write_text(json.dumps(specials, indent=2) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {**specials, "extra_ids": 0, "model_max_length": MAX_TOKENS, "tokenizer_class": "T5Tokenizer"}, indent=2))
    _tokenizer_from(folder).save_pretrained(folder)  # adds tokenizer.json, as the published folder has


def _tokenizer_from(folder: Path):
    from transformers import T5TokenizerFast

    return T5TokenizerFast.from_pretrained(folder)


def _components(vocab_size: int, num_layers: int, vace_layers: list[int]) -> dict:
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanVACETransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    return {
        "transformer": WanVACETransformer3DModel(num_layers=num_layers, vace_layers=vace_layers,
                                                 **TRANSFORMER_CONFIG),
        "vae": AutoencoderKLWan(**VAE_CONFIG),
        "text_encoder": UMT5EncoderModel(UMT5Config(vocab_size=vocab_size, **TEXT_ENCODER_CONFIG)).eval(),
        "scheduler": UniPCMultistepScheduler(**SCHEDULER_CONFIG),
    }


def _save_pipeline(target: Path, tokenizer, folder_name: str) -> None:
    import torch
    from diffusers import WanVACEPipeline

    num_layers, vace_layers = TRANSFORMER_LAYERS[folder_name]
    state = torch.random.get_rng_state()
    torch.manual_seed(SEED)
    try:
        parts = _components(len(tokenizer), num_layers, vace_layers)
    finally:
        torch.random.set_rng_state(state)  # do not disturb the caller's random stream
    WanVACEPipeline(tokenizer=tokenizer, **parts).save_pretrained(target)
    # The published model_index.json names the tokenizer T5TokenizerFast (transformers 5 aliases it to T5Tokenizer,
    # which save_pretrained writes): keep the published name so the demo loads exactly like the real folder.
    index_path = target / "model_index.json"
    index = json.loads(index_path.read_text())
    index["tokenizer"] = ["transformers", "T5TokenizerFast"]
    index_path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    model = next(model for model, folder in MODEL_FOLDERS.items() if folder == folder_name)
    (target / "DEMO.txt").write_text(DEMO_NOTE.format(model=model))


def build_demo(root: str | Path) -> Path:
    """Write both tiny Wan VACE folders under ``root`` (each replaced whole, via a temporary folder); returns root."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".wan-vace-", dir=root))
    try:
        _write_tokenizer(tmp / "tokenizer")
        tokenizer = _tokenizer_from(tmp / "tokenizer")
        for name in FOLDERS:
            _save_pipeline(tmp / name, tokenizer, name)
            # The saved tokenizer folder is re-written from the trained files so both variants hold the same bytes.
            shutil.rmtree(tmp / name / "tokenizer")
            shutil.copytree(tmp / "tokenizer", tmp / name / "tokenizer")
        for name in FOLDERS:
            if (root / name).exists():
                shutil.rmtree(root / name)
            os.replace(tmp / name, root / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root
