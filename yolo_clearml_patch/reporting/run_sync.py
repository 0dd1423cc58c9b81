"""A run directory into a ClearML Task, afterwards: a new Task, or completing the one it belongs to.

What is reported is what a live training under the shim reports, under the same titles, series and
iterations, through the same :class:`~..clearml_side.once_logger.OnceLogger`. Completing a Task, the events it
already holds are read back from the server first and handed to that logger as already reported, so
only what is missing is sent. The Task is decided by :func:`~..clearml_side.task_choice.task_for`, as for a
training: ``--task ID``, else the Task the run directory's ``clearml_task.json`` names (on the
configured server), else a new one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base import run_record, settings
from ..base.log import logger
from ..clearml_side.holdings import Holdings, holdings
from ..clearml_side.offline_model import register_output_model
from ..clearml_side.offline_policy import choose_mode, server_host, server_of
from ..clearml_side.once_logger import reporter_for
from ..clearml_side.own_tasks import claim_for_training, close_task
from ..clearml_side.task_choice import task_for
from . import per_class
from .run_directory import RunDirectory
from .run_outputs import label_enumeration, mosaic_files, validation_files
from .summary import finish_report
from .upstream_titles import final_eval_has_own_step, metric_title
from .validation_report import report_png_plots
from .worst_images import report_worst, slot_history

# a Task made by sync holds the training, not the sync process: no arguments, console or machine stats of its own
SYNC_INIT_OPTIONS = {
    "auto_connect_arg_parser": False,
    "auto_connect_streams": False,
    "auto_resource_monitoring": False,
    "auto_connect_frameworks": {"detect_repository": False},
}


class SyncError(RuntimeError):
    """A sync that cannot be done, and why."""


@dataclass
class Target:
    """One run directory and where it goes: ``task_id`` to complete, else a new Task; ``skip``: why not at all."""

    run: RunDirectory
    task_id: str | None = None
    skip: str | None = None
    held: Holdings | None = None  # what the Task to complete already holds


def _within(what: str, func: Callable[[], Any]) -> Any:
    """``func()`` within the flush bound; a SyncError when the server does not answer in time or fails."""
    finished, result = threading.Event(), []

    def call() -> None:
        try:
            result.append(func())
        except Exception as exc:
            result.append(exc)
        finally:
            finished.set()

    threading.Thread(target=call, name="yolo_clearml_patch-sync", daemon=True).start()
    if not finished.wait(settings.flush_timeout()):
        raise SyncError(f"{what}: the ClearML server did not answer within {settings.flush_timeout():g} s")
    if isinstance(result[0], Exception):
        raise SyncError(f"{what}: {type(result[0]).__name__}: {result[0]}")
    return result[0]


def _holdings_of(task_id: str) -> Holdings:
    """What the existing Task ``task_id`` holds; a SyncError when the server has no such Task (or
    does not answer), or when it is published (ClearML changes nothing in a published Task)."""
    from clearml import Task

    try:
        task = _within(f"fetching Task {task_id}", lambda: Task.get_task(task_id=task_id))
    except SyncError as exc:
        raise SyncError(f"no Task {task_id} on the ClearML server {server_host()} ({exc})") from None
    if str(task.get_status()) in {"published", "publishing"}:
        raise SyncError(f"Task {task_id} is published: ClearML changes nothing in a published Task")
    return _within(f"reading what Task {task_id} holds", lambda: holdings(task))


def plan(runs: list[RunDirectory], task_id: str | None = None) -> list[Target]:
    """Where each run goes; raises SyncError before anything is touched when it cannot go anywhere.

    - ``task_id`` (one run): that Task, which must exist on the configured server, unpublished;
    - a run whose ``clearml_task.json`` names a Task on the configured server: that Task (which must
      still exist), so a second sync adds nothing and a live-reported run only gets its gaps filled;
    - a run already recorded in an offline session, synced offline again: nothing to do;
    - otherwise a new Task.

    What a Task to complete already holds is read here, before anything is written.
    """
    offline = choose_mode()
    if offline is None:
        raise SyncError(f"no ClearML server answered and {settings.OFFLINE_VAR}=0: nowhere to sync to")
    if task_id:
        if offline:
            raise SyncError("--task completes a Task on a ClearML server, and no server is in use (offline)")
        if len(runs) != 1:
            raise SyncError("--task completes one Task: give one run directory")
        return [Target(runs[0], task_id, held=_holdings_of(task_id))]
    host = None if offline else server_host().rstrip("/")
    targets = []
    for run in runs:
        record = run_record.read(run.path) or {}
        if host and (record.get("server") or "").rstrip("/") == host:
            try:
                held = _holdings_of(record["task_id"])
            except SyncError as exc:
                raise SyncError(
                    f"{run.path}: its {run_record.FILE_NAME} names Task {record['task_id']}: {exc}. "
                    f"Remove that file to sync into a new Task."
                ) from None
            targets.append(Target(run, record["task_id"], held=held))
        elif offline and record.get("offline_session") and _session_exists(record["offline_session"]):
            targets.append(Target(run, skip=f"already in the ClearML offline session {record['offline_session']}"))
        else:
            targets.append(Target(run))
    return targets


def _session_exists(folder: str) -> bool:
    return Path(folder).exists() or Path(f"{folder}.zip").exists()


def sync_run(
    target: Target,
    project: str | None = None,
    advance: Callable[[int], Any] = lambda n: None,
    revalidate: Callable[[RunDirectory], tuple[list, dict, dict]] | None = None,
) -> str:
    """Report ``target.run`` into its Task (see :func:`plan`); returns the Task id.

    ``advance(n)``: called as items (epochs, images, models) are reported, for a progress bar.
    ``revalidate(run)``: the run's final validation run again (worst images, names, per-class
    metrics), reported where a live training reports its final validation's.
    """
    run = target.run
    resumes = {"task_id": target.task_id, "server": server_host()} if target.task_id else None
    project = project or run.args.get("project")
    task = task_for(project, run.name, fresh=True, resumes=resumes, init_options=SYNC_INIT_OPTIONS)
    if task is None:
        raise SyncError("ClearML gave no Task")
    claim_for_training(task)
    record = run_record.read(run.path) or {}
    if not (task.is_offline() and record.get("server")):  # an offline copy never replaces the server's record
        run_record.write(run.path, task, server_of(task))
    held = target.held if target.held is not None and task.id == target.task_id else Holdings()
    out = reporter_for(task, run.name)
    # results.csv is the truth for its own columns: a held per-epoch value that disagrees with it is sent again
    epochs = {run.epoch_of(row) for row in run.rows}
    truth = {k: v for k, v in held.values.items() if k[0] == "scalar" and k[2] in run.columns and k[3] in epochs}
    out.already_reported(held.events, truth)
    if "General" not in held.sections:
        out.delivery.submit("recording the hyperparameters", task.connect, dict(run.args), "General")
    _report_epochs(out, run, advance)
    if revalidate is not None:
        _report_final_validation(out, run, revalidate)
    for name, value in {**run.model_info, **run.final_metrics}.items():
        out.single(name, value)
    out.debug_samples(mosaic_files(run.path), "Mosaic")
    out.debug_samples(validation_files(run.path), "Validation")
    report_png_plots(out, [], run.path)
    advance(len(run.images))
    for path, name, iteration in _models(run):
        if name not in held.models:
            job = (register_output_model, task, path, name, iteration, None, label_enumeration(run.names))
            out.delivery.submit(f"registering {name}", *job, kind="models")
        advance(1)
    finish_report(out, run.path, run_dir=run.path, wait=True)
    # an unfinished training (no stripped checkpoint) ends "stopped", as an interrupted one does
    if not close_task(task, None if run.finished else KeyboardInterrupt()):
        logger().warning(f"ClearML could not close Task {task.id} within {settings.flush_timeout():g} s")
    return task.id


def _report_epochs(out: Any, run: RunDirectory, advance: Callable[[int], Any]) -> None:
    """Every results.csv column at its epoch, under the live titles, and "Epoch Time"; from Ultralytics
    8.4.52 also the final validation's metrics one iteration after the last epoch, as it reports them."""
    times = run.epoch_times()
    for row in run.rows:
        epoch = run.epoch_of(row)
        for column, value in row.items():
            if column in {"epoch", "time"}:
                continue
            prefix = column.split("/")[0]
            title = prefix if prefix in {"train", "lr"} else metric_title(column, run.version)
            out.scalar(title, column, value, epoch)
        if epoch in times:
            out.scalar("Epoch Time", "Epoch Time", times[epoch], epoch)
        advance(1)
    last = run.epoch_of(run.rows[-1])
    if run.finished and "best" in run.checkpoints and final_eval_has_own_step(run.version):
        for key, value in run.final_metrics.items():
            if key.startswith("metrics/"):
                out.scalar(metric_title(key, run.version), key, value, last + 1)
        if last in times:
            out.scalar("Epoch Time", "Epoch Time", times[last], last + 1)


def _report_final_validation(out: Any, run: RunDirectory, revalidate: Callable[[RunDirectory], Any]) -> None:
    """The worst images and per-class metrics of the run's final validation, one iteration after the
    last epoch (as a live training reports them); a run that cannot be validated again is said."""
    try:
        records, names, rows = revalidate(run)
    except Exception as exc:
        logger().warning(f"{run.path}: no worst images or per-class metrics: {exc}")
        return
    iteration = run.epoch_of(run.rows[-1]) + 1
    per_class.report(out, rows, iteration)
    per_class.report_table(out, rows)
    history = slot_history(int(run.args.get("epochs") or 0))
    out.delivery.submit("reporting the worst images", report_worst, out, records, names, iteration, history)


def _models(run: RunDirectory) -> list[tuple[Path, str, int]]:
    """(weights, model name, iteration): with ``save_period`` the ``epochN.pt`` checkpoints and
    ``last.pt``; then ``best.pt`` (else ``last.pt``) under the run's name, as a live training."""
    last_epoch = run.epoch_of(run.rows[-1])
    models = []
    if (run.args.get("save_period") or 0) > 0:
        for key, path in run.checkpoints.items():
            if key.startswith("epoch") and key[5:].isdigit():
                models.append((path, f"{run.name}_epoch{int(key[5:])}", int(key[5:])))
        if "last" in run.checkpoints:
            models.append((run.checkpoints["last"], f"{run.name}_last", last_epoch))
    models.append((run.checkpoints.get("best") or run.checkpoints["last"], run.name, last_epoch))
    return models


def item_count(run: RunDirectory) -> int:
    """How many items :func:`sync_run` advances the progress by for ``run``."""
    return len(run.rows) + len(run.images) + len(_models(run))
