"""End to end, each fault with real ClearML and real Ultralytics: the run finishes and nothing is lost."""

from __future__ import annotations

import re

import pytest
from expectations import assert_complete
from servers import closed_port_url, configured_env, hanging_server

from yolo_clearml_patch.reporting.upstream_titles import metric_title

SECRET = "s3cr3t-must-not-leak"
BOUND = 3.0  # seconds; YOLO_CLEARML_SERVER_TIMEOUT for these tests


def _waited(output: str) -> float:
    match = re.search(r"did not answer within [\d.]+ s \(waited ([\d.]+) s\)", output)
    assert match, output[-3000:]
    return float(match.group(1))


def _assert_recorded_offline(result) -> None:
    result.assert_finished()
    assert_complete(result.session, result.run_dir)
    summary = next(line for line in result.output.splitlines() if "): reported " in line)
    assert result.session.task["id"] in summary and "offline session" in summary and "scalars" in summary
    archive = re.search(r"Task\.import_offline_session\('([^']+)'\)", summary).group(1)
    assert archive == f"{result.session.folder}.zip"
    assert (result.session.folder.parent / f"{result.session.folder.name}.zip").exists()


@pytest.mark.parametrize("server", ["closed port", "hanging"])
def test_dead_or_hanging_server_falls_back_offline_within_the_bound(train, server):
    env = {"YOLO_CLEARML_SERVER_TIMEOUT": str(BOUND)}
    if server == "closed port":
        result = train("runner", env={**env, **configured_env(closed_port_url(), SECRET)})
    else:
        with hanging_server() as url:
            result = train("runner", env={**env, **configured_env(url, SECRET)})
    _assert_recorded_offline(result)
    assert _waited(result.output) <= BOUND + 0.5
    # credentials are never recorded or printed; the hyperparameters are the trainer args only
    assert SECRET not in (result.session.folder / "task.json").read_text()
    assert SECRET not in result.output
    assert not any(k.upper().startswith("CLEARML") for k in result.session.hyperparams("General"))


def test_no_configuration_records_offline_and_says_so(train):
    result = train("import", "detect", "--epochs", "1")
    _assert_recorded_offline(result)
    assert "ClearML is not configured" in result.output


def test_offline_policy_0_skips_reporting_but_training_finishes(train):
    result = train("pth", "detect", "--epochs", "1", env={"YOLO_CLEARML_OFFLINE": "0"})
    result.assert_finished()
    assert result.sessions == []
    assert "YOLO_CLEARML_OFFLINE=0: this run is not reported" in result.proc.stderr


def test_clearml_missing_warns_once_and_training_finishes(train, tmp_path):
    blocker = tmp_path / "blocker" / "clearml"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('clearml blocked by the test')\n")
    result = train("runner", "detect", "--epochs", "1", env={"PYTHONPATH": str(blocker.parent)})
    result.assert_finished()
    assert result.sessions == []
    assert result.proc.stderr.count("clearml is not installed") == 1


def test_odd_names_many_classes_and_odd_values(train, tmp_path, datasets):
    from synthetic_data import CLASS_NAMES, make_detect_dataset

    names = CLASS_NAMES + tuple(f"класс-{i}" for i in range(298))  # 300 classes
    data = make_detect_dataset(tmp_path / "many", names=names)
    project = "Ünïcode проект/sub"
    extra = ("--data", str(data), "--epochs", "1", "--project", project, "--name", "exp ü/测试", "--odd-metrics")
    result = train("runner", "detect", *extra)
    result.assert_finished()
    # a relative project lands under Ultralytics' runs_dir (8.4) or the working directory (8.3)
    result.run_dir = tmp_path / result.marker("SAVE_DIR")
    assert result.run_dir.parts[-4:] == ("Ünïcode проект", "sub", "exp ü", "测试")
    assert_complete(result.session, result.run_dir)
    assert result.session.task["project_name"] == project and result.session.task["name"] == "测试"
    # a tensor is reported as its number; NaN and inf are skipped (ClearML would store 0), with a warning
    title = metric_title("metrics/tensor")  # "metrics", or "val" on Ultralytics before 8.3.173
    iterations = result.session.scalars(title, "metrics/mAP50(B)")  # 0, and the final eval's (1 since 8.4)
    assert result.session.scalars(title, "metrics/tensor") == dict.fromkeys(iterations, 0.5)
    assert result.session.scalars(title, "metrics/nan") == {} == result.session.scalars(title, "metrics/inf")
    assert f"{title}/metrics/nan = nan is not a finite number" in result.proc.stderr


def test_absolute_project_path_becomes_its_last_folder(train):
    result = train("runner", "detect", "--epochs", "1")
    result.assert_finished()
    assert result.session.task["project_name"] == "runs"  # --out is an absolute path ending in "runs"
