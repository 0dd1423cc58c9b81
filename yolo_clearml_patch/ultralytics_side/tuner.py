"""``model.tune()``: one parent Task (type ``optimizer``) and a child Task per iteration.

Ultralytics runs each tuning iteration as a ``yolo train`` subprocess (8.3 and 8.4). The parent
process gets an ``optimizer`` Task named after the tune run; before each iteration starts, the
shim puts the parent Task's id and name and the iteration number in the environment, so the
iteration's training creates its own Task named ``<tune run name> iteration <n>``, tagged
``iteration <n>``, whose parent is the optimizer Task (:func:`iteration_placement`, which the
dispatch hands to the Task choice). After each iteration, Ultralytics appends the result to its tune
results file (``tune_results.ndjson`` on 8.4, ``tune_results.csv`` on 8.3) and plots it; the shim
reads the new rows then and reports, at the iteration number: ``fitness``, every mutated
hyperparameter under "hyperparameters", and the best so far as single values.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from ..clearml_side.once_logger import reporter_for
from ..clearml_side.task_choice import task_for
from ..reporting.summary import finish_report

PARENT_VAR = "YOLO_CLEARML_TUNE_PARENT"  # "<optimizer Task id>:<tune run name>"
ITERATION_VAR = "YOLO_CLEARML_TUNE_ITERATION"

_tuning: dict[str, Any] = {}  # the tune run of this process: its reporter and how many rows it reported


def results_rows(path: Path) -> list[dict[str, float]]:
    """The tune results file's rows: ``{"fitness": ..., <hyperparameter>: ...}``, one per iteration."""
    if not path.exists():
        return []
    if path.suffix == ".ndjson":
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [{"fitness": r.get("fitness") or 0.0, **(r.get("hyperparameters") or {})} for r in rows]
    with open(path, newline="") as f:
        return [{k.strip(): float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _results_file(tuner: Any) -> Path:
    return Path(getattr(tuner, "tune_file", None) or tuner.tune_csv)


def on_tune_start(tuner: Any) -> None:
    """Create the optimizer Task and tell the iterations' processes about it."""
    name = Path(tuner.tune_dir).name
    task = task_for(getattr(tuner.args, "project", None), name, task_type="optimizer", fresh=True)
    if task is None:
        return
    out = reporter_for(task, name)
    out.delivery.submit("recording the tuning arguments", task.connect, dict(vars(tuner.args)), "General")
    space = {k: list(v) for k, v in tuner.space.items()}
    out.delivery.submit("recording the search space", task.connect, space, "Search space")
    _tuning.update(out=out, reported=len(results_rows(_results_file(tuner))), tuner=tuner)
    os.environ[PARENT_VAR] = f"{task.id}:{name}"


def before_iteration(tuner: Any) -> None:
    """The next iteration's number (as Ultralytics counts it: results so far + 1), for its process."""
    if _tuning:
        os.environ[ITERATION_VAR] = str(len(results_rows(_results_file(tuner))) + 1)


def on_results(path: Any) -> None:
    """Report the rows Ultralytics added to the tune results file since the last call."""
    out = _tuning.get("out")
    if out is None:
        return
    rows = results_rows(Path(path))
    for iteration, row in enumerate(rows[_tuning["reported"] :], start=_tuning["reported"] + 1):
        out.scalar("fitness", "fitness", row["fitness"], iteration)
        for name, value in row.items():
            if name != "fitness":
                out.scalar("hyperparameters", name, value, iteration)
    _tuning["reported"] = len(rows)


def on_tune_end() -> None:
    """The best iteration as single values; say what the optimizer Task holds; stop naming it."""
    os.environ.pop(PARENT_VAR, None)
    os.environ.pop(ITERATION_VAR, None)
    out, tuner = _tuning.get("out"), _tuning.get("tuner")
    _tuning.clear()
    if out is None:
        return
    rows = results_rows(_results_file(tuner))
    if rows:
        best = max(range(len(rows)), key=lambda i: rows[i]["fitness"])
        out.single("best fitness", rows[best]["fitness"])
        out.single("best iteration", best + 1)
    finish_report(out, tuner.tune_dir)


def iteration_placement() -> dict[str, Any]:
    """In a tuning iteration's process, where its training's Task goes (``task_name``, ``parent``,
    ``tags``, as :class:`~..reporting.training_run.TrainingRun` takes them); elsewhere ``{}``."""
    parent, iteration = os.environ.get(PARENT_VAR, ""), os.environ.get(ITERATION_VAR, "")
    task_id, _, name = parent.partition(":")
    if not (task_id and iteration.isdigit()):
        return {}
    n = int(iteration)
    return {"task_name": f"{name} iteration {n}", "parent": task_id, "tags": (f"iteration {n}",)}
