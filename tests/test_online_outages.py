"""A ClearML server that fails during a real training: train() and the process end within their bounds,
what could not be sent is said, and a server that comes back gets everything, once."""

from __future__ import annotations

import re
import signal
import time

import pytest
from expectations import assert_complete
from server_task import ServerTask
from test_online import only_task

FLUSH = 5.0  # YOLO_CLEARML_FLUSH_TIMEOUT in these tests
MARGIN = 5.0  # scheduling slack on a loaded 2-core machine
SIGTERM_BOUND = 10.0  # the documented bound from SIGTERM to the end of the process


def _env(server) -> dict[str, str]:
    return {**server.env(), "YOLO_CLEARML_FLUSH_TIMEOUT": str(FLUSH), "YOLO_CLEARML_SERVER_TIMEOUT": "3"}


def _held(result) -> float:
    """How long the shim held train() after the training itself ended."""
    return float(result.marker("TRAIN_RETURNED_AT")) - float(result.marker("TRAIN_END_AT"))


def _exit_after_return(result) -> float:
    return result.exited_at - float(result.marker("TRAIN_RETURNED_AT"))


def _assert_says_what_was_not_sent(result, task_id: str) -> None:
    warning = next((line for line in result.output.splitlines() if "did not confirm these" in line), "")
    assert warning, result.output[-4000:]
    assert task_id in warning and str(result.run_dir) in warning
    assert re.search(r"\d+ (scalars?|images?|plots?|models?)", warning), warning
    assert "reported" in result.output and f"({task_id}): reported" in result.output  # the summary line


@pytest.mark.parametrize("fault", ["down", "hang"])
def test_server_dies_or_hangs_after_the_first_epoch(start_training, clearml_server, fault):
    running = start_training("runner", "detect", "--epochs", "8", "--exit-code", "3", env=_env(clearml_server))
    running.wait_for_reporting(clearml_server)
    getattr(clearml_server, fault)()
    result = running.finish()
    assert result.proc.returncode == 3 and "TRAIN_DONE" in result.proc.stdout, result.output[-3000:]  # the user's
    assert _held(result) <= FLUSH + MARGIN
    assert _exit_after_return(result) <= FLUSH + MARGIN
    task = only_task(clearml_server)
    _assert_says_what_was_not_sent(result, task.task_id)
    assert task.duplicates() == {}


def test_server_dies_during_the_model_upload(start_training, clearml_server):
    clearml_server.die_on("models.create")  # registering best.pt at train end is the first model call
    result = start_training("runner", "detect", "--epochs", "2", env=_env(clearml_server)).finish()
    result.assert_finished()
    assert _held(result) <= FLUSH + MARGIN
    assert _exit_after_return(result) <= FLUSH + MARGIN
    task = only_task(clearml_server)
    _assert_says_what_was_not_sent(result, task.task_id)
    assert "1 model" in next(line for line in result.output.splitlines() if "did not confirm these" in line)


def test_503_burst_recovers_and_nothing_is_lost_or_doubled(start_training, clearml_server):
    running = start_training("runner", "detect", "--epochs", "8", env=_env(clearml_server))
    running.wait_for_reporting(clearml_server)
    clearml_server.fail(503, count=4)  # ClearML retries these, with backoff
    result = running.finish()
    result.assert_finished()
    task = only_task(clearml_server)
    assert_complete(task, result.run_dir)
    assert task.task["status"] == "completed"


def test_server_back_within_the_bound_gets_everything_once(start_training, clearml_server):
    # the default bound: ClearML's retries back off (1, 2, 4, 8 s ...) before they see the server again
    env = {**_env(clearml_server), "YOLO_CLEARML_FLUSH_TIMEOUT": "30"}
    running = start_training("runner", "detect", "--epochs", "8", env=env)
    running.wait_for_reporting(clearml_server)
    clearml_server.down()
    time.sleep(2.0)
    clearml_server.up()
    result = running.finish()
    result.assert_finished()
    task = only_task(clearml_server)
    assert_complete(task, result.run_dir)
    assert task.task["status"] == "completed"
    assert "did not confirm" not in result.output


def _sigterm_mid_training(start_training, server, hang: bool):
    running = start_training("runner", "detect", "--epochs", "30", env=_env(server))
    running.wait_for_reporting(server)
    if hang:
        server.hang()
    sent = time.time()
    running.popen.send_signal(signal.SIGTERM)
    result = running.finish(timeout=60)
    return result, result.exited_at - sent


def test_sigterm_mid_training_ends_the_process_and_stops_the_task(start_training, clearml_server):
    result, took = _sigterm_mid_training(start_training, clearml_server, hang=False)
    assert result.proc.returncode == -signal.SIGTERM, result.output[-3000:]
    assert took <= SIGTERM_BOUND
    assert "TRAIN_DONE" not in result.proc.stdout
    assert only_task(clearml_server).task["status"] == "stopped"


def test_sigterm_with_a_hanging_server_still_ends_the_process(start_training, clearml_server):
    result, took = _sigterm_mid_training(start_training, clearml_server, hang=True)
    assert result.proc.returncode == -signal.SIGTERM, result.output[-3000:]
    assert took <= SIGTERM_BOUND


def test_summary_line_online(train, clearml_server):
    result = train("import", "detect", "--epochs", "1", env=clearml_server.env())
    result.assert_finished()
    task = ServerTask(clearml_server.state, only_task(clearml_server).task_id)
    line = next(line for line in result.output.splitlines() if f"({task.task_id}): reported" in line)
    images = len([e for e in task.events if e["type"] == "training_debug_image"])
    assert f"{images} images" in line and "1 model" in line and "results page: http" in line


def test_server_gone_while_the_task_is_created_holds_neither_training_nor_exit(start_training, clearml_server):
    """The server answers the shim's check, then goes as Task.init creates the Task (ClearML retries
    for hours): training goes on, train() returns at once, the process ends within its bound, and the
    shim says how to send the run later."""
    clearml_server.die_on("tasks.create")
    result = start_training("runner", "detect", "--epochs", "2", "--exit-code", "3", env=_env(clearml_server)).finish()
    assert result.proc.returncode == 3 and "TRAIN_DONE" in result.proc.stdout, result.output[-3000:]
    assert _held(result) < FLUSH / 2  # train end does not wait for the Task (it waited the whole bound before)
    assert _exit_after_return(result) <= FLUSH + MARGIN
    assert f"did not create the Task within {FLUSH:g} s" in result.output
    assert f"python -m yolo_clearml_patch sync {result.run_dir}" in result.output


def test_a_task_created_after_the_training_ended_gets_everything(start_training, clearml_server):
    """The server holds the Task's creation unanswered until the training has ended and train() has
    returned: train end does not wait for the Task; what the training reported, its end included, is
    sent once the Task exists, once, and the process ends with everything confirmed."""
    clearml_server.hold_on("tasks.create")
    env = {**_env(clearml_server), "YOLO_CLEARML_FLUSH_TIMEOUT": "60", "YOLO_CLEARML_SERVER_TIMEOUT": "10"}
    training = start_training("runner", "detect", "--epochs", "1", env=env)
    training.wait_for_output("TRAIN_RETURNED_AT=")
    clearml_server.up()  # the held tasks.create is answered now
    result = training.finish()
    result.assert_finished()
    created_at = (result.run_dir / "clearml_task.json").stat().st_mtime  # written once the Task exists
    assert created_at > float(result.marker("TRAIN_END_AT")), "the Task existed before the training ended"
    assert _held(result) < FLUSH / 2  # train() returned at once
    task = only_task(clearml_server)
    assert_complete(task, result.run_dir)
    assert task.task["status"] == "completed"
    assert "did not confirm" not in result.output and "did not create the Task" not in result.output
