"""Browser fixtures: the README's ``python manage.py --models demo`` (API + web UI under waitress + one real worker
running the real Engine on the tiny demo weights) from the root of a fresh clone with the default data folder, and
headless Debian Chromium driven by Playwright.

- ``live_ui`` (session): the running service; ``live_ui.url``, ``live_ui.api(...)`` for direct API calls.
- ``browser`` (session): Chromium at /usr/bin/chromium (skipped with a reason when absent; never downloaded).
- ``page`` (function): a fresh context (desktop viewport, English unless the test says otherwise).
The processes are stopped by pid at the end (never by name).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--autoplay-policy=no-user-gesture-required"]
MAX_UPLOAD_MB = 2  # small, so the client-side size check can be shown with a 2+ MB file


@dataclass
class LiveUI:
    url: str
    proc: subprocess.Popen
    log: Path
    data_dir: Path

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, self.url + path, timeout=30, **kwargs)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # serve stops its worker in order
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _Startup:
    """``manage.py serve`` started in the background: the URL, the worker and its first (engine-loading) job are
    awaited in a thread, so that slow start overlaps the tests that need no worker."""

    def __init__(self, root: Path):
        from tests.service import fresh_clone, newcomer_env

        # A newcomer's run (issue 20): the README's `python manage.py --models demo` from the root of a fresh
        # clone, no data_dir given, so jobs live in the default, relative `data` folder there. Only what the tests
        # need differs from the defaults (none of it a path).
        clone = fresh_clone(root / "Text2Video")
        env = newcomer_env(device="cpu", min_free_disk_mb=1, max_upload_mb=MAX_UPLOAD_MB, heartbeat_interval_s=0.5,
                           reaper_interval_s=1.0, threads=8)  # keeps TEXT2VIDEO_DEMO_MODELS_DIR (demo_models)
        env["OMP_NUM_THREADS"] = "1"  # a 2-core box shared with the browser: keep the worker from starving it
        log = root / "serve.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "manage.py", "--models", "demo", "--port", "0"], env=env,
                                    cwd=str(clone), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.live = LiveUI("", proc, log, clone / "data")
        self.error: str | None = None
        self.thread = threading.Thread(target=self._wait_ready, name="live-ui-startup", daemon=True)
        self.thread.start()

    def _wait_ready(self) -> None:
        live, proc = self.live, self.live.proc
        deadline = time.monotonic() + 120
        try:
            while not live.url:
                match = re.search(r"Text2Video API: (http://\S+)", live.output())
                if match:
                    live.url = match.group(1)
                elif proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("manage.py serve did not start")
                else:
                    time.sleep(0.2)
            while True:  # the worker (a Celery process importing torch) takes a while on a busy box
                health = live.api("GET", "/api/v1/health").json()
                if health.get("workers", {}).get("alive"):
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"no worker came up: {health}")
                time.sleep(0.3)
            _warm_up(live, deadline + 60)
        except Exception as exc:  # noqa: BLE001 - reported by the live_ui fixture, in the test that needs it
            self.error = f"{exc}\n{live.output()[-3000:]}"

    def ready(self) -> LiveUI:
        self.thread.join(timeout=240)
        if self.thread.is_alive() or self.error:
            pytest.fail(f"the live service is not ready: {self.error or 'still starting after 240 s'}")
        return self.live


@pytest.fixture(scope="session")
def _live_ui_startup(tmp_path_factory, demo_models):
    startup = _Startup(tmp_path_factory.mktemp("frontend-live"))
    yield startup
    _stop(startup.live.proc)


@pytest.fixture(scope="session", autouse=True)
def _start_live_ui_early(request):
    """Start the service as soon as the first browser test runs (only when Chromium is there to use it)."""
    import importlib.util

    if CHROMIUM.exists() and importlib.util.find_spec("playwright") and any("live_ui" in item.fixturenames for item in request.session.items):
        request.getfixturevalue("_live_ui_startup")


@pytest.fixture(scope="session")
def live_ui(_live_ui_startup) -> LiveUI:
    """The whole service as a user starts it (``manage.py serve``: API, web UI, one worker) on demo weights, with
    the worker's engine already loaded by a first job."""
    return _live_ui_startup.ready()


def _warm_up(live: LiveUI, deadline: float) -> None:
    """Run one tiny job through the API first: the worker loads its engine on the first job (~20 s here), and the
    tests should time the UI, not that load (a job queued behind it would finish between two polls)."""
    sample = ROOT / "assets" / "sample_skeleton.mp4"
    with open(sample, "rb") as fh:
        resp = live.api("POST", "/api/v1/jobs", files={"video": ("warm.mp4", fh, "video/mp4")},
                        data={"prompt": "warm up", "steps": "1", "frames": "2", "width": "64", "height": "64",
                              "input_type": "skeleton"})
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]
    while True:
        job = live.api("GET", f"/api/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "canceled"):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"the warm-up job did not finish: {job}")
        time.sleep(0.3)
    if job["status"] != "succeeded":
        raise RuntimeError(f"the warm-up job did not succeed: {job}")
    live.api("DELETE", f"/api/v1/jobs/{job_id}")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium package to run the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


DESKTOP = {"width": 1280, "height": 900}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@pytest.fixture
def new_page(browser, live_ui):
    """Factory: new_page(locale="en-US", phone=False, path="/", base=None) -> a page on a fresh context at
    ``base + path`` (base: the live UI's URL unless another server is given)."""
    contexts = []

    def make(locale: str = "en-US", phone: bool = False, path: str = "/", base: str | None = None):
        opts = dict(PHONE) if phone else {"viewport": DESKTOP}
        context = browser.new_context(locale=locale, **opts)
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda msg: msg.type == "error" and print("browser console:", msg.text))
        page.goto((base or live_ui.url) + path)
        page.wait_for_selector("body[data-ready='true']")
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture(scope="session")
def skeleton_video() -> Path:
    """A skeleton video from ../shared/data (the small solo one) or, in a plain clone without it, the repo's
    assets/sample_skeleton.mp4 (so the end-to-end test still runs)."""
    shared = ROOT.parent / "shared" / "data" / "skeleton" / "skeleton_solo_1080x1084p24.mp4"
    if shared.is_file():
        return shared
    sample = ROOT / "assets" / "sample_skeleton.mp4"
    if not sample.is_file():
        pytest.skip(f"neither {shared} nor {sample} exists")
    return sample
