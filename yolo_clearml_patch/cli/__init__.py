"""The command line: ``python -m yolo_clearml_patch`` and its console script ``yolo-clearml``.

Its verbs, one module each:

- ``run`` (the default): ``yolo-clearml [run] [--queue Q] script.py ...`` / ``-m module`` /
  ``yolo train ...`` runs a program with the shim on (:mod:`.run`); with ``--queue`` its trainings
  are sent to that ClearML queue and run on an agent;
- ``--check``: is this environment set up to report? (:mod:`.check`);
- ``sync RUN_DIR ...``: an Ultralytics run directory into a ClearML Task, afterwards (:mod:`.sync`);
- ``optimize --task ID --queue Q``: a hyperparameter search over ClearML agents (:mod:`.optimize`);
- ``dataset upload DATA_YAML --project P --name N``: a local YOLO dataset as a ClearML dataset
  version, to train on with ``data=clearml://...`` (:mod:`.dataset`).

As with ``yolo``, a file named ``sync`` (or ``run``, ``optimize``, ``dataset``) in the working directory is run as a
script, not the verb.
"""

from __future__ import annotations

import os
import sys

from .._version import __version__
from ..base import settings

USAGE = """\
usage: yolo-clearml script.py [args...]                  (or: python -m yolo_clearml_patch ...)
       yolo-clearml -m package.module [args...]
       yolo-clearml yolo train model=... data=...        (Ultralytics' command line)
       yolo-clearml [run] --queue Q script.py [args...]  (send the trainings to ClearML queue Q:
                                                          a clearml-agent runs them, the shim on)
       yolo-clearml optimize --task ID --queue Q [--space S.yaml] [--trials N] [--concurrent K] ...
                                                         (a hyperparameter search over ClearML agents;
                                                          yolo-clearml optimize --help)
       yolo-clearml dataset upload data.yaml --project P --name N
                                                         (a local YOLO dataset as a ClearML dataset
                                                          version; train with data=clearml://...)
       yolo-clearml --check                              (is this environment set up?)
       yolo-clearml sync RUN_DIR [RUN_DIR ...] [--project P] [--task ID] [--offline]
                                                         (a run directory into ClearML, afterwards)

Runs the program with Ultralytics -> ClearML reporting on (also in its child Python processes).
Environment: YOLO_CLEARML_PATCH=0 turns the shim off; YOLO_CLEARML_PATCH_STRICT=1 re-raises its
own errors; YOLO_CLEARML_OFFLINE=auto|1|0 sets the offline fallback; YOLO_CLEARML_QUEUE=Q is --queue."""


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
    if argv[0] == "optimize" and not os.path.exists(argv[0]):
        from .optimize import main as optimize

        raise SystemExit(optimize(argv[1:]))
    if argv[0] == "dataset" and not os.path.exists(argv[0]):
        from .dataset import main as dataset

        raise SystemExit(dataset(argv[1:]))
    if argv[0] == "run" and not os.path.exists(argv[0]):
        argv = argv[1:]
    argv = _take_queue(argv)
    if not argv or (argv[0] == "-m" and len(argv) < 2):
        print(USAGE, file=sys.stderr)
        raise SystemExit(2)
    from .run import main as run

    run(argv)


def _take_queue(argv: list[str]) -> list[str]:
    """``--queue Q`` / ``--queue=Q`` before the program: set ``YOLO_CLEARML_QUEUE`` (read by every
    training of the program, and by its child processes) and return the rest."""
    if not argv or not argv[0].startswith("--queue"):
        return argv
    if argv[0] == "--queue" and len(argv) > 1:
        name, rest = argv[1], argv[2:]
    elif argv[0].startswith("--queue="):
        name, rest = argv[0].split("=", 1)[1], argv[1:]
    else:
        print("yolo-clearml: --queue needs a queue name\n" + USAGE, file=sys.stderr)
        raise SystemExit(2)
    if not name.strip():
        print("yolo-clearml: --queue needs a queue name, not an empty one", file=sys.stderr)
        raise SystemExit(2)
    os.environ[settings.QUEUE_VAR] = name
    return rest
