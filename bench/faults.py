"""Fault injection as an operator would do it (not a test): kills, restarts with jobs queued, duplicate messages,
concurrent submissions, cancels, against the real ``manage.py serve --models demo`` on 127.0.0.1.

It starts serve on a free port in a temporary data folder, with one API key, then:

1. SIGKILLs the worker's child ``--kills`` times while the same job is denoising: kill-to-retry seconds each time;
   then once in each of ``--encoding-kills`` jobs while it encodes (the retry must leave no temporary file);
2. stops serve with ``--queued`` jobs queued, once with SIGTERM and once with SIGKILL, and starts it again on the
   same port (same worker name): every job must still finish;
3. sends a second copy of the queue message of ``--duplicates`` jobs: each must run exactly once (attempts = 1);
4. while one long job runs, ``--burst-threads`` threads each POST ``--burst-each`` jobs with the same key: how many
   were accepted (202) or refused (429), and how many were active at once against the per-key limit;
5. cancels ``--cancels`` jobs a moment after they start;

then audits every job: lost (row gone), stuck (not finished), job JSON listing a file its folder lacks, temporary
files left in job folders. Every wait is bounded; the whole run stops at ``--max-seconds``.

    python bench/faults.py                     # about 3-6 minutes on 2 busy cores
    python bench/faults.py --kills 3 --queued 5 --json faults.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_load import ROOT, SAMPLE, SMALL, Server  # noqa: E402  (bench/ is not a package)

sys.path.insert(0, str(ROOT / "backend"))
from text2video.jobs.queue import enqueue, make_celery  # noqa: E402
from text2video.jobs.store import JobStore  # noqa: E402
from text2video.settings import Settings  # noqa: E402

KEY = "fault-injection-key"
SLOW = {"steps": "150", "frames": "8", "width": "128", "height": "128"}  # long enough to kill or cancel it mid-denoising on the demo weights
LONG_ENCODE = {"steps": "1", "frames": "24", "width": "256", "height": "256"}  # seconds of decoding + encoding
FINISHED = ("succeeded", "failed", "canceled")


class Deadline(Exception):
    """The run's --max-seconds is over."""


class Run:
    """One serve (restartable on the same port) and direct access to its store, for timings the API hides."""

    def __init__(self, data_dir: Path, args: argparse.Namespace):
        self.data_dir, self.args = data_dir, args
        self.port = _free_port()
        self.env = {"TEXT2VIDEO_API_KEYS": KEY, "TEXT2VIDEO_HEARTBEAT_INTERVAL_S": "1",
                    "TEXT2VIDEO_HEARTBEAT_TIMEOUT_S": "15", "TEXT2VIDEO_REAPER_INTERVAL_S": "2",
                    "TEXT2VIDEO_MAX_RETRIES_ON_WORKER_LOST": str(args.kills + 1), "OMP_NUM_THREADS": "1"}
        self.settings = Settings.load({"data_dir": data_dir}, environ={})
        self.store = JobStore(self.settings.database_url)
        self.ends_at = time.monotonic() + args.max_seconds
        self.server: Server | None = None
        self.job_ids: list[str] = []

    def start(self) -> None:
        self.server = Server(self.data_dir, self.settings.broker_url, "demo", 8, port=self.port, env=self.env)
        self.wait("serve's worker", lambda: "ready." in self.server.output(), 180, interval=0.25)

    def submit(self, **fields) -> requests.Response:
        with open(SAMPLE, "rb") as fh:
            resp = requests.post(f"{self.server.url}/api/v1/jobs", headers={"X-API-Key": KEY},
                                 data={"prompt": "a robot dancing", **SMALL, **fields},
                                 files={"video": ("sample.mp4", fh, "video/mp4")}, timeout=60)
        if resp.status_code == 202:
            self.job_ids.append(resp.json()["id"])
        return resp

    def cancel(self, job_id: str) -> None:
        requests.post(f"{self.server.url}/api/v1/jobs/{job_id}/cancel", headers={"X-API-Key": KEY}, timeout=30)

    def wait(self, what: str, predicate, timeout: float, interval: float = 0.05):
        """The first truthy predicate() within ``timeout`` s, else None (the figure says so)."""
        deadline = min(time.monotonic() + timeout, self.ends_at)
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        if time.monotonic() >= self.ends_at:
            raise Deadline(what)
        print(f"  ! timed out after {timeout:.0f} s waiting for {what}", flush=True)
        return None

    def job(self, job_id: str):
        return self.store.get(job_id)

    def all_finished(self, ids: list[str]) -> bool:
        return all((j := self.job(i)) is None or j.status.value in FINISHED for i in ids)


def kill_the_worker(run: Run, kills: int) -> dict:
    """SIGKILL the child running one slow job ``kills`` times; seconds from each kill to the job running again."""
    job_id = run.submit(**SLOW).json()["id"]
    gaps = []
    for attempt in range(1, kills + 1):
        job = run.wait(f"attempt {attempt} denoising", lambda: (lambda j: j if j.status.value == "running" and
                       j.attempts == attempt and j.step >= 1 else None)(run.job(job_id)), 120)
        if job is None:
            break
        os.kill(job.worker_pid, signal.SIGKILL)
        killed = time.monotonic()
        if run.wait(f"retry {attempt}", lambda: (lambda j: j.status.value == "running" and
                    j.attempts == attempt + 1)(run.job(job_id)), 120):
            gaps.append(round(time.monotonic() - killed, 2))
    run.cancel(job_id)
    run.wait("the killed job to stop", lambda: run.all_finished([job_id]), 60)
    return {"kills": kills, "kill_to_retry_s": gaps, "max_s": max(gaps, default=None)}


def kill_while_encoding(run: Run, kills: int) -> dict:
    """SIGKILL the child of ``kills`` jobs once each, as soon as the job shows the encoding stage; the retry must
    leave no temporary file behind."""
    hits, outcomes = 0, []
    for _ in range(kills):
        job_id = run.submit(**LONG_ENCODE).json()["id"]
        folder = run.settings.jobs_dir / job_id

        def encoding():
            job = run.job(job_id)
            if job.stage is None or job.stage.value != "encoding":
                return None
            return job if any(n.startswith(".") for n in os.listdir(folder)) else None

        job = run.wait("a job to encode", encoding, 120, interval=0.01)
        if job is None:
            continue
        os.kill(job.worker_pid, signal.SIGKILL)
        hits += any(n.startswith(".") for n in os.listdir(folder))  # killed with a writer's temporary file open
        run.wait("the retried job", lambda: run.all_finished([job_id]), 180, interval=0.25)
        outcomes.append(run.job(job_id).status.value)
    return {"kills": kills, "killed_with_a_temporary_file": hits, "outcomes": outcomes}


def restart_with_queue(run: Run, sig: int, queued: int) -> dict:
    """Submit ``queued`` small jobs, stop serve with ``sig`` at once, start it again: do they all finish?"""
    ids = [run.submit().json()["id"] for _ in range(queued)]
    run.server.stop(sig)  # after SIGKILL its supervisor and child follow (parent-death signal)
    started = time.monotonic()
    run.start()
    done = run.wait(f"{queued} jobs after a {signal.Signals(sig).name} restart", lambda: run.all_finished(ids),
                    300, interval=0.25)
    outcomes = [run.job(i).status.value if run.job(i) else "lost" for i in ids]
    return {"signal": signal.Signals(sig).name, "queued": queued, "all_finished": bool(done),
            "restart_to_all_done_s": round(time.monotonic() - started, 1),
            "succeeded": outcomes.count("succeeded"), "not_succeeded": len(ids) - outcomes.count("succeeded")}


def duplicate_messages(run: Run, count: int) -> dict:
    """A second queue message for each of ``count`` jobs: the claim must skip it (attempts stays 1)."""
    celery_app = make_celery(run.settings)
    ids = [run.submit().json()["id"] for _ in range(count)]
    for job_id in ids:
        enqueue(celery_app, job_id)
    run.wait(f"{count} duplicated jobs", lambda: run.all_finished(ids), 300, interval=0.25)
    jobs = [run.job(i) for i in ids]
    return {"jobs": count, "messages": 2 * count, "succeeded": sum(j.status.value == "succeeded" for j in jobs),
            "ran_more_than_once": sum(j.attempts > 1 for j in jobs)}


def burst(run: Run, threads: int, each: int) -> dict:
    """One long job running, then ``threads`` x ``each`` concurrent POSTs with the same key."""
    long_id = run.submit(**SLOW).json()["id"]
    run.wait("the long job to run", lambda: run.job(long_id).status.value == "running", 120)
    codes: list[int] = []
    barrier = threading.Barrier(threads)

    def client() -> None:
        barrier.wait()
        for _ in range(each):
            codes.append(run.submit(steps="1").status_code)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    active = run.store.count_active(run.store.get(long_id).api_key_id)
    for job_id in run.job_ids:  # let the queue drain: the next scenarios need the worker
        if (j := run.job(job_id)) is not None and j.status.value not in FINISHED:
            run.cancel(job_id)
    run.wait("the burst's jobs to stop", lambda: run.all_finished(run.job_ids), 120, interval=0.25)
    return {"limit": run.settings.max_queued_per_key, "requests": len(codes), "accepted_202": codes.count(202),
            "refused_429": codes.count(429), "other": len(codes) - codes.count(202) - codes.count(429),
            "active_after": active}


def cancels(run: Run, count: int) -> dict:
    """Cancel ``count`` slow jobs ~1 s after each starts denoising."""
    seconds = []
    for _ in range(count):
        job_id = run.submit(**SLOW).json()["id"]
        if not run.wait("a job to denoise", lambda: run.job(job_id).step >= 1, 120):
            continue
        time.sleep(1.0)
        asked = time.monotonic()
        run.cancel(job_id)
        if run.wait("the cancel", lambda: run.job(job_id).status.value == "canceled", 60):
            seconds.append(round(time.monotonic() - asked, 2))
    return {"canceled": len(seconds), "of": count, "cancel_to_stopped_s": seconds}


def audit(run: Run) -> dict:
    """Every job the run submitted: lost, stuck, JSON listing files its folder lacks, temporary files left."""
    lost = stuck = disagree = 0
    temporaries = []
    for job_id in run.job_ids:
        job = run.job(job_id)
        if job is None:
            lost += 1
            continue
        stuck += job.status.value not in FINISHED
        folder = run.settings.jobs_dir / job_id
        present = set(os.listdir(folder)) if folder.is_dir() else set()
        disagree += not set(job.files or []) <= present
        temporaries += [f"{job_id[:8]}/{n}" for n in present if n.startswith(".")]
    return {"jobs": len(run.job_ids), "lost": lost, "stuck": stuck, "json_lists_missing_files": disagree,
            "temporary_files_left": len(temporaries), "temporary_files": temporaries[:10]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scenarios(run: Run, args: argparse.Namespace) -> dict:
    report = {}
    steps = [("kills", lambda: kill_the_worker(run, args.kills)),
             ("encoding_kills", lambda: kill_while_encoding(run, args.encoding_kills)),
             ("restart_sigterm", lambda: restart_with_queue(run, signal.SIGTERM, args.queued)),
             ("restart_sigkill", lambda: restart_with_queue(run, signal.SIGKILL, args.queued)),
             ("exactly_once", lambda: duplicate_messages(run, args.duplicates)),
             ("per_key_limit", lambda: burst(run, args.burst_threads, args.burst_each)),
             ("cancels", lambda: cancels(run, args.cancels))]
    for name, scenario in steps:
        print(f"- {name} ...", flush=True)
        started = time.monotonic()
        try:
            report[name] = scenario()
        except Deadline as exc:
            report[name] = {"stopped": f"--max-seconds reached waiting for {exc}"}
            break
        print(f"  {json.dumps(report[name])}  ({time.monotonic() - started:.0f} s)", flush=True)
    report["audit"] = audit(run)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--encoding-kills", type=int, default=2)
    parser.add_argument("--queued", type=int, default=8)
    parser.add_argument("--duplicates", type=int, default=20)
    parser.add_argument("--burst-threads", type=int, default=8)
    parser.add_argument("--burst-each", type=int, default=5)
    parser.add_argument("--cancels", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="t2v-faults-") as tmp:
        run = Run(Path(tmp) / "data", args)
        run.start()
        print(f"serve on {run.server.url} (data {tmp}, per-key limit {run.settings.max_queued_per_key})", flush=True)
        try:
            report = scenarios(run, args)
        finally:
            run.server.stop()
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
