"""``python -m yolo_clearml_patch [-m module | script.py] [args...]``: run a program with the shim on.

The target runs as ``__main__`` with the ``sys.argv`` it expects, and its exit code is kept. As with
every way in, child Python processes (such as Ultralytics' multi-GPU workers) start with the shim on.
"""

from __future__ import annotations

import os
import runpy
import sys

from . import __version__
from .activation import activate_from_environment

USAGE = """\
usage: python -m yolo_clearml_patch script.py [args...]
       python -m yolo_clearml_patch -m package.module [args...]
       python -m yolo_clearml_patch yolo train model=... data=...   (Ultralytics' command line)
       python -m yolo_clearml_patch --check                        (is this environment set up?)

Runs the program with Ultralytics -> ClearML reporting on (also in its child Python processes).
Environment: YOLO_CLEARML_PATCH=0 turns the shim off; YOLO_CLEARML_PATCH_STRICT=1 re-raises its
own errors; YOLO_CLEARML_OFFLINE=auto|1|0 sets the offline fallback."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of the runner; exits the way the target exits."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(USAGE)
        raise SystemExit(0 if argv else 2)
    if argv[0] == "--version":
        print(f"yolo_clearml_patch {__version__}")
        raise SystemExit(0)
    if argv[0] == "--check":
        from .doctor import main as check

        raise SystemExit(check())
    if argv[0] == "-m" and len(argv) < 2:
        print(USAGE, file=sys.stderr)
        raise SystemExit(2)

    activate_from_environment()
    try:
        _run(argv)
    except SystemExit as exc:  # the exit guard exits with this code if ClearML holds the exit up
        from .exit_guard import record_exit

        record_exit(0 if exc.code is None else exc.code)
        raise


def _run(argv: list[str]) -> None:
    if argv[0] == "yolo" and not os.path.exists(argv[0]):
        sys.argv = list(argv)  # before importing Ultralytics, which keeps a copy of sys.argv
        from ultralytics.cfg import entrypoint  # what Ultralytics' `yolo` console script runs

        raise SystemExit(entrypoint())
    if argv[0] == "-m":
        sys.argv = [argv[1], *argv[2:]]  # runpy puts the module's file path in argv[0]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        script = argv[0]
        sys.argv = list(argv)
        sys.path[0] = os.path.dirname(os.path.abspath(script))  # as `python script.py` would
        runpy.run_path(script, run_name="__main__")
