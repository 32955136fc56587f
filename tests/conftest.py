"""Shared fixtures. Tests run the real loading and inference code on tiny demo models built once per session.

The service fixtures (settings, store, worker and server processes) are in tests/service_fixtures.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.media import SHARED_DATA, skeleton_frames

pytest_plugins = ["tests.service_fixtures"]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real test videos in ../shared/data; tests that need them skip in a plain clone without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent (a plain clone without ../shared): real-video tests skipped")
    return SHARED_DATA


@pytest.fixture(scope="session")
def skeleton_video(tmp_path_factory) -> Path:
    """A 12-frame synthetic skeleton clip (80 x 96, 24 fps) in the training colours (the browser tests override it
    with a real skeleton video: tests/frontend/conftest.py)."""
    from text2video.video import write_mp4

    path = tmp_path_factory.mktemp("skeleton-input") / "skeleton.mp4"
    write_mp4(skeleton_frames(12), path, 24)
    return path


@pytest.fixture(scope="session")
def demo_models(tmp_path_factory) -> Path:
    """A complete tiny models folder in the real layout (random weights), shared by the whole session.

    Exported as TEXT2VIDEO_DEMO_MODELS_DIR so subprocesses (CLI, Celery workers) reuse it with `--models demo`.
    """
    from text2video.models.demo import ensure_demo_models

    root = Path(os.environ.get("TEXT2VIDEO_TEST_DEMO_DIR") or tmp_path_factory.getbasetemp() / "demo-models")
    os.environ["TEXT2VIDEO_DEMO_MODELS_DIR"] = str(root)
    return ensure_demo_models(root)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Screenshots and other files worth looking at after a run (test-artifacts/, ignored by git)."""
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models on a busy 2-core box: one intra-op thread is several times faster than two fighting.

    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")`` in modules that run tiny models in-process.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
