"""Remote execution against the test ClearML server: a Task cloned and edited (as in the UI or by an
HPO optimizer) and run with ``CLEARML_TASK_ID``, the variable clearml-agent sets."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import SCRIPTS, TRAIN_TIMEOUT
from server_task import ServerTask
from test_online import only_task


def _edited_task(train, server, edits: dict[str, str]) -> str:
    """Train once online, then clone that Task and edit its "General" section; the clone's id."""
    first = train("runner", "detect", "--epochs", "2", env=server.env())
    first.assert_finished()
    (first.run_dir / "results.csv").unlink()  # Ultralytics 8.3 appends to it in the same run directory
    return server.state.clone_and_edit(only_task(server).task_id, "General", edits)


def test_agent_run_trains_with_the_edited_values(train, clearml_server):
    task_id = _edited_task(train, clearml_server, {"epochs": "1", "lr0": "0.005", "optimizer": "SGD"})
    result = train("runner", "detect", "--epochs", "2", env={**clearml_server.env(), "CLEARML_TASK_ID": task_id})
    result.assert_finished()
    assert json.loads(result.marker("ARGS"))["epochs"] == 1  # an int, not "1"
    assert json.loads(result.marker("ARGS"))["lr0"] == 0.005
    assert len((result.run_dir / "results.csv").read_text().strip().splitlines()) == 2  # header + 1 epoch
    with clearml_server.state.lock:
        task = clearml_server.state.tasks[task_id]
        assert len(clearml_server.state.tasks) == 2  # the agent's run reported into the edited Task
    assert task["hyperparams"]["General"]["epochs"]["value"] == "1"
    assert any(e.get("task") == task_id for e in clearml_server.state.events.values())


@pytest.mark.parametrize("param", ["time", "patience"])  # a None default, and an int (ClearML casts it)
def test_an_edited_value_is_never_evaluated_and_stops_the_run(train, clearml_server, tmp_path, param):
    marker = tmp_path / "evaluated-on-the-training-machine"
    code = f"__import__('pathlib').Path({str(marker)!r}).write_text('x')"
    task_id = _edited_task(train, clearml_server, {param: code})
    result = train("runner", "detect", env={**clearml_server.env(), "CLEARML_TASK_ID": task_id})
    assert result.proc.returncode == 1 and "TRAIN_DONE" not in result.proc.stdout
    assert f"ClearML parameter General/{param} has an invalid value" in result.proc.stderr
    assert not marker.exists()
    assert not (tmp_path / "runs" / "detect" / "results.csv").exists()  # stopped before training


def test_clearml_agent_execute_runs_the_edited_task(clearml_agent, clearml_server, child_env, datasets, tmp_path):
    """``clearml-agent execute --id`` runs a cloned, edited Task with the shim on (``YOLO_CLEARML_PATCH=1``
    in the agent's environment); the script sits outside any git repository, so ClearML stores it on
    the Task and the agent runs that copy, with this interpreter and no package installs."""
    code = tmp_path / "code"
    code.mkdir()
    shutil.copy(SCRIPTS / "agent_job.py", code / "agent_job.py")
    env = {**child_env, **clearml_server.env(), "YOLO_CLEARML_PATCH": "1"}
    env.update(AGENT_JOB_DATA=str(datasets["detect"]), AGENT_JOB_OUT=str(tmp_path / "runs"))
    first = subprocess.run(
        [sys.executable, "agent_job.py"], env=env, cwd=code, capture_output=True, text=True, timeout=TRAIN_TIMEOUT
    )
    assert first.returncode == 0, first.stderr[-3000:]
    task_id = clearml_server.state.clone_and_edit(
        only_task(clearml_server).task_id, "General", {"epochs": "1", "lr0": "0.005", "optimizer": "SGD"}
    )
    (tmp_path / "runs" / "agent" / "results.csv").unlink()

    agent_env = {**env, "CLEARML_AGENT_SKIP_PIP_VENV_INSTALL": sys.executable}
    agent_env["CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL"] = "1"
    proc = subprocess.run(
        [str(clearml_agent), "execute", "--id", task_id],
        env=agent_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TRAIN_TIMEOUT,
    )
    assert proc.returncode == 0 and "TRAIN_DONE" in proc.stdout, (proc.stdout + proc.stderr)[-4000:]
    args = json.loads(next(line[5:] for line in proc.stdout.splitlines() if line.startswith("ARGS=")))
    assert (args["epochs"], args["lr0"], args["optimizer"]) == (1, 0.005, "SGD")
    assert len((tmp_path / "runs" / "agent" / "results.csv").read_text().strip().splitlines()) == 2
    edited = ServerTask(clearml_server.state, task_id)
    assert edited.task["status"] == "completed"  # the agent marks it
    assert edited.stored_models()["agent"] == (tmp_path / "runs" / "agent" / "weights" / "best.pt").read_bytes()
    assert 0 in edited.scalars("Epoch Time", "Epoch Time")
