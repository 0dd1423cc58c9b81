"""Trainings sent to a ClearML queue and run by real ``clearml-agent daemon`` processes polling it.

The agents (clearml-agent from PyPI, in a venv of its own) run against the test ClearML server, each
with its own HOME and worker id, told to use this interpreter instead of building a venv per Task.
The training script sits outside any git repository, so ClearML stores it on the Task and the agent
runs that copy. Every daemon and every process it started is killed by PID at the end of its block.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from importlib.metadata import version
from pathlib import Path

import pytest
from agents import AGENT_TIMEOUT, agent_daemon, agent_logs, console, task_ids, user_env, wait_ended
from clearml_api import ClearMLTestServer
from conftest import SCRIPTS, _strip_env, run_python
from expectations import assert_complete, results_rows
from server_task import ServerTask

SEND_TIMEOUT = 120  # s: sending creates the Task and exits before any epoch


@pytest.fixture
def queue(server: ClearMLTestServer, request: pytest.FixtureRequest) -> str:
    """A queue of the test's own: a killed agent stays listed on its queues until its timeout (600 s)."""
    name = "q-" + "".join(c if c.isalnum() else "-" for c in request.node.name)[-40:]
    server.state.handle_as_ui("queues.create", {"name": name})
    return name


@pytest.fixture
def job(tmp_path: Path) -> Path:
    """The training script, copied out of the project's git repository (ClearML then stores its code)."""
    code = tmp_path / "code"
    code.mkdir()
    shutil.copy(SCRIPTS / "train_job.py", code / "train_job.py")
    return code / "train_job.py"


def send(way: str, job: Path, server: ClearMLTestServer, out: Path, datasets, queue: str, *extra: str):
    """Send ``train_job.py`` to ``queue`` turned on one of the three ways; returns (process, new Task id)."""
    env = user_env(server, job.parent / "home")
    args = [str(job), "--data", str(datasets["detect"]), "--out", str(out), "--task", "detect", *extra]
    if way == "runner":
        args = ["-m", "yolo_clearml_patch", "--queue", queue, *args]
    elif way == "import":
        args = [*args, "--queue", queue]  # configure(queue=...) in the script
    elif way == "pth":
        env.update(YOLO_CLEARML_PATCH="1", YOLO_CLEARML_QUEUE=queue)
    before = task_ids(server)
    proc = run_python(args, env, cwd=job.parent, timeout=SEND_TIMEOUT)
    new = task_ids(server) - before
    return proc, (new.pop() if len(new) == 1 else None)


def assert_sent(proc: subprocess.CompletedProcess, task_id: str | None, out: Path, queue: str) -> None:
    """The sending process exited 0 before the first epoch, saying where the Task is and who listens."""
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "TRAIN_DONE" not in proc.stdout, output[-4000:]
    assert task_id is not None, output[-4000:]
    assert not list(out.rglob("results.csv")), "it trained locally"
    assert "ClearML Task page: " in output and task_id in output, output[-3000:]
    assert f"queue {queue!r}" in output


@pytest.mark.parametrize("way", ["runner", "import", "pth"])
def test_a_training_sent_to_a_queue_runs_on_the_agent_into_the_same_task(
    way, clearml_agent, server, queue, job, datasets, tmp_path
):
    """Each way in, with a queue: the local process enqueues and exits 0 before any epoch; an agent
    daemon runs the recorded program under the shim (its queue setting ignored there) and the Task
    holds everything a local online run reports."""
    out = tmp_path / "runs"
    with agent_daemon(clearml_agent, server, tmp_path, f"agent-{way}", queue):
        proc, task_id = send(way, job, server, out, datasets, queue)
        assert_sent(proc, task_id, out, queue)
        assert "1 worker(s) listen on it" in proc.stderr
        task = wait_ended(server, task_id)
    assert task.task["status"] == "completed", console(task)[-4000:]
    assert "TRAIN_DONE" in console(task)
    assert task_ids(server) >= {task_id}
    script = task.task["script"]
    assert script["entry_point"].startswith("-m yolo_clearml_patch train_job.py --data ")
    requirements = script["requirements"]["pip"].replace(" ", "")
    for name in ("yolo-clearml-patch", "ultralytics", "torch"):  # what the agent installs, exact versions
        assert f"{name}=={version(name)}" in requirements.splitlines(), requirements
    assert task.hyperparams()["epochs"] == "2"
    run_dir = out / "detect"
    assert len(results_rows(run_dir)) == 2
    assert_complete(task, run_dir)
    assert task.stored_models()["detect"] == (run_dir / "weights" / "best.pt").read_bytes()
    assert server.state.schema_errors == []


def test_an_edited_clone_enqueued_from_the_ui_trains_with_the_edited_values(
    clearml_agent, server, queue, job, datasets, tmp_path
):
    out = tmp_path / "runs"
    proc, task_id = send("runner", job, server, out, datasets, queue)
    assert_sent(proc, task_id, out, queue)
    assert "no worker listens on it" in proc.stderr  # no agent yet: the Task waits in the queue
    with server.state.lock:
        assert server.state.tasks[task_id]["status"] == "queued"
        server.state.handle_as_ui("tasks.dequeue", {"task": task_id})
    edits = {"epochs": "1", "lr0": "0.005", "optimizer": "SGD"}
    clone = server.state.clone_and_edit(task_id, "General", edits, queue=queue)
    with agent_daemon(clearml_agent, server, tmp_path, "agent-clone", queue):
        edited = wait_ended(server, clone)
    log = console(edited)
    assert edited.task["status"] == "completed", log[-4000:]
    assert '"epochs": 1, "lr0": 0.005' in log and '"optimizer": "SGD"' in log, log[-6000:]
    assert len(results_rows(out / "detect")) == 1
    assert_complete(edited, out / "detect")
    assert server.state.tasks[task_id]["status"] != "completed"  # the original was not run


def test_abort_in_the_ui_stops_the_training_on_the_agent_gracefully(
    clearml_agent, server, queue, job, datasets, tmp_path
):
    """Abort while the agent trains: Ultralytics' own stop, the final validation and the models, then
    the agent marks the Task stopped and ends the process (ClearML's abort on an agent), instead of
    killing it mid-epoch."""
    out = tmp_path / "runs"
    with agent_daemon(clearml_agent, server, tmp_path, "agent-abort", queue):
        proc, task_id = send("runner", job, server, out, datasets, queue, "--epochs", "60")
        assert_sent(proc, task_id, out, queue)
        results = out / "detect" / "results.csv"
        deadline = time.monotonic() + AGENT_TIMEOUT
        while not (results.exists() and len(results.read_text().splitlines()) >= 2):
            assert time.monotonic() < deadline, "the agent did not finish an epoch"
            time.sleep(0.2)
        server.state.handle_as_ui("tasks.stop", {"task": task_id})
        task = wait_ended(server, task_id)
        epochs = len(results_rows(out / "detect"))
    log = console(task)
    assert task.task["status"] == "stopped", log[-4000:]
    assert epochs < 60 and "TRAIN_END_AT=" in log  # Ultralytics' own end of training ran
    assert "TRAIN_DONE" not in log  # ClearML ends the process on an agent after an abort
    assert task.stored_models()["detect"] == (out / "detect" / "weights" / "best.pt").read_bytes()
    assert set(range(epochs)) <= set(task.scalars("Epoch Time", "Epoch Time"))


def test_three_trainings_on_two_agents_run_in_parallel_each_into_its_own_task(
    clearml_agent, server, queue, job, datasets, tmp_path
):
    sent = {}
    for name in ("run-a", "run-b", "run-c"):
        out = tmp_path / f"runs-{name}"
        proc, task_id = send("runner", job, server, out, datasets, queue, "--name", name, "--epochs", "1")
        assert proc.returncode == 0 and task_id is not None, (proc.stdout + proc.stderr)[-9000:]
        sent[task_id] = out / name
    with (
        agent_daemon(clearml_agent, server, tmp_path, "agent-1", queue),
        agent_daemon(clearml_agent, server, tmp_path, "agent-2", queue),
    ):
        tasks = {task_id: wait_ended(server, task_id, 2 * AGENT_TIMEOUT) for task_id in sent}
    workers = set()
    spans = []
    for task_id, task in tasks.items():
        assert task.task["status"] == "completed", console(task)[-3000:]
        assert_complete(task, sent[task_id])  # its own run directory's values, nothing of the others
        assert task.stored_models()[sent[task_id].name] == (sent[task_id] / "weights" / "best.pt").read_bytes()
        workers.add(task.task["last_worker"])
        spans.append((task.task["started"], task.task["completed"]))
    assert workers == {"agent-1", "agent-2"}
    spans.sort()
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:])), f"no overlap: {spans}"


def test_a_missing_queue_is_refused_before_anything_is_created(server, queue, job, datasets, tmp_path):
    out = tmp_path / "runs"
    proc, task_id = send("runner", job, server, out, datasets, "no-such-queue")
    assert proc.returncode != 0 and task_id is None
    assert "ClearML queue 'no-such-queue' does not exist" in proc.stderr and repr(queue) in proc.stderr
    assert not list(out.rglob("results.csv"))


def test_check_reports_the_queue_and_its_workers(clearml_agent, server, queue, tmp_path):
    env = {**user_env(server, tmp_path / "home"), "YOLO_CLEARML_QUEUE": queue}
    check = run_python(["-m", "yolo_clearml_patch", "--check"], env, tmp_path)
    assert f"queue {queue!r}: no worker listens on it" in check.stdout, check.stdout + check.stderr[-3000:]
    with agent_daemon(clearml_agent, server, tmp_path, "agent-check", queue):
        check = run_python(["-m", "yolo_clearml_patch", "--check"], env, tmp_path)
    expected = f"queue {queue!r}: 1 worker(s) listen on it (agent-check)"
    assert expected in check.stdout, check.stdout + check.stderr[-3000:] + agent_logs(server)
    missing = run_python(["-m", "yolo_clearml_patch", "--check"], {**env, "YOLO_CLEARML_QUEUE": "nope"}, tmp_path)
    assert missing.returncode == 1 and "ClearML queue 'nope' does not exist" in missing.stdout


def test_runner_entry_point_keeps_the_program_and_its_arguments():
    from yolo_clearml_patch.clearml_side.remote_launch import runner_entry_point

    assert runner_entry_point(["/abs/train.py", "--name", "a b"], "train.py") == (
        "-m yolo_clearml_patch train.py --name 'a b'"
    )
    assert runner_entry_point(["-m", "pkg.train", "--x"], None) == "-m yolo_clearml_patch -m pkg.train --x"
    assert runner_entry_point(["yolo", "train", "epochs=1"], "yolo") == "-m yolo_clearml_patch yolo train epochs=1"


def test_a_queue_setting_is_read_and_checked(monkeypatch, tmp_path):
    from yolo_clearml_patch.base import settings

    monkeypatch.setenv("YOLO_CLEARML_QUEUE", " gpu ")
    assert settings.queue() == "gpu"
    monkeypatch.setenv("YOLO_CLEARML_QUEUE", "")
    assert settings.queue() is None
    with pytest.raises(settings.ConfigurationError, match=r"configure\(queue=\.\.\.\)"):
        settings.configure(queue=3)
    usage = run_python(["-m", "yolo_clearml_patch", "--queue"], _strip_env(), tmp_path)
    assert usage.returncode == 2 and "--queue needs a queue name" in usage.stderr


def test_a_multi_gpu_training_on_an_agent_reports_into_the_agents_task(
    clearml_agent, server, queue, datasets, tmp_path
):
    """``device="0,1"`` sent to a queue: on the agent, Ultralytics' real DDP launch (simulated on CPUs,
    tests/ddp_sim) starts two workers under the shim; rank 0 reports into the agent's Task."""
    code = tmp_path / "code"
    code.mkdir()
    shutil.copy(SCRIPTS / "ddp_launch.py", code / "ddp_launch.py")
    out = tmp_path / "runs"
    env = user_env(server, code / "home")
    args = [
        "-m",
        "yolo_clearml_patch",
        "--queue",
        queue,
        str(code / "ddp_launch.py"),
        str(datasets["detect"]),
        str(out),
    ]
    before = task_ids(server)
    proc = run_python(args, env, cwd=code, timeout=SEND_TIMEOUT)
    (task_id,) = task_ids(server) - before
    assert_sent(proc, task_id, out, queue)
    sim = {"YOLO_DDP_SIM": "1", "PYTHONPATH": str(Path(__file__).resolve().parent / "ddp_sim")}
    with agent_daemon(clearml_agent, server, tmp_path, "agent-ddp", queue, sim):
        task = wait_ended(server, task_id)
    log = console(task)
    assert task.task["status"] == "completed", log[-4000:] + agent_logs(server)
    assert "DDP_SIM_WORKER rank=0 world=2" in log and "DDP_SIM_WORKER rank=1 world=2" in log
    assert f"LAUNCHER_TASK_ID={task_id}" in log
    if "WORKER_TASK_ID=" in log:  # Ultralytics 8.4 carries the user's callback to the workers
        assert f"WORKER_TASK_ID={task_id}" in log
    assert task_ids(server) - before == {task_id}  # the workers made no Task of their own
    assert_complete(task, out / "detect", plot_links=False)


def test_an_agent_killed_mid_run_leaves_the_task_to_the_servers_watchdog(clearml_agent, job, datasets, tmp_path):
    """SIGKILL to the agent and its training: nobody marks the Task, which shows running until the
    server's non-responsive Tasks watchdog stops it (real default: 7200 s without an update, checked
    every 900 s; shortened here). What reached the server before the kill stays."""
    server = ClearMLTestServer(watchdog_threshold_sec=20, watchdog_interval_sec=1).start()
    try:
        queue = "killed"
        server.state.handle_as_ui("queues.create", {"name": queue})
        out = tmp_path / "runs"
        with agent_daemon(clearml_agent, server, tmp_path, "agent-killed", queue) as log:
            proc, task_id = send("runner", job, server, out, datasets, queue, "--epochs", "60")
            assert_sent(proc, task_id, out, queue)
            task = ServerTask(server.state, task_id)
            reported = server.wait_for(lambda: 0 in task.scalars("Epoch Time", "Epoch Time"), AGENT_TIMEOUT, 0.5)
            assert reported, log.read_text()[-3000:]
        # the block killed the daemon and every process it started (SIGKILL)
        assert task.task["status"] == "in_progress"
        assert any(w["id"] == "agent-killed" for w in server.state.live_workers())  # until its timeout
        assert server.wait_for(lambda: task.task["status"] == "stopped", 60), task.task["status"]
        assert task.task["status_reason"] == "Forced stop (non-responsive)"
        assert 0 in task.scalars("Epoch Time", "Epoch Time")  # what was reported stays
    finally:
        server.stop()
