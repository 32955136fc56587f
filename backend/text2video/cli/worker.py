"""`manage.py worker`: one more job worker (another GPU, another machine sharing the data folder and database).

Starts a supervisor (light) and a Celery worker child that loads the models once and runs one job at a time;
a child killed mid-job (SIGKILL, out of memory) is reported with its exit code, its job retried once, and a
fresh child started. Ctrl+C / SIGTERM stops cleanly (a running job is put back in the queue).
"""

from __future__ import annotations

import argparse
import signal

from .generate import add_compile_flag

HELP = "run a job worker (models loaded once; one job at a time)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", metavar="DIR|demo", help="models folder, or 'demo' for tiny random weights "
                        "(TEXT2VIDEO_MODELS_DIR; default ./models)")
    parser.add_argument("--data-dir", metavar="DIR", help="data folder shared with the API (TEXT2VIDEO_DATA_DIR)")
    parser.add_argument("--device", help="auto | cpu | cuda | cuda:N (TEXT2VIDEO_DEVICE)")
    parser.add_argument("--memory", choices=["auto", "high", "medium", "low"], help="memory preset")
    add_compile_flag(parser, None)
    parser.add_argument("--name", help="worker name (default worker-<host>-<pid>); reuse it after a restart so "
                        "the jobs it was running are recovered at once")
    parser.add_argument("--loglevel", default="INFO", help="child log level (default INFO)")


def settings_from_args(args: argparse.Namespace):
    from ..settings import Settings

    return Settings.load({"models_dir": args.models, "data_dir": args.data_dir, "device": args.device,
                          "memory": getattr(args, "memory", None),
                          "compile": getattr(args, "compile", None)})


def run(args: argparse.Namespace) -> int:
    from ..jobs.queue import worker_families
    from ..jobs.worker import Supervisor
    from .generate import check_model_flags

    check_model_flags(args.models, None)
    settings = settings_from_args(args)
    supervisor = Supervisor(settings, args.name, loglevel=args.loglevel)
    signal.signal(signal.SIGINT, supervisor.stop)
    signal.signal(signal.SIGTERM, supervisor.stop)
    print(f"worker {supervisor.name}: models={settings.models_dir} data={settings.data_dir} "
          f"broker={settings.broker_url.split('@')[-1]}", flush=True)
    print(f"worker {supervisor.name}: serves the families {', '.join(worker_families(settings))} (the models "
          "whose weights its models folder has)", flush=True)
    return supervisor.run()
