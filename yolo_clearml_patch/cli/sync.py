"""``yolo-clearml sync RUN_DIR [RUN_DIR ...] [--project P] [--task ID] [--offline] [--worst-images]``.

Every run directory is read and checked first: a bad one is named, with what is wrong, and nothing
is synced (exit 2). Then each goes to its Task (see :mod:`yolo_clearml_patch.run_sync`), with a
progress bar over the runs and the items of each. Exit 1 if a run could not be synced.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

PROG = "yolo-clearml sync"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Report Ultralytics run directories to ClearML, afterwards: each becomes a Task (or "
        "completes the Task it names), with what a live training under the shim reports.",
    )
    add = parser.add_argument
    add("run_dirs", nargs="+", metavar="RUN_DIR", help="an Ultralytics run directory (such as runs/detect/train)")
    add("--project", help="the ClearML project for new Tasks (default: from the run's project arg)")
    add("--task", metavar="ID", help="complete this existing Task (one RUN_DIR): only what it lacks is sent")
    add("--offline", action="store_true", help="write a ClearML offline session (as CLEARML_OFFLINE_MODE=1 does)")
    worst = (
        "validate best.pt (else last.pt) on the run's data once more, and report its worst images and per-class "
        "metrics as a live training's final validation does (YOLO_CLEARML_WORST_IMAGES of them, default 8)"
    )
    add("--worst-images", action="store_true", help=worst)
    return parser


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def main(argv: list[str]) -> int:
    """Run ``sync`` with ``argv`` (after the verb); returns the exit code."""
    args = _parser().parse_args(argv)
    from ..base.log import logger
    from ..reporting.run_directory import RunDirectory, RunDirectoryError

    runs, errors = [], []
    for path in dict.fromkeys(args.run_dirs):
        try:
            runs.append(RunDirectory.read(path))
        except RunDirectoryError as exc:
            errors.append(str(exc))
    for message in errors:
        _error(message)
    if errors:
        _error("nothing was synced")
        return 2
    for run in runs:
        if run.still_training():
            logger().warning(
                f"{run.path}: its training may still be going (last.pt changed moments ago); syncing what is there now"
            )

    from clearml import Task

    from ..reporting.run_sync import SyncError, plan

    if args.offline:
        Task.set_offline(True)
    try:
        targets = plan(runs, args.task)
    except SyncError as exc:
        _error(f"{exc}; nothing was synced")
        return 2
    revalidate = None
    if args.worst_images:
        from ..base import settings
        from ..ultralytics_side.revalidation import final_validation

        size = settings.worst_images() or settings.DEFAULT_WORST_IMAGES

        def revalidate(run: RunDirectory) -> tuple[list, dict, dict]:
            return final_validation(run, size)

    return _sync_all(targets, args.project, revalidate)


def _sync_all(targets: list, project: str | None, revalidate: Any = None) -> int:
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from ..base.log import logger
    from ..reporting.run_sync import item_count, sync_run

    failed = 0
    bars = {"disable": None, "dynamic_ncols": True}  # no bars when stderr is not a terminal
    with logging_redirect_tqdm([logger()]), tqdm(total=len(targets), desc="runs", unit="run", **bars) as runs_bar:
        for target in targets:
            run = target.run
            if target.skip:
                logger().info(f"{run.path}: {target.skip}; nothing to do")
            else:
                with tqdm(total=item_count(run), desc=run.name, unit="item", leave=False, **bars) as items:
                    try:
                        sync_run(target, project, items.update, revalidate)
                    except Exception as exc:  # the next run may still go
                        failed += 1
                        _error(f"{run.path}: not synced: {type(exc).__name__}: {exc}")
            runs_bar.update(1)
    return 1 if failed else 0
