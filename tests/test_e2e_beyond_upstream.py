"""End to end: interactive plots, checkpoints, standalone validation, the doctor and the yolo CLI."""

from __future__ import annotations

import json

import pytest
from conftest import SCRIPTS, TRAIN_TIMEOUT, TrainingResult, run_python
from expectations import assert_complete
from offline_session import sessions_under
from servers import configured_env, hanging_server
from synthetic_data import CLASS_NAMES


def _assert_interactive_plots(session, run_dir) -> None:
    labels = [*CLASS_NAMES, "background"]
    (heatmap,) = session.plots("Confusion Matrix").values()
    trace = heatmap["data"][0]
    assert trace["type"] == "heatmap" and list(trace["x"]) == labels and list(trace["y"]) == labels
    if not list(run_dir.glob("*PR_curve.png")):
        return  # Ultralytics computed no curves (8.3.x, for a model with no detections yet): nothing to plot
    curves = session.plots("Precision-Recall(B)")
    assert "all classes" in curves and set(curves) <= {*CLASS_NAMES, "all classes"} and len(curves) >= 2
    assert all(fig["data"][0]["type"] == "scatter" for fig in curves.values())
    (table,) = session.plots("Per-class metrics").values()
    cells = json.dumps(table["data"][0])
    assert table["data"][0]["type"] == "table" and any(name in cells for name in CLASS_NAMES)


def test_interactive_plots_and_checkpoints(train):
    result = train("runner", "detect", "--epochs", "3", "--save-period", "1")
    result.assert_finished()
    session = result.session
    assert session.duplicates() == {}
    _assert_interactive_plots(session, result.run_dir)
    models = session.output_models()
    by_name = {m["init"]["name"]: m for m in models}
    assert {f"detect_epoch{i}" for i in range(3)} <= set(by_name), sorted(by_name)
    assert [by_name[f"detect_epoch{i}"]["weights"]["iteration"] for i in range(3)] == [0, 1, 2]
    assert "detect_last" in by_name and "detect" in by_name  # last.pt, and best.pt as the final model
    assert by_name["detect"]["weights"]["weights_filename"].endswith("best.pt")
    assert all(
        (session.folder / "models").joinpath(m["weights"]["weights_filename"].rsplit("/", 1)[1]).exists()
        for m in models
    )


def test_standalone_validation_reports_to_a_testing_task(train, child_env, datasets, home, tmp_path):
    trained = train("runner", "detect", "--epochs", "1")
    trained.assert_finished()
    weights = trained.run_dir / "weights" / "best.pt"
    args = ["-m", "yolo_clearml_patch", str(SCRIPTS / "val_job.py"), str(weights), str(datasets["detect"])]
    proc = run_python([*args, str(tmp_path / "val-runs")], child_env, cwd=tmp_path, timeout=TRAIN_TIMEOUT)
    assert proc.returncode == 0 and "VAL_DONE" in proc.stdout, proc.stderr[-3000:]
    sessions = sessions_under(home)
    assert len(sessions) == 2
    val = next(s for s in sessions if s.task["id"] != trained.session.task["id"])
    assert val.task["type"] == "testing" and val.task["name"] == "val"
    singles = val.single_values()
    assert {"metrics/mAP50(B)", "metrics/mAP50-95(B)"} <= set(singles)
    map50 = float(next(line for line in proc.stdout.splitlines() if line.startswith("MAP50="))[6:])
    assert abs(singles["metrics/mAP50(B)"] - map50) < 1e-6
    assert val.images("Validation") and "confusion_matrix" in val.titles("plot")
    _assert_interactive_plots(val, tmp_path / "val-runs" / "val")
    assert val.duplicates() == {}


def test_yolo_command_line_route(child_env, datasets, home, tmp_path):
    out = tmp_path / "runs"
    cli = ["yolo", "train", "model=yolov8n.yaml", f"data={datasets['detect']}", "epochs=2", "imgsz=64", "batch=8"]
    cli += ["device=cpu", "workers=0", f"project={out}", "name=cli", "exist_ok=True"]
    proc = run_python(["-m", "yolo_clearml_patch", *cli], child_env, cwd=tmp_path, timeout=TRAIN_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = TrainingResult(proc, sessions_under(home), out / "cli")
    assert_complete(result.session, result.run_dir)


def test_remote_edits_reach_the_trainer(child_env, datasets, home, tmp_path):
    edits = {"epochs": 1, "batch": "4", "time": "None", "plots": "False"}
    args = [str(SCRIPTS / "remote_job.py"), str(datasets["detect"]), str(tmp_path / "runs"), json.dumps(edits)]
    env = {**child_env, "YOLO_CLEARML_REMOTE_OVERRIDES": "1"}
    proc = run_python(["-m", "yolo_clearml_patch", *args], env, cwd=tmp_path, timeout=TRAIN_TIMEOUT)
    result = TrainingResult(proc, sessions_under(home), tmp_path / "runs" / "remote")
    result.assert_finished()
    used = json.loads(result.marker("ARGS"))
    assert used == {"epochs": 1, "batch": 4, "time": None, "plots": False, "imgsz": 64}
    rows = (result.run_dir / "results.csv").read_text().strip().splitlines()
    assert len(rows) == 2  # header + one epoch: the edited epochs, not the script's 3
    assert not (result.run_dir / "results.png").exists()  # plots=False took effect
    assert result.session.hyperparams("General")["epochs"] == "1"


def test_invalid_remote_edit_fails_fast_naming_the_parameter(child_env, datasets, tmp_path):
    args = [str(SCRIPTS / "remote_job.py"), str(datasets["detect"]), str(tmp_path / "runs"), '{"epochs": "many"}']
    env = {**child_env, "YOLO_CLEARML_REMOTE_OVERRIDES": "1"}
    proc = run_python(["-m", "yolo_clearml_patch", *args], env, cwd=tmp_path, timeout=TRAIN_TIMEOUT)
    assert proc.returncode == 1 and "TRAIN_DONE" not in proc.stdout
    assert "InvalidRemoteValue: ClearML parameter General/epochs has an invalid value" in proc.stderr
    assert not (tmp_path / "runs" / "remote" / "results.csv").exists()


def _check(child_env, tmp_path, **env):
    return run_python(["-m", "yolo_clearml_patch", "--check"], {**child_env, **env}, cwd=tmp_path)


def test_check_healthy(child_env, tmp_path):
    proc = _check(child_env, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert out.rstrip().endswith("OK: trainings will be reported")
    for name in ("python", "ultralytics", "clearml", "wrapt", ".pth", "YOLO_CLEARML_PATCH", "built-in callback"):
        assert any(line.startswith(name) for line in out.splitlines()), name
    assert "recorded offline" in out and "BaseTrainer.run_callbacks: will be patched" in out


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"YOLO_CLEARML_PATCH": "0"}, "the kill switch is on"),
        ({"YOLO_CLEARML_OFFLINE": "0"}, "NOT reported (YOLO_CLEARML_OFFLINE=0)"),
        ({"YOLO_CLEARML_SERVER_TIMEOUT": "soon"}, "YOLO_CLEARML_SERVER_TIMEOUT='soon'"),
    ],
)
def test_check_broken(child_env, tmp_path, env, problem):
    proc = _check(child_env, tmp_path, **env)
    assert proc.returncode == 1 and "NOT OK" in proc.stdout and problem in proc.stdout, proc.stdout


def test_check_hanging_server(child_env, tmp_path):
    with hanging_server() as url:
        auto = _check(child_env, tmp_path, YOLO_CLEARML_SERVER_TIMEOUT="1", **configured_env(url, "x"))
        never = _check(
            child_env, tmp_path, YOLO_CLEARML_SERVER_TIMEOUT="1", YOLO_CLEARML_OFFLINE="0", **configured_env(url, "x")
        )
    assert auto.returncode == 0 and "does not answer within 1 s: runs are recorded offline" in auto.stdout
    assert never.returncode == 1 and "does not answer within 1 s and YOLO_CLEARML_OFFLINE=0" in never.stdout
