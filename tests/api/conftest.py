"""Fixtures for the API tests: an app on a fresh data folder, a small real video, a local HTTP server, and a
"hand worker" (see helpers.HandWorker). Live end-to-end tests with the real worker process: test_live.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.helpers import HandWorker, LocalServer, base_config
from tests.media import make_video
from text2video.api import create_app


@pytest.fixture(scope="session")
def sample_video(tmp_path_factory) -> Path:
    """12 frames, 64 x 64, 1 s at 12 fps: a real H.264 MP4."""
    return make_video(tmp_path_factory.mktemp("media") / "dance.mp4", 12, width=64, height=64, fps=12)


@pytest.fixture(scope="session")
def sample_bytes(sample_video) -> bytes:
    return sample_video.read_bytes()


@pytest.fixture
def make_app(tmp_path):
    def factory(**overrides):
        return create_app(base_config(tmp_path, **overrides))
    return factory


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def hand_worker(app, sample_video):
    return HandWorker(app, sample_video)


@pytest.fixture
def local_server():
    server = LocalServer("127.0.0.1")
    yield server
    server.close()
