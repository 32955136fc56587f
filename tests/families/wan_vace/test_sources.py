"""The Wan download catalog, fetched for real by the project's downloader from a fake Hub on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.models.fakeservers import FakeServers
from text2video.families.wan_vace import sources
from text2video.models import manifest as manifest_mod
from text2video.models.download import download


def test_each_variant_lists_what_from_pretrained_loads():
    for model, folder in sources.FOLDERS.items():
        paths = [f.candidates[0] for f in sources.hub_files(model)]
        assert {f.repo_id for f in sources.hub_files(model)} == {sources.REPOS[model]}
        assert {f.dest_dir for f in sources.hub_files(model)} == {folder}
        for needed in ("model_index.json", "scheduler/scheduler_config.json", "transformer/config.json",
                       "vae/config.json", "vae/diffusion_pytorch_model.safetensors", "text_encoder/config.json",
                       "tokenizer/spiece.model", "tokenizer/tokenizer_config.json"):
            assert needed in paths, (model, needed)
        shards = [p for p in paths if p.startswith("transformer/diffusion_pytorch_model-")]
        count = int(shards[0].split("-of-")[1].split(".")[0])
        assert len(shards) == count  # every shard the index names
    assert 18e9 < sources.total_bytes("wan-vace-1.3b") < 22e9
    assert 75e9 < sources.total_bytes("wan-vace-14b") < 90e9
    with pytest.raises(ValueError, match="unknown Wan VACE model 'wan-vace-7b'"):
        sources.catalog("wan-vace-7b")


def test_download_fetches_and_verifies_the_catalog_into_the_variant_folder(tmp_path):
    model = "wan-vace-1.3b"
    content = {path: hashlib.sha256(path.encode()).digest() * (1 + 400 * path.endswith(".safetensors"))
               for path, _ in sources.repo_files(model)}  # small and LFS-sized files, distinct bytes each
    content["model_index.json"] = json.dumps({"_class_name": "WanVACEPipeline"}).encode()
    fake = FakeServers(repos={sources.REPOS[model]: content}).start()
    try:
        lines: list[str] = []
        download(tmp_path, (model,), catalog=sources.catalog(model), endpoint=fake.hub_url, progress=False,
                 backoff_s=0.0, out=lines.append)
    finally:
        fake.stop()
    folder = tmp_path / sources.FOLDERS[model]
    for path, data in content.items():
        assert (folder / path).read_bytes() == data
    recorded = manifest_mod.load(tmp_path).files
    assert {f"{sources.FOLDERS[model]}/{p}" for p in content} <= set(recorded)
