"""Interactive ClearML plots from a finished validation, in addition to the PNG plots.

- the confusion matrix as a heatmap, with class names on both axes;
- each metric curve (PR, F1, P, R) as a scatter plot: one series per class, plus "all classes";
- a table of per-class metrics.

Curves show at most ``MAX_CLASS_SERIES`` classes: when there are more, the ones with the highest
mAP50-95, so a plot stays readable with hundreds of classes; "all classes" always covers them all.

The confusion matrix follows Ultralytics' own PNG: cell numbers only below ``CELL_TEXT_BELOW`` classes;
from ``REDUCE_FROM`` classes it keeps the ``MAX_MATRIX_CLASSES`` most-confused classes (the largest
off-diagonal row and column sums), so one plot event stays small (a full 1000-class matrix is ~6 MB)
and readable; the series says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..base.guard import guarded

MAX_CLASS_SERIES = 20
CELL_TEXT_BELOW = 30  # as Ultralytics' ConfusionMatrix.plot
REDUCE_FROM = 100  # Ultralytics' PNG thins its ticks from here
MAX_MATRIX_CLASSES = 60
CONFUSION_TITLE = "Confusion Matrix"
TABLE_TITLE = "Per-class metrics"


def _class_name(names: Any, index: int) -> str:
    return str(names.get(index, index)) if isinstance(names, dict) else str(names[index])


def most_confused(matrix: np.ndarray, nc: int, keep: int = MAX_MATRIX_CLASSES) -> list[int]:
    """Indices of the ``keep`` classes with the most confusions (off-diagonal row + column sums, the
    total count breaking ties), in class order; a "background" row/column past ``nc`` is kept too."""
    off = matrix[:nc, :nc] - np.diag(np.diag(matrix[:nc, :nc]))
    confusion = off.sum(0) + off.sum(1)
    if matrix.shape[0] > nc:  # missed (background row) and spurious (background column) detections
        confusion = confusion + matrix[nc:, :nc].sum(0) + matrix[:nc, nc:].sum(1)
    total = matrix[:nc, :].sum(1) + matrix[:, :nc].sum(0)
    order = np.lexsort((-total, -confusion))[:keep]
    return sorted(order.tolist()) + list(range(nc, matrix.shape[0]))


def report_confusion_matrix(logger: Any, validator: Any, iteration: int) -> None:
    cm = getattr(validator, "confusion_matrix", None)
    if cm is None or getattr(cm, "matrix", None) is None:
        return
    matrix = np.asarray(cm.matrix)
    names = getattr(cm, "names", None) or validator.names  # older Ultralytics: no names on the matrix
    labels = [_class_name(names, i) for i in range(cm.nc)]
    if matrix.shape[0] > cm.nc:  # detection tasks add a "background" row and column
        labels.append("background")
    series = "val"
    if cm.nc >= REDUCE_FROM:
        rows = most_confused(matrix, cm.nc)
        matrix, labels = matrix[np.ix_(rows, rows)], [labels[i] for i in rows]
        series = f"val: the {min(MAX_MATRIX_CLASSES, cm.nc)} most-confused of {cm.nc} classes"
    logger.report_confusion_matrix(
        title=CONFUSION_TITLE,
        series=series,
        matrix=matrix,
        iteration=iteration,
        xaxis="True",
        yaxis="Predicted",
        xlabels=labels,
        ylabels=labels,
        yaxis_reversed=True,
        extra_layout=None if cm.nc < CELL_TEXT_BELOW else {},  # None: ClearML's default, a number in each cell
    )


def classes_to_plot(class_index: np.ndarray, ap: np.ndarray | None) -> list[int]:
    """Rows of the curve arrays to draw: all of them, or the ``MAX_CLASS_SERIES`` with the best AP."""
    rows = list(range(len(class_index)))
    if len(rows) <= MAX_CLASS_SERIES:
        return rows
    if ap is None or len(ap) != len(rows):
        return rows[:MAX_CLASS_SERIES]
    return sorted(np.argsort(-np.asarray(ap), kind="stable")[:MAX_CLASS_SERIES].tolist())


def report_curves(logger: Any, validator: Any, iteration: int) -> None:
    metrics = validator.metrics
    curves = list(getattr(metrics, "curves", None) or [])
    if not curves:
        return
    class_index = np.asarray(getattr(metrics, "ap_class_index", []))
    ap = getattr(getattr(metrics, "box", None), "all_ap", None)
    ap = np.asarray(ap).mean(1) if ap is not None and np.size(ap) else None
    rows = classes_to_plot(class_index, ap)
    box = getattr(metrics, "box", None)
    results = getattr(metrics, "curves_results", None) or getattr(box, "curves_results", None) or []  # 8.3: on .box
    for title, (x, ys, xlabel, ylabel) in zip(curves, results):
        x, ys = np.asarray(x), np.atleast_2d(np.asarray(ys))
        if ys.size == 0 or ys.shape[0] != len(class_index):
            continue
        for row in rows:
            series = _class_name(validator.names, int(class_index[row]))
            points = np.column_stack([x, ys[row]])
            logger.report_scatter2d(title, series, points, iteration=iteration, xaxis=xlabel, yaxis=ylabel)
        points = np.column_stack([x, ys.mean(0)])
        logger.report_scatter2d(title, "all classes", points, iteration=iteration, xaxis=xlabel, yaxis=ylabel)


def class_rows(validator: Any) -> list[dict]:
    """Per-class metrics: Ultralytics' ``summary()``, or (older versions) built from ``class_result``."""
    metrics = validator.metrics
    summary = getattr(metrics, "summary", None)
    if callable(summary):
        return list(summary())
    keys = [k.split("/")[-1] for k in getattr(metrics, "keys", [])]
    rows = []
    for i, c in enumerate(getattr(metrics, "ap_class_index", [])):
        values = [float(v) for v in metrics.class_result(i)]
        rows.append({"Class": _class_name(validator.names, int(c)), **dict(zip(keys, values))})
    return rows


def report_class_table(logger: Any, validator: Any, iteration: int) -> None:
    rows = class_rows(validator)
    if not rows:
        return
    header = list(rows[0].keys())
    table = [header, *[[row.get(k) for k in header] for row in rows]]
    logger.report_table(title=TABLE_TITLE, series="val", iteration=iteration, table_plot=table)


def report_native_plots(logger: Any, validator: Any, iteration: int = 0) -> None:
    """Report the interactive plots of ``validator``'s last run; each one guarded on its own."""
    for what, report in (
        ("the confusion matrix", report_confusion_matrix),
        ("the metric curves", report_curves),
        ("the per-class table", report_class_table),
    ):
        guarded(f"reporting {what}", report, logger, validator, iteration)
