"""Fixtures for the models tests: fake Hub + CDN/zoo servers on 127.0.0.1 holding small files for every entry of the
real download catalog (same repo ids, paths and zoo archive names), and a models folder downloaded from them."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from text2video.models import sources

from tests.models.fakeservers import FakeServers, make_zip
from tests.models.helpers import run_download


def _content() -> tuple[dict[str, dict[str, bytes]], dict[str, bytes], dict[str, str]]:
    rnd = random.Random(1234)
    blob = rnd.randbytes
    small = lambda obj: json.dumps(obj).encode()  # noqa: E731
    sd = {
        "model_index.json": small({"_class_name": "StableDiffusionPipeline"}),
        "scheduler/scheduler_config.json": small({"_class_name": "PNDMScheduler", "num_train_timesteps": 1000}),
        "tokenizer/tokenizer_config.json": small({"model_max_length": 77}),
        "tokenizer/vocab.json": small({"a": 0, "b": 1}),
        "tokenizer/merges.txt": b"#version: 0.2\na b\n",
        "tokenizer/special_tokens_map.json": small({"bos_token": "<|startoftext|>"}),
        "text_encoder/config.json": small({"hidden_size": 768}),
        "text_encoder/model.safetensors": blob(60_000),
        "vae/config.json": small({"latent_channels": 4}),
        "vae/diffusion_pytorch_model.safetensors": blob(40_000),
        "vae/diffusion_pytorch_model.fp16.safetensors": blob(20_000),
        "unet/config.json": small({"cross_attention_dim": 768}),
        "unet/diffusion_pytorch_model.safetensors": blob(400_000),
        "unet/diffusion_pytorch_model.fp16.safetensors": blob(200_000),
    }
    # No model.safetensors here: the downloader must fall back to the second candidate.
    fyp = {"followyourpose_checkpoint-1000/pytorch_model.bin": blob(300_000), "pose_encoder.pth": blob(50_000)}
    # No tokenizer.json / generation_config.json: optional files the downloader must skip.
    envit5 = {"config.json": small({"model_type": "t5"}), "pytorch_model.bin": blob(120_000),
              "spiece.model": blob(30_000), "tokenizer_config.json": small({}), "special_tokens_map.json": small({})}
    repos = {sources.SD_REPO: sd, sources.FYP_REPO: fyp, sources.TRANSLATION_REPO: envit5}
    zoo, onnx_sha = {}, {}
    for preset_files in sources.ZOO_FILES.values():
        for z in preset_files:
            onnx = blob(rnd.randint(60_000, 90_000))
            zoo[z.archive] = make_zip(onnx)
            onnx_sha[z.dest] = hashlib.sha256(onnx).hexdigest()
    # The wholebody preset's two files live on the Hub (yzd-v/DWPose), plain .onnx files.
    repos[sources.DWPOSE_REPO] = {f.candidates[0]: blob(rnd.randint(60_000, 90_000))
                                  for f in sources.HUB_POSE_FILES["wholebody"]}
    return repos, zoo, onnx_sha


@pytest.fixture(scope="session")
def servers():
    repos, zoo, onnx_sha = _content()
    fake = FakeServers(repos=repos, zoo=zoo).start()
    fake.onnx_sha = onnx_sha  # type: ignore[attr-defined]
    yield fake
    fake.stop()


@pytest.fixture
def fake(servers):
    """The session's servers with no faults armed and an empty request log."""
    servers.drop_once.clear()
    servers.corrupt_once.clear()
    servers.corrupt_always.clear()
    servers.reset_log()
    return servers


@pytest.fixture(scope="session")
def downloaded(servers, tmp_path_factory) -> Path:
    """A complete models folder downloaded from the fake servers (read-only for the tests that use it)."""
    root = tmp_path_factory.mktemp("downloaded") / "models"
    run_download(root, servers)
    return root
