"""Cost that must not grow with what the run is: many classes keep every plot event small and the
confusion matrix readable (a real offline Task; Ultralytics' own validator classes, filled in memory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SCRIPTS, run_python
from offline_session import OfflineSession

MAX_PLOT_EVENT = 1_000_000  # bytes: one plot event, at most


def _report(nc: int, child_env: dict, tmp_path: Path) -> OfflineSession:
    env = {**child_env, "CLEARML_OFFLINE_MODE": "1"}
    proc = run_python([str(SCRIPTS / "classes_job.py"), str(nc)], env, cwd=tmp_path, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = next(line[8:] for line in proc.stdout.splitlines() if line.startswith("SESSION="))
    return OfflineSession.load(Path(folder))


def _heatmap(session: OfflineSession) -> tuple[str, dict]:
    [event] = [e for e in session.events if e["type"] == "plot" and e["metric"] == "Confusion Matrix"]
    return event["variant"], json.loads(event["plot_str"])


def test_a_thousand_classes_keep_every_plot_event_small_and_the_matrix_readable(child_env, tmp_path):
    session = _report(1000, child_env, tmp_path)
    plots = [e for e in session.events if e["type"] == "plot"]
    assert plots and max(len(json.dumps(e)) for e in plots) <= MAX_PLOT_EVENT
    series, figure = _heatmap(session)
    trace = figure["data"][0]
    assert series == "val: the 60 most-confused of 1000 classes"
    assert len(trace["x"]) == len(trace["y"]) == 61 and trace["x"][-1] == "background"
    assert "texttemplate" not in trace and "texttemplate" not in figure["layout"]  # no number in 3721 cells
    per_class_series = {e["variant"] for e in plots if e["metric"] == "F1-Confidence(B)"}
    assert len(per_class_series) == 21 and "all classes" in per_class_series  # 20 best classes + all


@pytest.mark.parametrize("nc", [20])
def test_few_classes_keep_the_whole_matrix_with_its_numbers(child_env, tmp_path, nc):
    series, figure = _heatmap(_report(nc, child_env, tmp_path))
    trace = figure["data"][0]
    assert series == "val" and len(trace["x"]) == nc + 1
    assert trace.get("texttemplate") == "%{z}"


def test_the_matrix_keeps_the_most_confused_classes():
    import numpy as np

    from yolo_clearml_patch.reporting.native_plots import most_confused

    matrix = np.diag([50.0] * 7)  # 6 classes and background; rows are predictions, columns the truth
    matrix[2, 5] = 9  # class 5 taken for class 2
    matrix[6, 4] = 7  # class 4 missed (background)
    matrix[1, 3] = 1
    assert most_confused(matrix, nc=6, keep=3) == [2, 4, 5, 6]  # in class order, background kept
    assert most_confused(matrix, nc=6, keep=4) == [1, 2, 4, 5, 6]  # a tie (1 and 3) goes to the lower index
