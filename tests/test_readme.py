"""The README is the front door: its set-up and test commands are the ones CI runs, word for word."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def _sh_blocks(section: str) -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return [[line for line in block.splitlines() if line.strip()] for block in re.findall(r"```sh\n(.*?)```", body, re.S)]


def test_ci_runs_the_readme_set_up_and_test_commands():
    set_up = _sh_blocks("Quick start")[0][0]
    (test_command,) = _sh_blocks("Tests")[0]
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert set_up in ci and test_command in ci
    assert ci.index(set_up) < ci.index(test_command)


def test_the_set_up_command_installs_the_test_tools():
    set_up = _sh_blocks("Quick start")[0][0]
    installed = re.search(r"pip install -r (\S+)", set_up).group(1)
    text = (ROOT / installed).read_text()
    assert re.search(r"^pytest==", text, re.M) and re.search(r"^-r requirements\.txt$", text, re.M)


def test_the_quick_start_output_folder_is_ignored_by_git():
    """Issue 20 item 7: the README's demo writes out/demo.mp4 ...; `git status` must not list it."""
    import subprocess

    generate = next(line for line in _sh_blocks("Quick start")[0] if "manage.py generate" in line)
    out = re.search(r"--out (\S+)", generate).group(1)
    for path in (out, "data/text2video.db", "models/x"):
        done = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT)
        assert done.returncode == 0, f"{path} is not ignored by .gitignore"


def test_the_readme_says_where_the_demo_weights_live(monkeypatch, tmp_path):
    """Issue 20 item 7: where `--models demo` builds its weights was not said."""
    from text2video.models.layout import default_demo_dir

    monkeypatch.delenv("TEXT2VIDEO_DEMO_MODELS_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    built_in = "~/" + str(default_demo_dir().relative_to(tmp_path))
    quick = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert f"`{built_in}`" in quick and "TEXT2VIDEO_DEMO_MODELS_DIR" in quick, built_in
