"""Ultralytics' irregular paths through a training (see shared reference ultralytics_8_4.md): what
the Task shows is what results.csv shows, a stop asked for in ClearML holds, and the hyperparameters
show what was trained."""

from __future__ import annotations

import json
import re

import pytest
from conftest import run_python
from expectations import assert_complete, results_rows
from server_task import ServerTask
from test_online import only_task

from yolo_clearml_patch.reporting.upstream_titles import final_eval_has_own_step, metric_title

NAN_EPOCH = 1  # Ultralytics cannot recover at its first epoch


def _nan_recovered(result) -> None:
    result.assert_finished()
    if result.marker("NAN_RECOVERY") != "True":
        pytest.skip("this Ultralytics has no NaN recovery (it came after 8.3.0): no epoch runs twice")
    assert "recovering from last.pt" in result.output, result.output[-3000:]


@pytest.fixture(scope="module")
def nan_run_offline(tmp_path_factory, datasets):
    """One offline training of 3 epochs whose epoch 1 Ultralytics runs twice (NaN recovery)."""
    from conftest import TRAIN_JOB, TRAIN_TIMEOUT, TrainingResult, _strip_env, run_python
    from offline_session import sessions_under

    tmp = tmp_path_factory.mktemp("nan")
    home = tmp / "home"
    home.mkdir()
    env = {**_strip_env(), "HOME": str(home), "MPLBACKEND": "Agg", "YOLO_CLEARML_PATCH_STRICT": "1"}
    env["YOLO_CONFIG_DIR"] = str(home / ".config" / "Ultralytics")
    job = ["-m", "yolo_clearml_patch", str(TRAIN_JOB), "--data", str(datasets["detect"]), "--out", str(tmp / "runs")]
    proc = run_python([*job, "--epochs", "3", "--nan-epoch", str(NAN_EPOCH)], env, cwd=tmp, timeout=TRAIN_TIMEOUT)
    return TrainingResult(proc, sessions_under(home), tmp / "runs" / "detect")


def test_a_repeated_epoch_is_reported_with_the_values_of_the_pass_that_counted(nan_run_offline):
    """NaN recovery at epoch 1: the Task's scalars equal results.csv at every epoch (the discarded
    pass's values are replaced), and nothing else comes twice."""
    _nan_recovered(nan_run_offline)
    assert_complete(nan_run_offline.session, nan_run_offline.run_dir, repeated_epochs=frozenset({NAN_EPOCH}))
    replaced = [k for k in nan_run_offline.session.duplicates() if k[3] == NAN_EPOCH]
    assert replaced, "the discarded pass's values were kept: nothing was reported again"


def test_the_final_validation_has_its_own_step(nan_run_offline):
    """From Ultralytics 8.4.52, on_fit_epoch_end fires once more after the last epoch, with best.pt's
    metrics: reported one iteration after the last epoch, equal to the final single values."""
    nan_run_offline.assert_finished()
    rows = results_rows(nan_run_offline.run_dir)
    session = nan_run_offline.session
    steps = session.scalars(metric_title("metrics/mAP50-95(B)"), "metrics/mAP50-95(B)")
    if not final_eval_has_own_step():
        assert max(steps) == len(rows) - 1, steps
        pytest.skip("this Ultralytics reports the final validation at the last epoch's step")
    assert max(steps) == len(rows), f"no step after the last epoch: {sorted(steps)}"
    assert steps[len(rows)] == pytest.approx(session.single_values()["metrics/mAP50-95(B)"])


CORRUPT = """
import sys
from clearml import Task
task = Task.get_task(task_id=sys.argv[1])
task.get_logger().report_scalar("train", "train/box_loss", 99.0, iteration=int(sys.argv[2]))
task.flush(wait_for_uploads=True)
"""


def test_a_repeated_epoch_online_shows_the_values_of_the_pass_that_counted(train, clearml_server, child_env, tmp_path):
    """Online, the same; and ``sync`` follows the same rule: a value the Task holds that disagrees
    with results.csv (here written over by hand) is replaced by results.csv's."""
    result = train("runner", "detect", "--epochs", "3", "--nan-epoch", str(NAN_EPOCH), env=clearml_server.env())
    _nan_recovered(result)
    task = only_task(clearml_server)
    assert_complete(task, result.run_dir, repeated_epochs=frozenset({NAN_EPOCH}))
    assert task.task["status"] == "completed"

    env = {**child_env, **clearml_server.env()}
    run_python(["-c", CORRUPT, task.task_id, str(NAN_EPOCH)], env, cwd=tmp_path)
    assert task.scalars("train", "train/box_loss")[NAN_EPOCH] == 99.0
    synced = run_python(["-m", "yolo_clearml_patch", "sync", str(result.run_dir)], env, cwd=tmp_path, timeout=180)
    assert synced.returncode == 0, synced.stderr[-3000:]
    expected = results_rows(result.run_dir)[NAN_EPOCH]["train/box_loss"]
    assert task.scalars("train", "train/box_loss")[NAN_EPOCH] == pytest.approx(expected, rel=1e-3)
    assert "): reported 1 scalar;" in synced.stderr, synced.stderr[-3000:]  # only the stale value went again


def _stopped_early(result, task: ServerTask) -> None:
    result.assert_finished()
    assert task.task["status"] == "stopped"
    assert task.stored_models()["detect"] == (result.run_dir / "weights" / "best.pt").read_bytes()


def test_an_abort_during_setup_holds(start_training, clearml_server):
    """The abort arrives while Ultralytics still checks the dataset (the setup is held until then);
    Ultralytics' _setup_train then resets its stop flag, and the stop must hold all the same."""
    running = start_training("runner", "detect", "--epochs", "30", "--hold-setup", env=clearml_server.env())
    running.wait_for_reporting(clearml_server, epochs=0)
    with clearml_server.state.lock:
        (task_id,) = list(clearml_server.state.tasks)
        clearml_server.state.handle_as_ui("tasks.stop", {"task": task_id})
    result = running.finish()
    assert "SETUP_RELEASED stop=True" in result.proc.stdout, result.output[-3000:]  # the abort came during setup
    _stopped_early(result, ServerTask(clearml_server.state, task_id))
    assert running.epochs_done() <= 1, f"the stop did not hold: {running.epochs_done()} of 30 epochs"


def test_an_abort_with_a_time_limit_holds(start_training, clearml_server):
    """With time= every optimizer step assigns Ultralytics' stop flag; an abort must hold anyway,
    and the training end long before its time is up (here 108 s; one optimizer step per batch)."""
    hours = 0.03
    args = ("--time", str(hours), "--batch", "16", "--nbs", "16")
    running = start_training("runner", "detect", *args, env=clearml_server.env())
    running.wait_for_reporting(clearml_server)
    with clearml_server.state.lock:
        (task_id,) = list(clearml_server.state.tasks)
        clearml_server.state.handle_as_ui("tasks.stop", {"task": task_id})
    result = running.finish()
    _stopped_early(result, ServerTask(clearml_server.state, task_id))
    took = re.search(r"epochs completed in ([\d.]+) hours", result.output)
    assert took, result.output[-3000:]
    assert float(took.group(1)) < 0.75 * hours, f"trained {float(took.group(1)) * 3600:.0f} s of {hours * 3600:.0f} s"


def test_the_values_ultralytics_used_are_shown_beside_those_asked_for(train, clearml_server):
    """optimizer=auto (the default): "General" keeps what was asked; "Resolved" shows the optimizer
    and lr0 Ultralytics chose, as its trainer ended up with them."""
    result = train("runner", "detect", "--epochs", "1", env=clearml_server.env())
    result.assert_finished()
    used = json.loads(result.marker("ARGS"))
    task = only_task(clearml_server)
    assert task.hyperparams("General")["optimizer"] == "auto"
    if used["optimizer"] == "auto":
        pytest.skip("this Ultralytics keeps optimizer=auto in its args")
    resolved = task.hyperparams("Resolved")
    assert resolved["optimizer"] == used["optimizer"]
    assert float(resolved["lr0"]) == pytest.approx(used["lr0"])
    assert float(task.hyperparams("General")["lr0"]) != pytest.approx(used["lr0"])
