"""The wholebody pose preset's files: declared once (layout), fetched from the Hub only when asked, pinned."""

from __future__ import annotations

import pytest

from text2video.exceptions import InvalidInput
from text2video.models import layout, manifest, sources
from text2video.models.download import DownloadError

from tests.models.helpers import run_download


def test_wholebody_files_are_the_layout_paths_with_pinned_hashes_at_a_fixed_commit():
    files = sources.catalog(("pose",), pose_presets=("wholebody",))
    assert files.zoo == ()
    dests = sorted(f.dest(f.candidates[0]) for f in files.hub)
    entry = layout.POSE_PRESETS["wholebody"]
    assert dests == sorted([entry["detector"], entry["pose"]])
    for f in files.hub:
        assert f.repo_id == "yzd-v/DWPose" and len(f.revision) == 40 and f.preset == "wholebody"
        assert len(f.sha256[f.candidates[0]]) == 64
    # Part of a default download like every preset, left out when others are named, checked like the others.
    assert {f.preset for f in sources.catalog(("pose",)).hub} == {"wholebody"}
    assert not [f for f in sources.catalog(("pose",), pose_presets=("balanced",)).hub if f.preset]
    with pytest.raises(InvalidInput, match="wholebody"):
        sources.zoo_files(("pose",), ("whole-body",))
    assert set(manifest.expected_slots(("pose",), ("wholebody",))) == {entry["detector"], entry["pose"]}


def test_wholebody_download_fetches_both_files_and_records_them(tmp_path, fake):
    root = tmp_path / "m"
    run_download(root, fake, parts=("pose",), pose_presets=("wholebody",))  # pinned to the fake files' hashes
    assert manifest.missing(root, ["pose"], ["wholebody"]) == []
    assert (root / layout.POSE_PRESETS["wholebody"]["pose"]).read_bytes() == \
        fake.repos[sources.DWPOSE_REPO]["dw-ll_ucoco_384.onnx"]
    asked = [r[2] for r in fake.requests]
    assert any(a.startswith(f"/yzd-v/DWPose/resolve/{sources.DWPOSE_REVISION}/") for a in asked)  # the pinned commit
    assert not fake.gets("/zoo/")


def test_wholebody_file_not_matching_the_real_pin_is_rejected(tmp_path, fake):
    root = tmp_path / "m"
    with pytest.raises(DownloadError) as err:  # the real pins against the fake bytes
        run_download(root, fake, parts=("pose",), pose_presets=("wholebody",),
                     catalog=sources.catalog(("pose",), pose_presets=("wholebody",)))
    assert "7860ae79de6c89a3" in str(err.value) or "724f4ff2439ed61a" in str(err.value)
