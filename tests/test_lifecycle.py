"""Several trainings per process: one complete Task each, offline and online; a crash fails its Task;
``yolo train`` subprocesses get Tasks of their own; a user's Task keeps every training, labelled."""

from __future__ import annotations

from pathlib import Path

from conftest import SCRIPTS, TRAIN_TIMEOUT, run_python
from expectations import assert_complete
from offline_session import sessions_under
from server_task import ServerTask

MULTI_JOB = SCRIPTS / "multi_job.py"


def _multi(child_env, datasets, tmp_path, *extra, env=None):
    args = ["-m", "yolo_clearml_patch", str(MULTI_JOB), str(datasets["detect"]), str(tmp_path / "runs"), *extra]
    proc = run_python(args, {**child_env, **(env or {})}, cwd=tmp_path, timeout=2 * TRAIN_TIMEOUT)
    assert proc.returncode == 0 and "TRAIN_DONE" in proc.stdout, (proc.stdout + proc.stderr)[-4000:]
    return proc


def test_three_trainings_in_one_process_get_three_complete_tasks_offline(child_env, datasets, home, tmp_path):
    _multi(child_env, datasets, tmp_path, "--runs", "3")
    sessions = sessions_under(home)
    assert sorted(s.task["name"] for s in sessions) == ["run1", "run2", "run3"]
    for session in sessions:
        assert_complete(session, tmp_path / "runs" / session.task["name"])


def test_two_trainings_online_each_complete_and_a_crash_fails_only_its_task(
    child_env, datasets, tmp_path, clearml_server
):
    proc = _multi(child_env, datasets, tmp_path, "--runs", "3", "--crash", "run2", env=clearml_server.env())
    assert "CRASHED=ValueError" in proc.stdout  # the user's exception, unchanged
    with clearml_server.state.lock:
        tasks = {t["name"]: ServerTask(clearml_server.state, t["id"]) for t in clearml_server.state.tasks.values()}
    assert sorted(tasks) == ["run1", "run2", "run3"]
    for name in ("run1", "run3"):
        assert_complete(tasks[name], tmp_path / "runs" / name)
        assert tasks[name].task["status"] == "completed"
    crashed = tasks["run2"].task
    assert crashed["status"] == "failed"
    logs = [e.get("msg", "") for e in clearml_server.state.logs if e.get("task") == crashed["id"]]
    assert any("ValueError: crashed on purpose" in msg for msg in logs)


def test_cli_subprocesses_get_their_own_tasks(child_env, datasets, home, tmp_path):
    _multi(child_env, datasets, tmp_path, "--runs", "1", "--cli-runs", "2")
    sessions = sessions_under(home)
    assert sorted(s.task["name"] for s in sessions) == ["cli1", "cli2", "run1"]
    for session in sessions:
        assert_complete(session, tmp_path / "runs" / session.task["name"])


def test_a_users_task_keeps_every_training_labelled(child_env, datasets, home, tmp_path):
    proc = _multi(child_env, datasets, tmp_path, "--runs", "2", "--user-task", "--cli-runs", "1")
    session, cli = sorted(sessions_under(home), key=lambda s: s.task["name"] != "user-task")
    assert cli.task["name"] == "cli1"  # a yolo train subprocess gets its own Task, not the user's
    assert session.task["id"] in proc.stdout and session.task["name"] == "user-task"
    assert session.duplicates() == {}
    first, second = session.scalars("train", "train/box_loss"), session.scalars("train", "train/box_loss [run2]")
    assert set(first) == {0, 1} and set(second) == {0}  # run1: 2 epochs, run2: 1 epoch
    assert "results" in session.titles("plot") and "results [run2]" in session.titles("plot")
    models = session.stored_models()
    assert models["run1"] == (tmp_path / "runs" / "run1" / "weights" / "best.pt").read_bytes()
    assert models["run2"] == (tmp_path / "runs" / "run2" / "weights" / "best.pt").read_bytes()


def _labels(model: dict) -> dict:
    return model["init"]["label_enumeration"]


def test_export_and_val_after_training_go_to_its_task_and_fitness_is_reported(child_env, datasets, home, tmp_path):
    proc = _multi(child_env, datasets, tmp_path, "--runs", "1", "--val", "--export")
    (session,) = sessions_under(home)
    map50 = float(next(line[6:] for line in proc.stdout.splitlines() if line.startswith("MAP50=")))
    # in the training's Task, labelled with the validation's run name ("val" on 8.4, the run's on 8.3)
    labelled = {k: v for k, v in session.single_values().items() if k.startswith("metrics/mAP50(B) [")}
    assert len(labelled) == 1 and abs(next(iter(labelled.values())) - map50) < 1e-6, labelled
    exported = Path(next(line[9:] for line in proc.stdout.splitlines() if line.startswith("EXPORTED=")))
    by_name = {m["init"]["name"]: m for m in session.output_models()}
    assert set(by_name) == {"run1", "run1_torchscript"}
    assert session.stored_models()["run1_torchscript"] == exported.read_bytes()
    assert _labels(by_name["run1"]) == _labels(by_name["run1_torchscript"]) == {"rect": 0, "circle": 1}
    assert set(session.scalars("fitness", "fitness")) >= {0, 1}  # the HPO objective, every epoch


def test_export_in_a_new_process_goes_to_the_task_that_trained_the_weights(train, child_env, tmp_path, clearml_server):
    trained = train("runner", "detect", "--epochs", "1", env=clearml_server.env())
    trained.assert_finished()
    (task_id,) = list(clearml_server.state.tasks)
    weights = trained.run_dir / "weights" / "best.pt"
    args = ["-m", "yolo_clearml_patch", str(SCRIPTS / "export_job.py"), str(weights)]
    proc = run_python(args, {**child_env, **clearml_server.env()}, cwd=tmp_path, timeout=TRAIN_TIMEOUT)
    assert proc.returncode == 0 and "EXPORT_DONE" in proc.stdout, proc.stderr[-3000:]
    exported = Path(next(line[9:] for line in proc.stdout.splitlines() if line.startswith("EXPORTED=")))
    assert list(clearml_server.state.tasks) == [task_id]  # no new Task for the export
    model = next(m for m in clearml_server.state.models.values() if m["name"] == "detect_torchscript")
    # ClearML adds no model to a completed Task's list; the model records the Task that created it
    assert model["task"] == task_id and model["labels"] == {"rect": 0, "circle": 1}
    assert ServerTask(clearml_server.state, task_id).file(model["uri"]) == exported.read_bytes()


def test_abort_in_clearml_stops_the_training_gracefully(start_training, clearml_server):
    """The UI's Abort (tasks.stop) mid-training: Ultralytics' own stop, the final validation and the
    models, exit 0, and the Task ends stopped (ClearML's default kills the process with exit 1)."""
    running = start_training("runner", "detect", "--epochs", "60", env=clearml_server.env())
    running.wait_for_reporting(clearml_server)
    with clearml_server.state.lock:
        (task_id,) = list(clearml_server.state.tasks)
        clearml_server.state.handle_as_ui("tasks.stop", {"task": task_id})
    result = running.finish()
    result.assert_finished()
    epochs = running.epochs_done()
    assert epochs < 60, "the training was not stopped"
    task = ServerTask(clearml_server.state, task_id)
    assert task.task["status"] == "stopped"
    assert task.stored_models()["detect"] == (result.run_dir / "weights" / "best.pt").read_bytes()
    assert set(range(epochs)) <= set(task.scalars("Epoch Time", "Epoch Time"))


def _interrupt_then_resume(child_env, datasets, tmp_path, server=None):
    run_env = {**child_env, **(server.env() if server else {})}
    job = ["-m", "yolo_clearml_patch", str(SCRIPTS / "resume_job.py"), str(datasets["detect"]), str(tmp_path / "runs")]
    interrupted = run_python([*job, "interrupt"], run_env, cwd=tmp_path, timeout=TRAIN_TIMEOUT)
    assert interrupted.returncode != 0 and "TRAIN_DONE" not in interrupted.stdout
    if server is not None:  # Ctrl-C (KeyboardInterrupt) in training: the Task is stopped, not failed
        with server.state.lock:
            assert [t["status"] for t in server.state.tasks.values()] == ["stopped"]
    resumed = run_python([*job, "resume"], run_env, cwd=tmp_path, timeout=TRAIN_TIMEOUT)
    assert resumed.returncode == 0 and "TRAIN_DONE" in resumed.stdout, resumed.stderr[-3000:]
    return resumed


def test_resume_continues_the_same_task_online_every_epoch_once(child_env, datasets, tmp_path, clearml_server):
    resumed = _interrupt_then_resume(child_env, datasets, tmp_path, server=clearml_server)
    with clearml_server.state.lock:
        (task_id,) = list(clearml_server.state.tasks)  # one Task, the same id
    assert f"continuing ClearML Task {task_id}" in resumed.stderr
    task = ServerTask(clearml_server.state, task_id)
    run_dir = tmp_path / "runs" / "exp"
    assert_complete(task, run_dir)  # every epoch of results.csv, nothing received twice
    assert task.task["status"] == "completed"


def test_resume_offline_links_the_new_task_to_the_interrupted_one(child_env, datasets, home, tmp_path):
    resumed = _interrupt_then_resume(child_env, datasets, tmp_path)
    first, second = sessions_under(home)
    assert second.task["parent"] == first.task["id"]
    assert f"whose parent is the run's earlier Task {first.task['id']}" in resumed.stderr
    epochs = set(first.scalars("Epoch Time", "Epoch Time")) | set(second.scalars("Epoch Time", "Epoch Time"))
    assert {0, 1, 2, 3} <= epochs and not set(first.scalars("train", "train/box_loss")) & {2, 3}


def test_tune_gets_an_optimizer_task_and_a_child_task_per_iteration(child_env, datasets, home, tmp_path):
    args = ["-m", "yolo_clearml_patch", str(SCRIPTS / "tune_job.py"), str(datasets["detect"]), str(tmp_path / "runs")]
    proc = run_python([*args, "3"], child_env, cwd=tmp_path, timeout=3 * TRAIN_TIMEOUT)
    assert proc.returncode == 0 and "TUNE_DONE" in proc.stdout, (proc.stdout + proc.stderr)[-4000:]
    sessions = sessions_under(home)
    (parent,) = [s for s in sessions if s.task["type"] == "optimizer"]
    children = sorted((s for s in sessions if s is not parent), key=lambda s: s.task["name"])
    assert [c.task["name"] for c in children] == [f"tune iteration {i}" for i in (1, 2, 3)]
    for i, child in enumerate(children, start=1):
        assert child.task["parent"] == parent.task["id"] and f"iteration {i}" in child.task["tags"]
        assert set(child.scalars("fitness", "fitness")) >= {0}  # the objective, per epoch
    fitness = parent.scalars("fitness", "fitness")
    assert set(fitness) == {1, 2, 3}
    assert set(parent.scalars("hyperparameters", "lr0")) == {1, 2, 3}
    best = max(fitness, key=fitness.get)
    assert parent.single_values()["best iteration"] == best and parent.duplicates() == {}
