"""`python manage.py COMMAND`: one module per command in this package.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Errors a user can fix are :class:`text2video.exceptions.Text2VideoError`: printed on one line, exit code 2,
no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from ..exceptions import Text2VideoError

# command name -> module (imported only when that command runs, so `manage.py --help` stays fast)
COMMANDS: dict[str, str] = {
    "serve": "text2video.cli.serve",
    "worker": "text2video.cli.worker",
    "generate": "text2video.cli.generate",
    "pose": "text2video.cli.pose",
    "translate": "text2video.cli.translate",
    "init-demo-models": "text2video.cli.demo_models",
    "download": "text2video.cli.download",
    "doctor": "text2video.cli.doctor",
    "loras": "text2video.cli.loras",
}

DEFAULT_COMMAND = "serve"


def build_parser() -> argparse.ArgumentParser:
    # allow_abbrev=False everywhere: argparse would take --model X (the model) as --models X (the folder)
    parser = argparse.ArgumentParser(
        prog="manage.py", allow_abbrev=False,
        description="Text2Video: a reference video + a prompt (Vietnamese or English) -> a new character "
        "performing the same motion. With no command, runs `serve` (API + worker + web UI).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # command not built yet in this checkout
        p = sub.add_parser(name, help=module.HELP, description=module.HELP, allow_abbrev=False)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "-v", "--verbose")):
        argv = [DEFAULT_COMMAND, *argv]  # `python manage.py --tunnel` == `python manage.py serve --tunnel`
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except Text2VideoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
