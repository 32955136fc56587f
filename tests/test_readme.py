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
