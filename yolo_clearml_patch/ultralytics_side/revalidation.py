"""``sync --worst-images``: a run's final validation (of its ``best.pt``, else ``last.pt``) run once
more, to collect what a live training's final validation reports beyond results.csv: the worst
images and the per-class metrics (see :mod:`.worst_collector`, :mod:`..reporting.per_class`)."""

from __future__ import annotations

from typing import Any

from ..base import switch
from ..reporting import per_class
from .worst_collector import WorstCollector

TASKS = ("detect", "segment", "pose", "obb")


class CannotRevalidate(Exception):
    """The run's final validation cannot be run again here; the message says why."""


def final_validation(run: Any, size: int) -> tuple[list, dict, dict]:
    """Validate the run's weights on its data as its training did; returns (the worst images, worst
    first; the class names; the per-class metrics)."""
    task = run.args.get("task")
    if task not in TASKS:
        raise CannotRevalidate(f"worst images are drawn for {', '.join(TASKS)}, not {task}")
    weights = run.checkpoints.get("best") or run.checkpoints.get("last")
    if weights is None:
        raise CannotRevalidate("the run holds no weights (best.pt or last.pt)")
    from ultralytics import YOLO

    seen: list[tuple[Any, WorstCollector]] = []

    def collect(validator: Any) -> None:  # this validation only: its update_metrics, on the instance
        collector = WorstCollector(size)
        seen.append((validator, collector))
        original = validator.update_metrics

        def update_metrics(preds: Any, batch: Any) -> Any:
            result = original(preds, batch)
            collector.add_batch(validator, preds, batch)
            return result

        validator.update_metrics = update_metrics

    if switch.is_on():  # the shim's own reporting of a validation would make a Task of its own
        switch.turn_off()
    model = YOLO(str(weights))
    model.add_callback("on_val_start", collect)
    options = {k: run.args[k] for k in ("imgsz", "batch", "split", "single_cls") if run.args.get(k) is not None}
    try:
        model.val(data=run.args.get("data"), **options, plots=False, save_json=False, verbose=False, workers=0)
    except Exception as exc:
        raise CannotRevalidate(f"validating {weights.name} on {run.args.get('data')} failed: {exc}") from exc
    if not seen:
        raise CannotRevalidate("Ultralytics ran no validation")
    validator, collector = seen[-1]
    names = dict(getattr(validator, "names", None) or {})
    return collector.images.worst_first(), names, per_class.class_metrics(validator, collector.predicted)
