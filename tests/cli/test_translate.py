"""`python manage.py translate` end to end in a subprocess, with the demo models (`--models demo`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli.helpers import manage


def _run(*args: str, demo_dir: Path) -> subprocess.CompletedProcess:
    return manage("translate", *args, demo_dir=demo_dir)


@pytest.fixture(scope="module")
def demo_dir(demo_models) -> Path:
    return demo_models


def test_vietnamese_prompt(demo_dir):
    proc = _run("Cô gái nhảy trên núi", "--models", "demo", demo_dir=demo_dir)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "language:  vi (detected)" in out
    english = next(line for line in out.splitlines() if line.startswith("english:"))
    assert "Cô gái" not in english and len(english) > len("english:   ")
    assert "DEMO translation model" in out  # nonsense output says so
    assert "tokens:" in out


def _main_json(capsys, *args: str) -> dict:
    # In-process (the subprocess test above covers start-up): same parser, same run(), no second import of torch.
    from text2video.cli import main

    assert main(["translate", *args, "--json", "--models", "demo"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_and_forced_language(demo_dir, capsys):
    data = _main_json(capsys, "co", "gai", "nhay", "--lang", "en")
    assert data["original"] == "co gai nhay" and data["english"] == "co gai nhay"
    assert data["language"] == "en" and data["detected"] is False and data["translated"] is False


def test_unaccented_vietnamese_is_detected(demo_dir, capsys):
    data = _main_json(capsys, "co gai nhay tren nui")
    assert data["language"] == "vi" and data["detected"] and data["translated"] is True and data["demo"] is True
    assert data["token_count"] and data["token_count"] <= 77


@pytest.mark.parametrize("args, message", [
    (("   ",), "error: prompt is empty"),
    (("--negative", "mờ\x01"), "error: negative_prompt contains a control character U+0001"),
    (("Cô gái", "--lang", "fr"), "error: lang must be one of auto, vi, en"),
])
def test_bad_input_exits_2_with_one_line(demo_dir, args, message):
    proc = _run(*args, "--models", "demo", demo_dir=demo_dir)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_missing_translator_is_a_one_line_error(tmp_path, capsys):
    from text2video.cli import main

    assert main(["translate", "Cô gái nhảy trên núi", "--models", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the translation model is missing") and "download --only prompt" in err
    # English needs no translator: it works with the same empty folder.
    assert main(["translate", "a girl dancing", "--models", str(tmp_path)]) == 0
    assert "english:   a girl dancing" in capsys.readouterr().out
