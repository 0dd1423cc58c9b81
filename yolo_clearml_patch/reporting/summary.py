"""The end of a report: wait (bounded) for ClearML to confirm what was sent, then say so in one line,
and say what was not sent, with the command that completes the Task."""

from __future__ import annotations

import shlex
from typing import Any

from ..base import settings
from ..base.guard import guarded
from ..base.log import logger
from ..clearml_side.delivery import describe, finish_in_background
from ..clearml_side.offline_policy import offline_import_hint
from ..clearml_side.once_logger import OnceLogger


def sync_command(run_dir: Any, task_id: str) -> str:
    """The command that completes Task ``task_id`` from the run directory ``run_dir``."""
    return f"python -m yolo_clearml_patch sync {shlex.quote(str(run_dir))} --task {task_id}"


def finish_report(out: OnceLogger, save_dir: Any, run_dir: Any = None, wait: bool = False) -> None:
    """Wait (bounded) until ClearML confirms what was reported, then say so in one line, and say what
    was not sent, if anything, in one warning (with the ``sync`` command that completes the Task
    when ``run_dir``, a training's run directory, is given).

    The waiting is done on a thread of its own unless ``wait``: the training thread returns at once,
    whatever the server's latency, and the process exit waits for it (bounded).
    """
    if wait:
        _finish_report(out, save_dir, run_dir)
    else:
        finish_in_background("finishing the ClearML report", _finish_report, out, save_dir, run_dir)


def _finish_report(out: OnceLogger, save_dir: Any, run_dir: Any) -> None:
    bound = settings.flush_timeout()
    confirmed = out.delivery.wait(bound)
    out.delivery.retire()
    task = out.task
    page = offline_import_hint(task) or guarded("reading the results page", task.get_output_log_web_page)
    where = page if task.is_offline() else f"results page: {page}"
    logger().info(f"ClearML Task {task.name!r} ({task.id}): reported {describe(out.delivery.total())}; {where}")
    dropped = out.delivery.dropped_by_clearml()
    if not confirmed or dropped:
        missing = describe(out.delivery.missing()) if not confirmed else "nothing"
        logger().warning(
            f"the ClearML server did not confirm these within {bound:g} s: {missing}"
            + (f"; ClearML gave up uploading {dropped} events" if dropped else "")
            + f". Task id {task.id}. The same data is in {save_dir}"
            + (" (args.yaml, results.csv, plots, weights/)" if run_dir else "")
            + ". ClearML keeps retrying in the background until the process exits."
            + (f" Once the server is back, complete the Task with: {sync_command(run_dir, task.id)}" if run_dir else "")
        )
