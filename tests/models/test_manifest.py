"""manifest.json: round trip, what counts as missing, deep verification, demo folders."""

from __future__ import annotations

import json
import shutil

import pytest

from text2video.models import layout, manifest, sources


def _record(root, rel, data=b"weights", part="pose", slot=None):
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(data)
    rec = manifest.FileRecord(path=rel, size=len(data), sha256=manifest.sha256_file(root / rel),
                              source=f"http://example.invalid/{rel}", part=part, slot=slot or rel,
                              verified="pinned")
    return manifest.record(root, rec)


def test_round_trip(tmp_path):
    assert manifest.load(tmp_path).files == {} and not manifest.load(tmp_path).demo
    m = _record(tmp_path, "pose/yolox_m.onnx", b"abc")
    m.parts["pose"] = {"complete": False}
    manifest.save(m)
    again = manifest.load(tmp_path)
    assert again.to_dict()["files"] == m.to_dict()["files"] and again.parts == {"pose": {"complete": False}}
    rec = again.files["pose/yolox_m.onnx"]
    assert rec.size == 3 and rec.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert rec.time and again.updated
    assert not list(tmp_path.glob(".manifest-*"))  # the temporary file was renamed into place


def test_recording_one_variant_replaces_the_other(tmp_path):
    slot = "stable-diffusion-v1-4/unet/diffusion_pytorch_model.safetensors"
    _record(tmp_path, slot, b"fp32", part="diffusion", slot=slot)
    m = _record(tmp_path, "stable-diffusion-v1-4/unet/diffusion_pytorch_model.fp16.safetensors", b"fp16",
                part="diffusion", slot=slot)
    assert list(m.files) == ["stable-diffusion-v1-4/unet/diffusion_pytorch_model.fp16.safetensors"]


def test_missing_and_verify(downloaded, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(downloaded, root)
    assert manifest.missing(root) == [] and manifest.verify(root, deep=True) == []
    assert manifest.missing(root, ["pose"], ["balanced"]) == []
    # Same size, different content: only the deep check sees it.
    onnx = root / "pose/yolox_m.onnx"
    onnx.write_bytes(bytes([onnx.read_bytes()[0] ^ 1]) + onnx.read_bytes()[1:])
    assert manifest.verify(root) == []
    assert "pose/yolox_m.onnx: SHA-256 differs" in manifest.verify(root, deep=True)[0]
    # Truncated: missing() and verify() both report it.
    onnx.write_bytes(b"short")
    assert manifest.missing(root, ["pose"]) == ["pose/yolox_m.onnx"]
    assert "size 5 differs" in manifest.verify(root)[0]
    # Deleted.
    (root / "envit5-translation/spiece.model").unlink()
    assert manifest.missing(root, ["prompt"]) == ["envit5-translation/spiece.model"]
    # A file present on disk but not in the manifest is not trusted.
    data = json.loads((root / "manifest.json").read_text())
    del data["files"]["follow-your-pose/pose_encoder.pth"]
    (root / "manifest.json").write_text(json.dumps(data))
    assert manifest.missing(root, ["diffusion"]) == ["follow-your-pose/pose_encoder.pth"]


def test_every_required_slot_is_reported_for_an_empty_folder(tmp_path):
    absent = manifest.missing(tmp_path)
    assert "stable-diffusion-v1-4/unet/diffusion_pytorch_model.safetensors" in absent
    assert "follow-your-pose/followyourpose_checkpoint-1000/model.safetensors" in absent
    assert "pose/rtmpose_x.onnx" in absent and "envit5-translation/config.json" in absent
    assert "envit5-translation/tokenizer.json" not in absent  # optional
    assert len(manifest.missing(tmp_path, ["pose"], ["balanced"])) == 2


def test_corrupt_or_foreign_manifest_says_what_to_do(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match="manage.py download"):
        manifest.load(tmp_path)
    (tmp_path / "manifest.json").write_text('{"version": 99}')
    with pytest.raises(ValueError, match="version 99"):
        manifest.load(tmp_path)


def test_git_blob_sha1_matches_git(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"hello\n")
    assert manifest.git_blob_sha1(path) == "ce013625030ba8dba906f756967f9e9ca394464a"  # `git hash-object`


def test_slots_cover_the_layout():
    slots = manifest.expected_slots()
    for preset in layout.POSE_PRESETS.values():
        assert preset["detector"] in slots and preset["pose"] in slots
    assert any(s.startswith(layout.FYP_CHECKPOINT_DIR) for s in slots) and layout.FYP_POSE_ENCODER in slots
    assert all(s.split("/")[0] in (layout.SD_DIR, layout.FYP_DIR, layout.TRANSLATION_DIR, layout.POSE_DIR)
               for s in slots)
    assert sources.parse_parts("pose, diffusion") == ("pose", "diffusion")
