"""API load benchmark (not a test): status-poll throughput and latency under 50 concurrent clients while a job
runs, submit latency, and queue-to-start delay, for the SQLite broker and the Redis broker.

It starts the real thing, ``manage.py serve`` (waitress + one worker on the tiny demo weights), in a temporary data
folder, drives it over HTTP from client threads, and stops it again.

    python bench/api_load.py                          # both brokers (Redis skipped when not reachable)
    python bench/api_load.py --broker sqlite --clients 50 --seconds 15 --json bench-api.json
    python bench/api_load.py --redis-url redis://127.0.0.1:6379/11

Target (issue 5): >= 500 status requests/s with p99 < 50 ms on 2 cores. The client threads share the machine
with the server: on a small box the figures include the load generator's own cost.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))
SAMPLE = ROOT / "assets" / "sample_skeleton.mp4"
SMALL = {"steps": "1", "frames": "2", "width": "64", "height": "64", "seed": "1", "input_type": "skeleton"}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[index]


def parse_time(text: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Server:
    """``manage.py serve --port PORT`` (0 = any free port) in its own session (stopped by pid, never by name);
    ``env`` adds or overrides TEXT2VIDEO_* settings."""

    def __init__(self, data_dir: Path, broker_url: str, models: str, threads: int, *, port: int = 0,
                 env: dict[str, str] | None = None):
        env = {**os.environ, "TEXT2VIDEO_DATA_DIR": str(data_dir), "TEXT2VIDEO_BROKER_URL": broker_url,
               "TEXT2VIDEO_MIN_FREE_DISK_MB": "1", "TEXT2VIDEO_THREADS": str(threads), "TEXT2VIDEO_DEVICE": "cpu",
               "TEXT2VIDEO_API_KEYS": "", "PYTHONUNBUFFERED": "1", **(env or {})}
        env["PYTHONPATH"] = str(ROOT / "backend") + os.pathsep + env.get("PYTHONPATH", "")
        self.log_path = data_dir.parent / "serve.log"
        self._log = open(self.log_path, "ab")  # appended: a restarted server keeps the earlier runs' lines
        self._log_start = self.log_path.stat().st_size
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "serve", "--port", str(port),
                                      "--models", models], env=env, cwd=str(ROOT), stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.url = self._wait_url()

    def _wait_url(self, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(r"Text2Video API: (http://\S+)", self.output())
            if match:
                return match.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError("serve did not start:\n" + self.log_path.read_text(errors="replace")[-3000:])

    def output(self) -> str:
        """What this run of serve printed (not the earlier runs in the same log)."""
        with open(self.log_path, "rb") as fh:
            fh.seek(self._log_start)
            return fh.read().decode(errors="replace")

    def wait_worker(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = requests.get(f"{self.url}/api/v1/health", timeout=10).json()
            if health.get("workers", {}).get("alive"):
                return
            time.sleep(0.5)
        raise RuntimeError("no worker came up:\n" + self.log_path.read_text(errors="replace")[-3000:])

    def stop(self, sig: int = signal.SIGINT) -> None:
        """Stop serve with ``sig`` (SIGINT/SIGTERM: graceful; SIGKILL: its worker dies with it), at most 60 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def submit(url: str, **fields) -> tuple[dict, float]:
    with open(SAMPLE, "rb") as fh:
        started = time.perf_counter()
        resp = requests.post(f"{url}/api/v1/jobs", data={"prompt": "a robot dancing", **SMALL, **fields},
                             files={"video": ("sample.mp4", fh, "video/mp4")}, timeout=120)
        elapsed = time.perf_counter() - started
    resp.raise_for_status()
    return resp.json(), elapsed


def wait_job(url: str, job_id: str, predicate, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f"{url}/api/v1/jobs/{job_id}", timeout=10).json()
        if predicate(job):
            return job
        time.sleep(0.05)
    raise RuntimeError(f"job {job_id} timed out: {job}")


def finished(job: dict) -> bool:
    return job["status"] in ("succeeded", "failed", "canceled")


def _client_loop(url: str, job_id: str, index: int, clients: int, rate: float | None, start_at: float,
                 stop_at: float, latencies: list, errors: list) -> None:
    """One polling client: its own keep-alive connection (http.client: a light load generator leaves more of the
    shared CPU to the server being measured)."""
    host, port = url.split("://", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    target = f"/api/v1/jobs/{job_id}"
    interval = clients / rate if rate else 0.0
    next_at = start_at + interval * index / clients  # spread the clients over one interval
    time.sleep(max(0.0, start_at - time.time()))
    while time.time() < stop_at:
        if interval:
            delay = next_at - time.time()
            if delay > 0:
                time.sleep(delay)
            next_at += interval
        started = time.perf_counter()
        try:
            conn.request("GET", target)
            resp = conn.getresponse()
            ok = resp.status == 200 and job_id.encode() in resp.read()
        except Exception:  # noqa: BLE001 - counted, not fatal; reconnect
            ok = False
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
        if ok:
            latencies.append(time.perf_counter() - started)
        else:
            errors.append(1)


def _client_process(url, job_id, indices, clients, rate, start_at, stop_at, out) -> None:  # noqa: ANN001
    latencies: list[float] = []
    errors: list[int] = []
    threads = [threading.Thread(target=_client_loop, args=(url, job_id, i, clients, rate, start_at, stop_at,
                                                           latencies, errors), daemon=True) for i in indices]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=stop_at - time.time() + 15)
    out.put((latencies, len(errors)))


def poll_load(url: str, job_id: str, clients: int, seconds: float, rate: float | None = None,
              procs: int = 5) -> dict:
    """``clients`` pollers GET the running job: as fast as they can (``rate=None``: saturation, closed loop) or
    together ``rate`` requests/s on a fixed schedule (open loop, the way pollers behave: latency at a given load).
    The clients are spread over ``procs`` processes so the load generator's own GIL does not add latency."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 1.0
    stop_at = start_at + seconds
    groups = [list(range(clients))[p::procs] for p in range(procs)]
    workers = [ctx.Process(target=_client_process, args=(url, job_id, g, clients, rate, start_at, stop_at, out))
               for g in groups if g]
    for w in workers:
        w.start()
    flat: list[float] = []
    errors = 0
    for _ in workers:
        lat, err = out.get(timeout=seconds + 60)
        flat.extend(lat)
        errors += err
    for w in workers:
        w.join(timeout=10)
    return {"mode": f"paced {rate:g}/s" if rate else "saturation", "clients": clients, "procs": len(workers),
            "seconds": round(seconds, 2), "requests": len(flat), "errors": errors,
            "rps": round(len(flat) / seconds, 1), "p50_ms": round(percentile(flat, 50) * 1000, 2),
            "p90_ms": round(percentile(flat, 90) * 1000, 2), "p99_ms": round(percentile(flat, 99) * 1000, 2),
            "max_ms": round(max(flat) * 1000, 2) if flat else None}


def run_broker(name: str, broker_url: str | None, args) -> dict:
    root = Path(tempfile.mkdtemp(prefix=f"t2v-bench-{name}-"))
    data_dir = root / "data"
    data_dir.mkdir()
    broker_url = broker_url or f"sqla+sqlite:///{data_dir.resolve() / 'broker.sqlite'}"
    print(f"\n== {name} broker ({broker_url.split('@')[-1]}) ==", flush=True)
    server = Server(data_dir, broker_url, args.models, args.threads)
    result: dict = {"broker": name}
    try:
        server.wait_worker()
        # warm-up: the first job loads the models in the worker (reported apart: it is not queue delay)
        job, _ = submit(server.url)
        job = wait_job(server.url, job["id"], finished)
        result["cold_queue_to_start_s"] = round(parse_time(job["started_at"]) - parse_time(job["created_at"]), 3)
        result["cold_job_s"] = round(parse_time(job["finished_at"]) - parse_time(job["created_at"]), 2)
        # submit latency and queue-to-start delay with an idle worker (one job at a time)
        submits, delays = [], []
        for _ in range(args.jobs):
            job, elapsed = submit(server.url)
            submits.append(elapsed)
            job = wait_job(server.url, job["id"], finished)
            delays.append(parse_time(job["started_at"]) - parse_time(job["created_at"]))
        result["submit_ms"] = {"n": len(submits), "p50": round(statistics.median(submits) * 1000, 1),
                               "max": round(max(submits) * 1000, 1)}
        result["queue_to_start_s"] = {"n": len(delays), "p50": round(statistics.median(delays), 3),
                                      "max": round(max(delays), 3)}
        # for comparison: the API alone (worker idle), polling the finished warm-up job
        if args.idle:
            result["poll_idle"] = poll_load(server.url, job["id"], args.clients, args.seconds, rate=args.rate,
                                            procs=args.procs)
            result["poll_idle"]["mode"] = f"idle {args.rate:g}/s"
        # status polling while a long job runs
        long_job, _ = submit(server.url, steps="150", frames="8")
        wait_job(server.url, long_job["id"], lambda j: j["status"] == "running")
        result["poll"] = poll_load(server.url, long_job["id"], args.clients, args.seconds, procs=args.procs)
        result["poll_paced"] = poll_load(server.url, long_job["id"], args.clients, args.seconds, rate=args.rate,
                                         procs=args.procs)
        still = requests.get(f"{server.url}/api/v1/jobs/{long_job['id']}", timeout=10).json()
        result["job_was_running"] = still["status"] == "running"
        result["job_progress_during"] = still["progress"]
        requests.post(f"{server.url}/api/v1/jobs/{long_job['id']}/cancel", timeout=10)
        wait_job(server.url, long_job["id"], finished, timeout=120)
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=2), flush=True)
    return result


def redis_reachable(url: str) -> bool:
    try:
        import redis
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except Exception:  # noqa: BLE001
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", choices=["sqlite", "redis", "both"], default="both")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the polling phase")
    parser.add_argument("--jobs", type=int, default=5, help="jobs for submit latency / queue-to-start delay")
    parser.add_argument("--rate", type=float, default=500.0, help="total requests/s of the paced polling phase")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads")
    parser.add_argument("--idle", action="store_true", help="also poll with the worker idle (the API alone)")
    parser.add_argument("--procs", type=int, default=5, help="client processes the pollers are spread over")
    parser.add_argument("--models", default="demo", help="models for the worker (default: tiny demo weights)")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folders")
    args = parser.parse_args(argv)
    if not SAMPLE.is_file():
        parser.error(f"{SAMPLE} is missing")
    results = []
    load_start = os.getloadavg()
    if args.broker in ("sqlite", "both"):
        results.append(run_broker("sqlite", None, args))
    if args.broker in ("redis", "both"):
        if redis_reachable(args.redis_url):
            results.append(run_broker("redis", args.redis_url, args))
        else:
            print(f"\nredis: {args.redis_url} is not reachable; skipped", flush=True)
    print(f"\n{'broker':8} {'polling':14} {'status req/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
          f"{'submit p50 ms':>14} {'queue->start p50 s':>19}")
    for r in results:
        for p in (r["poll"], r["poll_paced"], *([r["poll_idle"]] if "poll_idle" in r else [])):
            print(f"{r['broker']:8} {p['mode']:14} {p['rps']:12.1f} {p['p50_ms']:8.2f} {p['p99_ms']:8.2f} "
                  f"{p['errors']:7d} {r['submit_ms']['p50']:14.1f} {r['queue_to_start_s']['p50']:19.3f}")
    meta = {"cpus": os.cpu_count(), "load_avg_start": load_start, "load_avg_end": os.getloadavg(),
            "clients": args.clients, "threads": args.threads}
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    print(f"(machine: {meta['cpus']} cpus; 1-min load average {load_start[0]:.1f} at the start, "
          f"{meta['load_avg_end'][0]:.1f} at the end: other processes share these cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
