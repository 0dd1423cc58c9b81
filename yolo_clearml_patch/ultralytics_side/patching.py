"""wrapt patches on ``BaseTrainer.run_callbacks``/``train`` and ``BaseValidator.run_callbacks``.

Wrapping the base classes covers every task (detect, segment, classify, pose, obb). The original
always runs and its exceptions pass unchanged; the shim's reporting runs after it, guarded.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import wrapt

from ..base import switch
from ..base.guard import guarded, warn_once
from ..base.log import logger
from . import dispatch, remote_overrides, tuner
from .dataset_uri import local_data
from .ddp import launches_ddp
from .upstream_callback import drop_upstream

# (module, class, method) -> the FunctionWrapper installed on the class
_applied: dict[tuple[str, str, str], Any] = {}


def _reporting_wrapper(report: Any) -> Any:
    """A ``run_callbacks`` wrapper: upstream's ClearML callback dropped, the originals run, then ``report``."""

    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        if not switch.is_on() or instance is None:
            return wrapped(*args, **kwargs)
        event = args[0] if args else kwargs.get("event")
        drop_upstream(getattr(instance, "callbacks", None), event)
        result = wrapped(*args, **kwargs)
        report(instance, event)
        return result

    return wrapper


def _train_wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """``BaseTrainer.train``: a multi-GPU launch gets its Task here, before the workers start; a
    training that raises closes its Task as failed (the exception passes on unchanged)."""
    if not switch.is_on():
        return wrapped(*args, **kwargs)
    ddp = launches_ddp(instance)
    if ddp:
        dispatch.on_ddp_launch(instance)
    try:
        return wrapped(*args, **kwargs)
    except BaseException as exc:
        try:
            dispatch.on_train_failed(instance, exc)
        except Exception:  # strict mode: shown, but the user's exception is the one that propagates
            logger().exception("marking the Task failed")
        raise
    finally:
        if ddp:
            dispatch.after_ddp_workers(instance)


def _init_wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """``BaseTrainer.__init__``: with a queue set, the training is sent there (the process ends);
    remote edits become overrides before the trainer reads its args."""
    if switch.is_on():
        dispatch.send_to_queue(args, kwargs)
    if switch.is_on() and remote_overrides.wanted():
        args, kwargs = dispatch.with_remote_overrides(args, kwargs)
    return wrapped(*args, **kwargs)


def _reading_data(validator: bool) -> Any:
    """A wrapper of where Ultralytics reads its dataset (``BaseTrainer.get_dataset``; with
    ``validator``, ``BaseValidator.__call__`` on its own, without a trainer): a ``clearml://``
    dataset is read from its local copy, and recorded on the Task."""

    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        trainer = (args[0] if args else kwargs.get("trainer")) if validator else None
        if not switch.is_on() or instance is None or trainer is not None:
            return wrapped(*args, **kwargs)
        with local_data(instance) as local:
            if local is not None:
                guarded("recording the dataset", dispatch.on_dataset, instance, local)
            return wrapped(*args, **kwargs)

    return wrapper


_in_update_metrics = threading.local()


def _update_metrics_wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """``update_metrics(preds, batch)`` of the detection-family validators: after it, the batch's
    images are judged for the worst images (the outermost call only, should a subclass call super)."""
    if not switch.is_on() or instance is None or getattr(_in_update_metrics, "active", False):
        return wrapped(*args, **kwargs)
    _in_update_metrics.active = True
    try:
        result = wrapped(*args, **kwargs)
    finally:
        _in_update_metrics.active = False
    preds = args[0] if args else kwargs.get("preds")
    batch = args[1] if len(args) > 1 else kwargs.get("batch")
    dispatch.after_update_metrics(instance, preds, batch)
    return result


def _gather_stats_wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """``gather_stats()`` of a multi-GPU validation (8.4): the ranks' worst images meet on rank 0."""
    if not switch.is_on() or instance is None:
        return wrapped(*args, **kwargs)
    dispatch.around_gather_stats(instance, before=True)
    result = wrapped(*args, **kwargs)
    dispatch.around_gather_stats(instance, before=False)
    return result


def _export_wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """``Exporter.__call__``: the exported file is registered as an output model, after the export."""
    exported = wrapped(*args, **kwargs)
    if switch.is_on():
        dispatch.on_export(instance, exported)
    return exported


def _tune_wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """``Tuner.__call__``: an optimizer Task for the tune run, around the iterations."""
    if not switch.is_on():
        return wrapped(*args, **kwargs)
    guarded("creating the tuning Task", tuner.on_tune_start, instance)
    try:
        return wrapped(*args, **kwargs)
    finally:
        guarded("finishing the tuning Task", tuner.on_tune_end)


def _after(step: str) -> Any:
    """A wrapper that runs ``tuner.<step>`` (guarded) with the call's first argument, after the call."""

    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        result = wrapped(*args, **kwargs)
        if switch.is_on():
            guarded(f"tuning: {step}", getattr(tuner, step), instance if instance is not None else args[0])
        return result

    return wrapper


# module -> [(class, method, wrapper)]; class "" for a module-level function
TARGETS = {
    "ultralytics.engine.trainer": [
        ("BaseTrainer", "run_callbacks", _reporting_wrapper(dispatch.on_trainer_event)),
        ("BaseTrainer", "train", _train_wrapper),
        ("BaseTrainer", "__init__", _init_wrapper),
        ("BaseTrainer", "get_dataset", _reading_data(validator=False)),
    ],
    "ultralytics.engine.validator": [
        ("BaseValidator", "run_callbacks", _reporting_wrapper(dispatch.on_validator_event)),
        ("BaseValidator", "__call__", _reading_data(validator=True)),
    ],
    "ultralytics.engine.exporter": [("Exporter", "__call__", _export_wrapper)],
    # where a class defines update_metrics itself: 8.4 only the detection validator; 8.3 also segment, pose
    "ultralytics.models.yolo.detect.val": [
        ("DetectionValidator", "update_metrics", _update_metrics_wrapper),
        ("DetectionValidator", "gather_stats", _gather_stats_wrapper),  # 8.4; 8.3 validates on rank 0 only
    ],
    "ultralytics.models.yolo.segment.val": [("SegmentationValidator", "update_metrics", _update_metrics_wrapper)],
    "ultralytics.models.yolo.pose.val": [("PoseValidator", "update_metrics", _update_metrics_wrapper)],
    "ultralytics.engine.tuner": [
        ("Tuner", "__call__", _tune_wrapper),
        ("Tuner", "_mutate", _after("before_iteration")),  # each iteration starts with its mutation
        ("", "plot_tune_results", _after("on_results")),  # each iteration ends with this plot
    ],
}


OPTIONAL = {("ultralytics.models.yolo.detect.val", "DetectionValidator", "gather_stats")}  # not in every version


def owner(module: Any, class_name: str) -> Any:
    """What holds a target: the class ``class_name`` of ``module``, or the module itself for ""."""
    return getattr(module, class_name, None) if class_name else module


def apply(module: Any) -> None:
    """Wrap the target methods of ``module`` once; a missing method is skipped with a warning."""
    for class_name, method, wrapper in TARGETS.get(module.__name__, ()):
        _wrap(module, class_name, method, wrapper)


def _wrap(module: Any, class_name: str, method: str, wrapper: Any) -> None:
    name = module.__name__
    key = (name, class_name, method)
    cls = owner(module, class_name)
    if key in _applied and cls is not None and _in_chain(vars(cls).get(method), _applied[key]):
        return
    if cls is None or not callable(getattr(cls, method, None)):
        if key in OPTIONAL:
            return
        warn_once(f"missing {key}", f"{name}.{class_name}.{method} not found; that part is not reported")
        return
    if class_name and method not in vars(cls):  # inherited: the wrapper on the class defining it runs
        return
    wrapt.wrap_function_wrapper(module, f"{class_name}.{method}" if class_name else method, wrapper)
    _applied[key] = vars(cls)[method]
    switch.when_turned_off(remove)


def _in_chain(attribute: Any, wrapper: Any) -> bool:
    """Whether ``wrapper`` is ``attribute`` or lies under it in a chain of ``__wrapped__`` links."""
    seen = 0
    while attribute is not None and seen < 50:
        if attribute is wrapper:
            return True
        attribute, seen = getattr(attribute, "__wrapped__", None), seen + 1
    return False


def remove() -> None:
    """Restore the originals where the shim's wrapper is the outermost one.

    A wrapper that someone else wrapped again stays in place and passes straight through while the
    shim is off; it is remembered, so a later ``patch()`` does not wrap a second time.
    """
    for key, wrapper in list(_applied.items()):
        name, class_name, method = key
        cls = owner(sys.modules.get(name), class_name)
        if cls is None:
            del _applied[key]
        elif vars(cls).get(method) is wrapper:
            setattr(cls, method, wrapper.__wrapped__)
            del _applied[key]
