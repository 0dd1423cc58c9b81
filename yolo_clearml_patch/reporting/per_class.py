"""Per-class metrics of every validation during training, read from what the validator computed.

Detect, segment, pose and obb: AP50-95, AP50, P and R per class, of the task's own metric (masks for
segment, keypoints for pose). A class predicted (at or above the worst images' threshold) but absent
from the validation labels gets 0: all its predictions are wrong. Classes neither labelled nor
predicted are left out. Classify: top-1 accuracy per class, from the confusion matrix.

Up to :data:`MAX_CLASSES` classes are scalars; beyond, the worst :data:`MAX_CLASSES` by the first
metric, and the whole table at train end.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_CLASSES = 20
PART = {"segment": "seg", "pose": "pose"}  # the task's own metric in Ultralytics' metrics object
COLUMNS = (("AP50-95", "ap"), ("AP50", "ap50"), ("P", "p"), ("R", "r"))


def class_metrics(validator: Any, predicted: set[int] = frozenset()) -> dict[str, dict[str, float]]:
    """``{class name: {metric: value}}`` for the validation that just ended (empty when none)."""
    names = getattr(validator, "names", None) or {}
    if getattr(validator.args, "task", None) == "classify":
        matrix = np.asarray(getattr(getattr(validator, "confusion_matrix", None), "matrix", np.zeros((0, 0))))
        n = min(len(names), matrix.shape[0], matrix.shape[1] if matrix.ndim == 2 else 0)
        totals = matrix[:n, :n].sum(0)  # columns: the true class
        return {str(names[i]): {"top-1": float(matrix[i, i] / totals[i])} for i in range(n) if totals[i] > 0}
    metrics = validator.metrics
    part = getattr(metrics, PART.get(validator.args.task, "box"), None) or metrics.box
    rows: dict[str, dict[str, float]] = {}
    index = [int(c) for c in getattr(metrics, "ap_class_index", [])]
    for i, c in enumerate(index):
        rows[str(names.get(c, c))] = {title: float(np.asarray(getattr(part, attr))[i]) for title, attr in COLUMNS}
    for c in sorted(predicted - set(index)):
        rows[str(names.get(c, c))] = {title: 0.0 for title, _ in COLUMNS}
    return rows


def shown(rows: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """The rows reported as scalars: all, or the :data:`MAX_CLASSES` worst by the first metric."""
    if len(rows) <= MAX_CLASSES:
        return rows
    first = next(iter(next(iter(rows.values()))))
    worst = sorted(rows, key=lambda name: rows[name][first])[:MAX_CLASSES]
    return {name: rows[name] for name in worst}


def as_table(rows: dict[str, dict[str, float]]) -> list[list[Any]]:
    """The rows as one table: a header, then a row per class."""
    metrics = list(next(iter(rows.values()))) if rows else []
    return [["class", *metrics], *[[name, *(round(v[m], 5) for m in metrics)] for name, v in rows.items()]]


def report(out: Any, rows: dict[str, dict[str, float]], iteration: int) -> None:
    """The shown rows as scalars ``per-class <metric>`` / class name at ``iteration``."""
    for name, metrics in shown(rows).items():
        for metric, value in metrics.items():
            out.scalar(f"per-class {metric}", name, value, iteration)


def report_table(out: Any, rows: dict[str, dict[str, float]]) -> None:
    """The whole table, when there are more classes than scalars."""
    if len(rows) > MAX_CLASSES:
        out.table("per-class metrics", "all classes", as_table(rows))
