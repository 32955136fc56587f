"""Path settings are resolved once, where settings are read: every layer sees one absolute path whatever the user
wrote (the relative default ``data``, ``~``, a symlink), and ``--models demo`` keeps its special meaning (issue 20)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from text2video.settings import Settings, sqlite_file


@pytest.fixture
def in_tmp_cwd(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_default_data_dir_is_absolute_under_the_working_directory(in_tmp_cwd):
    s = Settings.load(environ={})
    assert s.data_dir == in_tmp_cwd.resolve() / "data"
    assert s.jobs_dir.is_absolute() and s.models_dir == in_tmp_cwd.resolve() / "models"
    assert sqlite_file(s.database_url) == s.data_dir / "text2video.db"
    assert sqlite_file(s.broker_url) == s.data_dir / "broker.sqlite"


def test_home_and_symlinks_are_resolved(in_tmp_cwd, monkeypatch):
    home = in_tmp_cwd / "home"
    (home / "real").mkdir(parents=True)
    os.symlink(home / "real", home / "link")
    monkeypatch.setenv("HOME", str(home))
    s = Settings.load({"data_dir": "~/link", "models_dir": "~/weights"}, environ={})
    assert s.data_dir == (home / "real").resolve()
    assert s.models_dir == home.resolve() / "weights"


def test_environment_paths_are_resolved_too(in_tmp_cwd):
    s = Settings.load(environ={"TEXT2VIDEO_DATA_DIR": "shared/../store", "TEXT2VIDEO_NGROK_PATH": "bin/ngrok",
                               "TEXT2VIDEO_DATABASE_URL": "sqlite:///rel/jobs.db"})
    assert s.data_dir == in_tmp_cwd.resolve() / "store"
    assert s.ngrok_path == str(in_tmp_cwd.resolve() / "bin" / "ngrok")
    assert sqlite_file(s.database_url) == in_tmp_cwd.resolve() / "rel" / "jobs.db"


def test_models_demo_keeps_its_meaning(in_tmp_cwd):
    assert Settings.load({"models_dir": "demo"}, environ={}).models_dir == "demo"


def test_a_later_chdir_does_not_move_the_folders(in_tmp_cwd, monkeypatch):
    s = Settings.load(environ={})
    (in_tmp_cwd / "elsewhere").mkdir()
    monkeypatch.chdir(in_tmp_cwd / "elsewhere")
    assert s.replace(port=9000).data_dir == in_tmp_cwd.resolve() / "data"


def test_the_demo_weights_folder_is_absolute_too(in_tmp_cwd, monkeypatch):
    from text2video.models.layout import default_demo_dir

    monkeypatch.setenv("TEXT2VIDEO_DEMO_MODELS_DIR", "cache/demo")
    assert default_demo_dir() == in_tmp_cwd.resolve() / "cache" / "demo"
