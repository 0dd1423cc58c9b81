"""``yolo-clearml [-m module | script.py | yolo ...] [args...]``: run a program with the shim on.

The target runs as ``__main__`` with the ``sys.argv`` it expects, and its exit code is kept. As with
every way in, child Python processes (such as Ultralytics' multi-GPU workers) start with the shim on.
"""

from __future__ import annotations

import os
import runpy
import sys

from ..activation import activate_from_environment
from ..clearml_side.exit_guard import record_exit
from ..clearml_side.remote_launch import set_program


def main(argv: list[str]) -> None:
    """Run ``argv`` (a script, ``-m module`` or ``yolo ...``) with the shim on; exits the way it exits."""
    activate_from_environment()
    set_program(argv)  # a training sent to a queue runs this same command on the agent
    try:
        _run(argv)
    except SystemExit as exc:  # the exit guard exits with this code if ClearML holds the exit up
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
