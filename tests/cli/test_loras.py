"""`manage.py loras` lists the installed style LoRAs; `generate --lora NAME[:WEIGHT]` applies them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.lora_files import SD2_TARGETS, models_with_loras, write_lora
from text2video.cli import main
from text2video.video import read_frames

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAST = ["--steps", "2", "--frames", "2", "--stride", "1", "--width", "64", "--height", "64", "--dtype", "fp32",
        "--device", "cpu", "--seed", "4", "--input-type", "skeleton", "--no-progress"]


@pytest.fixture(scope="module")
def models(demo_models, tmp_path_factory) -> Path:
    root = models_with_loras(demo_models, tmp_path_factory.mktemp("cli-loras") / "models")
    write_lora(root / "loras" / "ink.safetensors", "kohya")
    write_lora(root / "loras" / "sd2.safetensors", "kohya", SD2_TARGETS)
    return root


def test_loras_lists_names_formats_and_problems(models, capsys):
    assert main(["loras", "--models", str(models)]) == 0
    out = capsys.readouterr().out
    assert "ink" in out and "kohya, unet+text_encoder" in out
    assert "sd2" in out and "NOT USABLE: it was made for SD-2.x" in out
    assert main(["loras", "--models", str(models), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [item["name"] for item in listed["loras"]] == ["ink", "sd2"]
    assert listed["folder"] == str(models / "loras")


def test_loras_says_where_files_go_when_there_are_none(tmp_path, capsys):
    assert main(["loras", "--models", str(tmp_path)]) == 0
    assert str(tmp_path / "loras") in capsys.readouterr().out


def test_generate_with_a_lora_makes_another_video(models, skeleton_video, tmp_path):
    plain, styled = tmp_path / "plain.mp4", tmp_path / "ink.mp4"
    base = ["generate", "--pose-video", str(skeleton_video), "--prompt", "a man dancing", "--models", str(models),
            *FAST]
    assert main([*base, "--out", str(plain)]) == 0
    assert main([*base, "--out", str(styled), "--lora", "ink:0.8"]) == 0
    assert not np.array_equal(read_frames(plain), read_frames(styled))


@pytest.mark.parametrize("lora, expected", [("sketch", "installed: ink, sd2"), ("ink:5", "outside -2..2"),
                                            ("sd2", "sd2.safetensors cannot be used")])
def test_generate_with_a_bad_lora_is_one_error_line_and_no_file(models, skeleton_video, tmp_path, capsys, lora,
                                                                expected):
    out = tmp_path / "out" / "x.mp4"
    code = main(["generate", "--pose-video", str(skeleton_video), "--prompt", "a man", "--models", str(models),
                 "--out", str(out), *FAST, "--lora", lora])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and "Traceback" not in err
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
