"""`manage.py download` against real HTTP servers on 127.0.0.1 in the Hub and zoo layouts (see fakeservers.py)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.models.helpers import make_catalog, run_download

from text2video.exceptions import ServiceUnavailable
from text2video.models import manifest, sources
from text2video.models.download import DOWNLOADS_DIR, DownloadError, human

ROOT = Path(__file__).resolve().parents[2]
UNET = "unet/diffusion_pytorch_model.safetensors"
YOLOX_M = "yolox_m_8xb8-300e_humanart-c2c7a14a.zip"


def test_end_to_end_every_file_fetched_verified_and_recorded(downloaded, servers):
    m = manifest.load(downloaded)
    assert manifest.missing(downloaded) == []
    assert not m.demo
    # Every file is byte-identical to what the server holds, and recorded with its size and SHA-256.
    for rel, rec in m.files.items():
        data = (downloaded / rel).read_bytes()
        assert rec.size == len(data) and rec.sha256 == hashlib.sha256(data).hexdigest(), rel
    sd = servers.repos[sources.SD_REPO]
    assert (downloaded / "stable-diffusion-v1-4" / UNET).read_bytes() == sd[UNET]
    # What each hash was checked against: LFS sha256 from the Hub, git blob sha1 for small files, pins for the zoo.
    assert m.files[f"stable-diffusion-v1-4/{UNET}"].verified == "hub-lfs-sha256"
    assert m.files["stable-diffusion-v1-4/model_index.json"].verified == "hub-git-sha1"
    assert m.files["pose/yolox_m.onnx"].verified == "pinned"
    assert m.files["pose/yolox_x.onnx"].verified == "first-download"
    assert (downloaded / "pose/yolox_m.onnx").read_bytes() and not (downloaded / DOWNLOADS_DIR).exists()
    # Candidate fallback: the FYP repo has no model.safetensors, so pytorch_model.bin was taken.
    assert "follow-your-pose/followyourpose_checkpoint-1000/pytorch_model.bin" in m.files
    # Optional files the server lacks are skipped; the fp16 variant was not fetched without --fp16.
    assert not (downloaded / "envit5-translation/tokenizer.json").exists()
    assert not any(".fp16." in p for p in m.files)
    assert m.parts["diffusion"]["revisions"][sources.SD_REPO] == "c0ffee" + "0" * 34
    assert m.parts["diffusion"]["variant"] is None and m.parts["pose"]["complete"] is True
    assert manifest.sd_variant(downloaded) is None


def test_second_run_fetches_nothing(downloaded, fake):
    plan, lines = run_download(downloaded, fake)
    assert plan.to_fetch == []
    assert fake.gets() == []  # not one GET: recorded files are trusted by size (doctor --verify re-hashes)
    assert any(line.startswith("done: 0 fetched") for line in lines)


def test_fp16_variant_and_only(tmp_path, fake):
    root = tmp_path / "m"
    run_download(root, fake, parts=("diffusion",), fp16=True)
    m = manifest.load(root)
    assert "stable-diffusion-v1-4/unet/diffusion_pytorch_model.fp16.safetensors" in m.files
    assert f"stable-diffusion-v1-4/{UNET}" not in m.files
    assert "stable-diffusion-v1-4/text_encoder/model.safetensors" in m.files  # always fp32 (cast at load)
    assert manifest.sd_variant(root) == "fp16" and m.parts["diffusion"]["variant"] == "fp16"
    assert manifest.missing(root, ["diffusion"]) == []
    assert manifest.missing(root, ["prompt"]) != []  # --only diffusion fetched nothing else
    assert not (root / "pose").exists()
    # Back to fp32: the fp16 files are replaced, not left beside the new ones for a loader to trip over.
    _, lines = run_download(root, fake, parts=("diffusion",))
    assert not (root / "stable-diffusion-v1-4/unet/diffusion_pytorch_model.fp16.safetensors").exists()
    assert (root / "stable-diffusion-v1-4" / UNET).exists() and manifest.sd_variant(root) is None
    assert any("removed the superseded" in line for line in lines)


def test_dry_run_prints_files_and_sizes_and_fetches_nothing(tmp_path, fake):
    root = tmp_path / "m"
    plan, lines = run_download(root, fake, dry_run=True)
    text = "\n".join(lines)
    assert fake.gets() == [] and not root.exists()
    unet_size = len(fake.repos[sources.SD_REPO][UNET])
    zip_size = len(fake.zoo[YOLOX_M])
    assert f"stable-diffusion-v1-4/{UNET}" in text and human(unet_size) in text
    assert "pose/yolox_m.onnx" in text and f"{fake.cdn_url}/zoo/{YOLOX_M}" in text
    item = {i.dest: i for i in plan.items}
    assert item[f"stable-diffusion-v1-4/{UNET}"].size == unet_size and item["pose/yolox_m.onnx"].size == zip_size
    assert not plan.sizes_estimated  # every size came from a HEAD answer
    assert item["envit5-translation/tokenizer.json"].action == "skip"
    assert "dry run: nothing was fetched" in text and human(plan.bytes_to_fetch) in text


def test_disk_space_refused_before_fetching(tmp_path, fake):
    root = tmp_path / "m"
    with pytest.raises(ServiceUnavailable) as err:
        run_download(root, fake, free_bytes=100_000)
    assert "not enough disk space" in str(err.value) and "--only" in str(err.value)
    assert err.value.field == "models_dir"
    assert fake.gets() == [] and not (root / "manifest.json").exists()


def test_hub_transfer_dropped_midway_is_resumed_with_range(tmp_path, fake):
    """huggingface_hub resumes a dropped transfer inside hf_hub_download, from the last whole 10 MiB chunk it wrote
    (constants.DOWNLOAD_CHUNK_SIZE): served a 10.5 MiB file cut at 10.25 MiB, it must ask for bytes=10485760-."""
    big = "big/weights.safetensors"
    data = os.urandom(10 * 1024 * 1024 + 512 * 1024)
    fake.repos[sources.SD_REPO][big] = data
    fake._by_sha = None
    lfs = fake.lfs_path(sources.SD_REPO, big)
    fake.drop_once.add(lfs)
    fake.drop_after[lfs] = 10 * 1024 * 1024 + 256 * 1024
    spec = sources.HubFile("diffusion", sources.SD_REPO, (big,), "stable-diffusion-v1-4", len(data))
    catalog = sources.Catalog((spec,), ())
    root = tmp_path / "m"
    try:
        run_download(root, fake, parts=("diffusion",), catalog=catalog)
    finally:
        del fake.repos[sources.SD_REPO][big]
        fake._by_sha = None
    ranges = [r[3] for r in fake.gets(lfs)]
    assert ranges == [None, f"bytes={10 * 1024 * 1024}-"]
    assert (root / "stable-diffusion-v1-4" / big).read_bytes() == data
    assert manifest.load(root).files[f"stable-diffusion-v1-4/{big}"].verified == "hub-lfs-sha256"


def test_zoo_transfer_resumes_within_a_run_and_across_runs(tmp_path, fake):
    path = f"/zoo/{YOLOX_M}"
    root = tmp_path / "m"
    # 1. within one run: the connection drops, the next request asks for the rest with Range.
    fake.drop_once.add(path)
    run_download(root, fake, parts=("pose",), pose_presets=("balanced",))
    ranges = [r[3] for r in fake.gets(path)]
    assert ranges[0] is None and ranges[1] == f"bytes={len(fake.zoo[YOLOX_M]) // 2}-"
    assert manifest.missing(root, ["pose"], ["balanced"]) == []

    # 2. across runs: a run that gives up (no retries left) keeps the partial file; the next run continues it.
    root2 = tmp_path / "m2"
    fake.reset_log()
    fake.drop_once.add(path)
    with pytest.raises(DownloadError) as err:
        run_download(root2, fake, parts=("pose",), pose_presets=("balanced",), retries=0)
    assert "run the same command again" in str(err.value).lower()
    part = root2 / DOWNLOADS_DIR / (YOLOX_M + ".part")
    assert part.stat().st_size == len(fake.zoo[YOLOX_M]) // 2
    fake.reset_log()
    run_download(root2, fake, parts=("pose",), pose_presets=("balanced",))
    assert [r[3] for r in fake.gets(path)] == [f"bytes={len(fake.zoo[YOLOX_M]) // 2}-"]
    assert (root2 / "pose/yolox_m.onnx").read_bytes() == (root / "pose/yolox_m.onnx").read_bytes()


def test_checksum_mismatch_is_deleted_and_fetched_again(tmp_path, fake):
    lfs = fake.lfs_path(sources.SD_REPO, UNET)
    fake.corrupt_once.update({lfs, f"/zoo/{YOLOX_M}"})
    root = tmp_path / "m"
    run_download(root, fake, parts=("diffusion", "pose"), pose_presets=("balanced",))
    assert len(fake.gets(lfs)) == 2 and len(fake.gets(f"/zoo/{YOLOX_M}")) == 2
    m = manifest.load(root)
    assert m.files[f"stable-diffusion-v1-4/{UNET}"].sha256 == hashlib.sha256(
        fake.repos[sources.SD_REPO][UNET]).hexdigest()
    assert m.files["pose/yolox_m.onnx"].sha256 == fake.onnx_sha["pose/yolox_m.onnx"]


def test_checksum_mismatch_twice_fails_clearly_and_leaves_nothing(tmp_path, fake):
    lfs = fake.lfs_path(sources.SD_REPO, UNET)
    fake.corrupt_always.add(lfs)
    root = tmp_path / "m"
    with pytest.raises(DownloadError) as err:
        run_download(root, fake, parts=("diffusion",))
    msg = str(err.value)
    assert UNET in msg and "failed verification twice" in msg and hashlib.sha256(
        fake.repos[sources.SD_REPO][UNET]).hexdigest() in msg
    assert not (root / "stable-diffusion-v1-4" / UNET).exists()
    assert f"stable-diffusion-v1-4/{UNET}" not in manifest.load(root).files
    # The files verified before the failure are recorded: a rerun continues from there.
    assert "stable-diffusion-v1-4/model_index.json" in manifest.load(root).files


def test_zoo_file_not_matching_its_pin_is_rejected(tmp_path, fake):
    catalog = make_catalog(fake, ("pose",), False, ("balanced",)).with_zoo_hashes({"pose/rtmpose_m.onnx": "0" * 64})
    root = tmp_path / "m"
    with pytest.raises(DownloadError) as err:
        run_download(root, fake, parts=("pose",), pose_presets=("balanced",), catalog=catalog)
    assert "pose/rtmpose_m.onnx" in str(err.value) and "0" * 64 in str(err.value)
    assert not (root / "pose/rtmpose_m.onnx").exists()
    assert (root / "pose/yolox_m.onnx").exists()  # the good one stays, recorded


def test_cli_download_subprocess_honours_hf_endpoint_and_zoo_env(tmp_path, fake):
    env = {**os.environ, "HF_ENDPOINT": fake.hub_url, sources.ZOO_URL_ENV: fake.cdn_url + "/zoo/",
           "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    root = tmp_path / "m"
    cmd = [sys.executable, str(ROOT / "manage.py"), "download", "--models", str(root), "--only", "prompt",
           "--no-progress"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "envit5-translation/pytorch_model.bin" in done.stdout
    assert manifest.missing(root, ["prompt"]) == []
    assert all(r[0] in ("hub", "cdn") for r in fake.requests) and fake.gets("/VietAI/envit5-translation/")

    # download_module.sh is the same command.
    sh = subprocess.run(["sh", str(ROOT / "download_module.sh"), "--models", str(root), "--only", "prompt",
                         "--dry-run"], env={**env, "PYTHON": sys.executable}, capture_output=True, text=True,
                        timeout=120)
    assert sh.returncode == 0, sh.stderr
    assert "to fetch: 0 files" in sh.stdout

    bad = subprocess.run(cmd[:-3] + ["--only", "weights"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "'weights'" in bad.stderr and "--only" in bad.stderr
    assert "diffusion, prompt, pose" in bad.stderr


def test_download_refuses_a_demo_folder(tmp_path, fake):
    root = tmp_path / "demo"
    root.mkdir()
    (root / "DEMO").write_text("1\n")
    from text2video.exceptions import InvalidInput

    with pytest.raises(InvalidInput, match="demo folder"):
        run_download(root, fake, dry_run=True)


def test_manifest_file_is_json_with_the_documented_fields(downloaded):
    data = json.loads((downloaded / "manifest.json").read_text())
    assert data["version"] == 1 and data["updated"]
    rec = data["files"]["pose/rtmpose_m.onnx"]
    assert set(rec) == {"size", "sha256", "source", "part", "slot", "verified", "time"}
    assert rec["source"].endswith("/zoo/rtmpose-m_simcc-body7_pt-body7_420e-256x192-e48f03d0_20230504.zip")


def test_unreachable_servers_give_estimates_in_dry_run_and_a_clear_error(tmp_path):
    from text2video.models.download import download

    lines: list[str] = []
    dead = "http://127.0.0.1:1"  # nothing listens on port 1
    plan = download(tmp_path / "m", ("prompt", "pose"), pose_presets=("balanced",), endpoint=dead,
                    zoo_url=dead + "/zoo/", dry_run=True, progress=False, out=lines.append)
    assert plan.sizes_estimated and "~" in "\n".join(lines) and len(plan.notes) == 2
    with pytest.raises(DownloadError) as err:
        download(tmp_path / "m", ("prompt",), endpoint=dead, progress=False, out=lines.append)
    assert err.value.field == "HF_ENDPOINT" and "run the command again" in str(err.value)
    with pytest.raises(DownloadError) as err:
        download(tmp_path / "m", ("pose",), pose_presets=("balanced",), zoo_url=dead + "/zoo/", retries=0,
                 backoff_s=0, progress=False, out=lines.append)
    assert "transfer failed" in str(err.value) and "resumes" in str(err.value)
