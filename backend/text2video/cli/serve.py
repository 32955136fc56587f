"""`python manage.py` (= `manage.py serve`): the API (waitress) and one worker on this machine.

Prints the local URL, and with ``--tunnel`` the public ngrok URL and the API key. Ctrl+C or SIGTERM stops the
server and the worker (a job still running is put back in the queue for the next start). ``--no-worker`` runs an
API-only node (workers elsewhere share the data folder, database and broker).

Besides the HTTP server this process runs the webhook dispatcher and the reaper (dead workers' jobs, retention),
and at start re-sends every job stored as ``queued`` (a crash between storing a job and sending its message
must not lose it; a duplicate message is harmless, the claim runs a job once).
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import threading
import time

from .generate import add_compile_flag

HELP = "run the API, one worker and the web UI (default command)"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1; 0.0.0.0 = every interface)")
    parser.add_argument("--port", type=int, help="port (default 8000; 0 = any free port)")
    parser.add_argument("--models", metavar="DIR|demo", help="models folder for the worker, or 'demo' "
                        "(tiny random weights; output is noise)")
    parser.add_argument("--data-dir", metavar="DIR", help="jobs, database, broker, keys (default ./data)")
    parser.add_argument("--tunnel", nargs="?", const="ngrok", choices=["ngrok", "none"],
                        help="public URL through ngrok (needs NGROK_AUTHTOKEN); an API key is generated if none")
    parser.add_argument("--device", help="worker device: auto | cpu | cuda | cuda:N")
    parser.add_argument("--memory", choices=["auto", "high", "medium", "low"], help="worker memory preset")
    add_compile_flag(parser, None)
    parser.add_argument("--no-worker", action="store_true", help="API only (workers run elsewhere)")
    parser.add_argument("--worker-name", help="name of the worker started here (default serve-<host>-<port>)")


def settings_from_args(args: argparse.Namespace):
    from ..settings import Settings

    return Settings.load({"host": args.host, "port": args.port, "models_dir": args.models,
                          "data_dir": args.data_dir, "tunnel": args.tunnel, "device": args.device,
                          "memory": args.memory, "compile": args.compile})


class Server:
    """The pieces of one ``serve`` process, started and stopped in order."""

    def __init__(self, settings, *, with_worker: bool = True, worker_name: str | None = None):  # noqa: ANN001
        import socket

        self.settings = settings
        self.with_worker = with_worker
        self.worker_name = worker_name  # default serve-<host>-<port> (set once the port is bound): unique per
        self.hostname = socket.gethostname()  # serve process, stable across restarts on a fixed port
        self.stop_event = threading.Event()
        self.worker_proc: subprocess.Popen | None = None
        self.http = None
        self.tunnel = None
        self.local_url = ""
        self.public_url: str | None = None
        self.api_key_generated = False

    def start(self) -> None:
        from waitress import create_server

        from ..api import create_app
        from ..api.links import job_document
        from ..jobs.queue import make_celery, requeue_queued
        from ..jobs.store import JobStore
        from ..jobs.worker import Reaper
        from ..tunnel import ensure_api_key
        from ..webhooks import WebhookDispatcher

        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = JobStore(s.database_url)
        self.store.create_tables()
        tunnelled = s.tunnel == "ngrok"
        if tunnelled and not s.api_key_list:
            # Settle the key BEFORE the app and the tunnel exist: a public URL is never open without one.
            key, generated = ensure_api_key(s)
            s.api_keys = key
            self.api_key_generated = generated
        self.celery_app = make_celery(s)
        app = create_app(s)
        try:
            self.http = create_server(app, host=s.host, port=s.port, threads=s.threads,
                                      max_request_body_size=int(s.max_upload_mb * 1024 * 1024) + (1 << 20),
                                      channel_timeout=120, clear_untrusted_proxy_headers=True,
                                      # lets waitress notice a client that hung up on /generate
                                      channel_request_lookahead=1)
        except OSError as exc:
            from ..exceptions import ServiceUnavailable
            raise ServiceUnavailable(f"cannot listen on {s.host}:{s.port}: {exc.strerror or exc}", field="port",
                                     value=s.port, hint="Another program uses that port: pick another one with "
                                     "--port (or TEXT2VIDEO_PORT), or stop the other server.") from exc
        port = self.http.effective_port
        self.worker_name = self.worker_name or f"serve-{self.hostname}-{port}"
        host = "127.0.0.1" if s.host in ("0.0.0.0", "::", "") else s.host
        self.local_url = f"http://{host}:{port}"
        if tunnelled:
            from ..tunnel import start_tunnel
            self.tunnel = start_tunnel(s, port)
            self.public_url = self.tunnel.public_url
        try:
            resent = requeue_queued(self.celery_app, self.store)
            if resent:
                log.info("re-sent %d queued jobs to the queue", resent)
        except Exception as exc:  # noqa: BLE001 - the broker may come later; queued rows stay queued
            log.warning("could not re-send queued jobs: %s", exc)
        self.reaper = Reaper(self.store, s, self.celery_app).start()
        base_url = self.public_url or self.local_url
        self.webhooks = WebhookDispatcher(self.store, s, job_json=lambda job: job_document(job, s, base_url)).start()
        if self.with_worker:
            self._start_worker()
        self.http_thread = threading.Thread(target=self._serve_http, name="waitress", daemon=True)
        self.http_thread.start()

    def _serve_http(self) -> None:
        try:
            self.http.run()
        except Exception:  # noqa: BLE001 - closing the sockets at shutdown ends run() with an error: expected
            if not self.stop_event.is_set():
                log.exception("HTTP server stopped")
                self.stop_event.set()

    def _start_worker(self) -> None:
        from ..jobs.worker import _die_with_parent, settings_env

        cmd = [sys.executable, "-m", "text2video.jobs.worker", "--supervise", "--name", self.worker_name]
        # Own session: Ctrl+C in the terminal reaches this process only, which then stops the worker in order.
        self.worker_proc = subprocess.Popen(cmd, env=settings_env(self.settings), start_new_session=True,
                                            preexec_fn=_die_with_parent)
        self.worker_started = time.monotonic()

    def banner(self) -> str:
        s = self.settings
        lines = [f"Text2Video API: {self.local_url}  (web UI: {self.local_url}/, docs: {self.local_url}/api/v1/docs)"]
        if self.public_url:
            lines.append(f"Public URL: {self.public_url}")
        elif s.tunnel == "ngrok" and self.tunnel is not None:
            lines.append(f"Tunnel not started: {self.tunnel.error}. Serving locally only.")
        if s.tunnel == "ngrok" and s.api_key_list:
            lines.append(f"API key: {s.api_key_list[0]}  (send it as 'Authorization: Bearer <key>')")
        if self.with_worker:
            from ..jobs.queue import worker_families

            lines.append(f"Worker: {self.worker_name} (models: {s.models_dir}, device: {s.device}; serves the "
                         f"families {', '.join(worker_families(s))})")
        else:
            lines.append("No worker here (--no-worker): start workers with `python manage.py worker`.")
        lines.append(f"Data: {s.data_dir}   Press Ctrl+C to stop.")  # absolute: resolved in Settings
        return "\n".join(lines)

    def wait(self) -> None:
        """Until stopped; restarts the worker supervisor if it dies (it restarts its own child itself)."""
        backoff = 1.0
        while not self.stop_event.wait(0.5):
            if self.worker_proc is not None and self.worker_proc.poll() is not None:
                code = self.worker_proc.returncode
                log.warning("worker process exited with code %s; restarting in %.0f s", code, backoff)
                if self.stop_event.wait(backoff):
                    break
                backoff = 1.0 if time.monotonic() - self.worker_started > 60 else min(backoff * 2, 30.0)
                self._start_worker()

    def stop(self, *_: object) -> None:
        self.stop_event.set()

    def shutdown(self) -> None:
        self.stop_event.set()
        if self.worker_proc is not None and self.worker_proc.poll() is None:
            self.worker_proc.send_signal(signal.SIGTERM)  # the supervisor stops its child, requeues a running job
        if self.http is not None:
            try:
                self.http.close()
                self.http.task_dispatcher.shutdown(timeout=5)
            except Exception as exc:  # noqa: BLE001
                log.debug("closing the HTTP server: %s", exc)
        for part in ("webhooks", "reaper"):
            if hasattr(self, part):
                getattr(self, part).stop()
        if self.tunnel is not None:
            self.tunnel.close()
        if self.worker_proc is not None:
            try:
                self.worker_proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.worker_proc.kill()
                self.worker_proc.wait()


def run(args: argparse.Namespace) -> int:
    from .generate import check_model_flags

    check_model_flags(args.models, None)
    settings = settings_from_args(args)
    server = Server(settings, with_worker=not args.no_worker, worker_name=args.worker_name)
    signal.signal(signal.SIGINT, server.stop)
    signal.signal(signal.SIGTERM, server.stop)
    try:
        server.start()
        print(server.banner(), flush=True)
        server.wait()
    finally:
        print("stopping...", flush=True)
        server.shutdown()
        print("stopped", flush=True)
    return 0
