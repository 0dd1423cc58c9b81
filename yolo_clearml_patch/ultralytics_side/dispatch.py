"""Dispatch of Ultralytics' lifecycle events to the reporting: each trainer's events to its
:class:`~..reporting.training_run.TrainingRun`, a validation's end, an export, a DDP launch."""

from __future__ import annotations

import weakref
from typing import Any

from ..base import settings
from ..base.guard import guarded, handle
from ..clearml_side.offline_model import adopt_models_saved_by_children
from ..reporting.export_report import register_export
from ..reporting.training_run import TrainingRun
from ..reporting.validation_report import report_standalone_validation
from . import queue_send, remote_overrides, tuner
from .ddp import launches_ddp
from .worst_collector import WorstCollector, leave_share, merge_shares

_HANDLERS = {
    "on_pretrain_routine_start": "start",
    "on_train_epoch_end": "train_epoch_end",
    "on_fit_epoch_end": "fit_epoch_end",
    "on_model_save": "model_save",
    "on_train_end": "train_end",
}

_runs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_collectors: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # validator -> its WorstCollector
_gatherings: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # validator -> its DDP gatherings so far
_datasets: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # trainer or validator -> its clearml:// dataset


def _reporting_rank() -> bool:
    from ultralytics.utils import RANK

    return RANK in {-1, 0}


def _started_run(trainer: Any) -> Any:
    """The trainer's TrainingRun; the first call creates it and starts picking its Task."""
    run = _runs.get(trainer)
    if run is None:
        run = _runs[trainer] = TrainingRun(trainer, **tuner.iteration_placement())
        guarded("starting ClearML reporting", run.start)
        if trainer in _datasets:  # Ultralytics < 8.4 reads the dataset before the run starts
            run.record_dataset(_datasets[trainer])
    return run


def _run_of(validator: Any) -> Any:
    """The TrainingRun whose trainer validates with ``validator``, if any."""
    for trainer, run in list(_runs.items()):
        if getattr(trainer, "validator", None) is validator:
            return run
    return None


def after_update_metrics(validator: Any, preds: Any, batch: Any) -> None:
    """After a validation batch's ``update_metrics``: its images judged, if worst images are collected."""
    collector = _collectors.get(validator)
    if collector is not None:
        guarded("collecting the worst images", collector.add_batch, validator, preds, batch)


def around_gather_stats(validator: Any, before: bool) -> None:
    """Around a DDP validation's gathering of statistics (8.4): ranks above 0 leave their worst
    images before it, rank 0 merges them after it (see :mod:`.worst_collector`)."""
    from ultralytics.utils import RANK

    if RANK < 0:
        return
    if before:
        _gatherings[validator] = _gatherings.get(validator, 0) + 1
    collector = _collectors.get(validator)
    if collector is None:
        return
    if before and RANK > 0:
        guarded("handing the worst images to rank 0", leave_share, collector, validator, RANK, _gatherings[validator])
    elif not before and RANK == 0:
        import torch.distributed as dist

        world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        guarded("merging the ranks' worst images", merge_shares, collector, validator, world, _gatherings[validator])


def on_dataset(owner: Any, local: Any) -> None:
    """A trainer's or a standalone validator's ``clearml://`` dataset: recorded on its Task."""
    _datasets[owner] = local
    run = _runs.get(owner)
    if run is not None:
        run.record_dataset(local)


def on_trainer_event(trainer: Any, event: str | None) -> None:
    """Report a trainer event, if it is one the shim reports; never raises (except in strict mode).

    After every event, a stop asked for in ClearML is set again on the trainer: Ultralytics resets
    its flag (``_setup_train``, and each optimizer step with ``time=``), and reads it after events.
    """
    run = _runs.get(trainer)
    if run is not None:
        run.abort.hold(trainer)
    handler = _HANDLERS.get(event or "")
    if handler is None or launches_ddp(trainer) or not _reporting_rank():
        return
    run = _started_run(trainer)
    if handler == "start":
        return
    # every event, train end included, is kept until the Task exists (TrainingRun._send): the training
    # thread never waits for the server
    guarded(f"reporting {event}", getattr(run, handler))


def on_ddp_launch(trainer: Any) -> None:
    """In the process that launches DDP workers: create the Task and record the args.

    The workers are fresh interpreters started with the shim on; ClearML's ``Task.init`` in a child
    of a process that has a Task returns that same Task, so rank 0 reports to it.
    """
    if _reporting_rank():
        guarded("starting ClearML reporting", _started_run(trainer).ready)  # before the workers start


def after_ddp_workers(trainer: Any) -> None:
    """In the launching process, once the workers are done: keep what they saved in the session."""
    run = _runs.get(trainer)
    if run is not None and guarded("starting ClearML reporting", run.ready) is not None:
        guarded("collecting the workers' output models", adopt_models_saved_by_children, run.out.task)


def on_train_failed(trainer: Any, error: BaseException) -> None:
    """A training raised: its Task (if the shim created it) is closed as failed, or stopped for Ctrl-C."""
    run = _runs.get(trainer)
    if run is not None and guarded("starting ClearML reporting", run.ready) is not None:
        guarded("marking the Task failed", run.failed, error)


def on_export(exporter: Any, exported: Any) -> None:
    """``model.export(...)`` finished: register the exported file (see :func:`register_export`)."""
    if exported and _reporting_rank():
        guarded("registering the exported model", register_export, exporter, exported)


def _trainer_args(args: tuple, kwargs: dict) -> tuple[dict, Any, dict]:
    """``BaseTrainer.__init__(cfg, overrides, _callbacks)`` arguments by name, the cfg and the overrides."""
    from ultralytics.utils import DEFAULT_CFG

    names = ("cfg", "overrides", "_callbacks")
    bound = {**dict(zip(names, args)), **kwargs}
    return bound, bound.get("cfg", DEFAULT_CFG), dict(bound.get("overrides") or {})


def send_to_queue(args: tuple, kwargs: dict) -> None:
    """With a queue set (and not on an agent): send this training to it; the process exits 0.

    Not guarded: a training that cannot be sent stops here, with the reason, and never trains here.
    """
    name = queue_send.wanted()
    if name is not None and _reporting_rank():
        _, cfg, overrides = _trainer_args(args, kwargs)
        queue_send.send_training(name, cfg, overrides)


def with_remote_overrides(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """``BaseTrainer.__init__(cfg, overrides, _callbacks)`` arguments with the Task's values as overrides.

    An invalid edited value raises (fail fast); the shim's own failures are guarded as usual.
    """
    bound, cfg, overrides = _trainer_args(args, kwargs)
    if not _reporting_rank():
        return args, kwargs
    try:
        task = remote_overrides.remote_task(overrides.get("project"), overrides.get("name") or "train")
        if task is None:
            return args, kwargs
        bound["overrides"] = remote_overrides.connect_before_init(task, cfg, overrides)
    except remote_overrides.InvalidRemoteValue:
        raise
    except Exception as exc:
        handle("applying the values edited in ClearML", exc)
        return args, kwargs
    return (), bound


WORST_IMAGES_TASKS = ("detect", "segment", "pose", "obb")


def on_validator_event(validator: Any, event: str | None) -> None:
    """A validation's start (collect its worst images, for a training's validation) and end
    (report: into its training's run, or as a standalone validation)."""
    if event == "on_val_start":
        _collectors.pop(validator, None)
        size = settings.worst_images()
        task = getattr(getattr(validator, "args", None), "task", None)
        if size and task in WORST_IMAGES_TASKS and (not _reporting_rank() or _run_of(validator) is not None):
            _collectors[validator] = WorstCollector(size)  # a training's validation (on a rank > 0: its share)
        return
    if event != "on_val_end" or not _reporting_rank():
        return
    run = _run_of(validator)
    if run is not None:
        guarded("reporting validation samples", run.val_end, validator)
        collector = _collectors.pop(validator, None)
        predicted = collector.predicted if collector is not None else set()
        guarded("reporting per-class metrics", run.per_class, validator, predicted)
        if collector is not None:
            names = getattr(validator, "names", None) or {}
            guarded("reporting the worst images", run.worst_images, validator, collector.images.worst_first(), names)
        return
    if not getattr(validator, "training", False):
        guarded("reporting a standalone validation", report_standalone_validation, validator, _datasets.get(validator))
