"""What `manage.py download --model wan-vace-1.3b|wan-vace-14b` fetches: the files ``WanVACEPipeline.from_pretrained``
loads from the diffusers repositories ``Wan-AI/Wan2.1-VACE-1.3B-diffusers`` and ``Wan-AI/Wan2.1-VACE-14B-diffusers``,
declared in the downloader's own types (:class:`text2video.models.sources.HubFile`, one ``Catalog`` per variant), so
``models.download`` fetches, resumes, sizes (``--dry-run``) and verifies them like Stable Diffusion's files: every
file against the hash the Hub publishes for it at download time (LFS SHA-256 / git blob SHA-1); none is pinned here.

Each repository is stored under the models folder as ``<folder>/<path in the repo>`` (folder ``wan2.1-vace-1.3b`` /
``wan2.1-vace-14b``), so the folder is a complete diffusers folder. Not fetched: README, .gitattributes, assets.

File lists and sizes (``approx_bytes``, used only when the Hub cannot be asked; the real sizes come from HEAD):
from the Hub's file listings of Wan-AI/Wan2.1-VACE-1.3B-diffusers (transformer in 2 shards, 5.0 + 2.15 GB) and of
the same diffusers conversion of the 14B (15 transformer shards, 69.4 GB, as listed for its mirror
linoyts/Wan-VACE-14B-diffusers; Wan-AI's own 14B listing was not at hand: a shard name the Hub lacks fails the plan
with the file named, before anything is fetched). Both share the UMT5-XXL text encoder (3 shards, 11.4 GB bf16),
the 508 MB VAE and the umt5-xxl tokenizer (spiece.model, tokenizer.json, tokenizer_config.json,
special_tokens_map.json). Totals: 1.3B ~20 GB (18.6 GiB), 14B ~85 GB (79 GiB).
"""

from __future__ import annotations

from ...models.sources import MB, Catalog, HubFile

REPOS = {"wan-vace-1.3b": "Wan-AI/Wan2.1-VACE-1.3B-diffusers", "wan-vace-14b": "Wan-AI/Wan2.1-VACE-14B-diffusers"}
FOLDERS = {"wan-vace-1.3b": "wan2.1-vace-1.3b", "wan-vace-14b": "wan2.1-vace-14b"}
# transformer shard sizes (bytes, approximate) per variant
_TRANSFORMER_SHARDS = {
    "wan-vace-1.3b": (5000 * MB, 2150 * MB),
    "wan-vace-14b": (4870 * MB,) + (4920 * MB,) * 13 + (570 * MB,),  # 69.4 GB in all, as listed
}
_TEXT_ENCODER_SHARDS = (4940 * MB, 4980 * MB, 1440 * MB)


def _shards(prefix: str, stem: str, ext: str, sizes: tuple[int, ...]) -> list[tuple[str, int]]:
    n = len(sizes)
    return [(f"{prefix}/{stem}-{i:05d}-of-{n:05d}.{ext}", size) for i, size in enumerate(sizes, start=1)]


def repo_files(model: str) -> list[tuple[str, int]]:
    """(path in the repository, approximate bytes) of every file the pipeline loads, for ``model``."""
    if model not in REPOS:
        raise ValueError(f"unknown Wan VACE model {model!r}: use one of {', '.join(REPOS)}")
    return [
        ("model_index.json", 500),
        ("scheduler/scheduler_config.json", 800),
        ("transformer/config.json", 700),
        ("transformer/diffusion_pytorch_model.safetensors.index.json", 120_000),
        *_shards("transformer", "diffusion_pytorch_model", "safetensors", _TRANSFORMER_SHARDS[model]),
        ("text_encoder/config.json", 900),
        ("text_encoder/model.safetensors.index.json", 23_000),
        *_shards("text_encoder", "model", "safetensors", _TEXT_ENCODER_SHARDS),
        ("vae/config.json", 800),
        ("vae/diffusion_pytorch_model.safetensors", 508 * MB),
        ("tokenizer/spiece.model", 4_550_000),
        ("tokenizer/tokenizer.json", 16_800_000),
        ("tokenizer/tokenizer_config.json", 62_000),
        ("tokenizer/special_tokens_map.json", 7_100),
    ]


def hub_files(model: str) -> list[HubFile]:
    """The downloader's entries for ``model`` (part = the model name, stored under its folder)."""
    files = repo_files(model)  # refuses an unknown model
    return [HubFile(model, REPOS[model], (path,), FOLDERS[model], size) for path, size in files]


def catalog(model: str) -> Catalog:
    """A download catalog of ``model`` alone: ``models.download.download(root, (model,), catalog=catalog(model))``."""
    return Catalog(tuple(hub_files(model)), ())


def total_bytes(model: str) -> int:
    return sum(size for _, size in repo_files(model))
