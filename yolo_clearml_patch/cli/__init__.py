"""The command line: ``python -m yolo_clearml_patch`` and its console script ``yolo-clearml``.

Its verbs, one module each:

- ``run`` (the default): ``yolo-clearml script.py ...`` / ``-m module`` / ``yolo train ...`` runs a
  program with the shim on (:mod:`.run`);
- ``--check``: is this environment set up to report? (:mod:`.check`);
- ``sync RUN_DIR ...``: an Ultralytics run directory into a ClearML Task, afterwards (:mod:`.sync`).

As with ``yolo``, a file named ``sync`` in the working directory is run as a script, not the verb.
"""

from __future__ import annotations

import os
import sys

from .._version import __version__

USAGE = """\
usage: yolo-clearml script.py [args...]                  (or: python -m yolo_clearml_patch ...)
       yolo-clearml -m package.module [args...]
       yolo-clearml yolo train model=... data=...        (Ultralytics' command line)
       yolo-clearml --check                              (is this environment set up?)
       yolo-clearml sync RUN_DIR [RUN_DIR ...] [--project P] [--task ID] [--offline]
                                                         (a run directory into ClearML, afterwards)

Runs the program with Ultralytics -> ClearML reporting on (also in its child Python processes).
Environment: YOLO_CLEARML_PATCH=0 turns the shim off; YOLO_CLEARML_PATCH_STRICT=1 re-raises its
own errors; YOLO_CLEARML_OFFLINE=auto|1|0 sets the offline fallback."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m yolo_clearml_patch`` and ``yolo-clearml``; exits with the verb's code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(USAGE)
        raise SystemExit(0 if argv else 2)
    if argv[0] == "--version":
        print(f"yolo_clearml_patch {__version__}")
        raise SystemExit(0)
    if argv[0] == "--check":
        from .check import main as check

        raise SystemExit(check())
    if argv[0] == "sync" and not os.path.exists(argv[0]):
        from .sync import main as sync

        raise SystemExit(sync(argv[1:]))
    if argv[0] == "-m" and len(argv) < 2:
        print(USAGE, file=sys.stderr)
        raise SystemExit(2)
    from .run import main as run

    run(argv)
