"""``yolo-clearml optimize``: a hyperparameter search with ClearML's own optimizer, its trials run by
two real ``clearml-agent daemon`` processes against the test ClearML server.

The base Task is a local online training under the shim (its script does not import the shim, so the
search's template makes the agents run it through the shim's runner). Every trial's values are
checked against the ``args.yaml`` Ultralytics wrote in that trial's own run directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from agents import agent_daemon, console, task_ids, user_env
from conftest import SCRIPTS, run_python
from server_task import ServerTask

SEARCH_TIMEOUT = 900  # s: 4 one-epoch trials, 2 at a time, take ~2 min on 2 cores


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("optimize")


@pytest.fixture(scope="module")
def base_task(server, workdir, datasets) -> str:
    """A one-epoch training run here, online, under the shim's runner: the search's base Task."""
    code = workdir / "code"
    code.mkdir()
    shutil.copy(SCRIPTS / "train_job.py", code / "train_job.py")
    env = user_env(server, workdir / "home")
    before = task_ids(server)
    args = ["-m", "yolo_clearml_patch", "train_job.py", "--data", str(datasets["detect"]), "--out", "runs"]
    proc = run_python([*args, "--epochs", "1"], env, cwd=code, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    (task_id,) = task_ids(server) - before
    return task_id


@pytest.fixture(scope="module")
def agents(clearml_agent, server, workdir) -> Iterator[str]:
    """Two agent daemons on one queue, for the whole module, each its own machine: Ultralytics' runs
    directory (where a relative ``project`` goes) in its own home."""
    name = "optimize"
    server.state.handle_as_ui("queues.create", {"name": name})
    for agent in ("opt-agent-1", "opt-agent-2"):
        home = workdir / f"agent-{agent}"
        code = "import sys; from ultralytics.utils import SETTINGS; SETTINGS.update(runs_dir=sys.argv[1])"
        made = run_python(["-c", code, str(home / "runs")], user_env(server, home), cwd=workdir)
        assert made.returncode == 0, made.stderr[-2000:]
    with (
        agent_daemon(clearml_agent, server, workdir, "opt-agent-1", name),
        agent_daemon(clearml_agent, server, workdir, "opt-agent-2", name),
    ):
        yield name


def optimize(server, workdir, *args: str, timeout: float = SEARCH_TIMEOUT) -> subprocess.CompletedProcess:
    env = user_env(server, workdir / "home")
    return run_python(["-m", "yolo_clearml_patch", "optimize", *args], env, cwd=workdir, timeout=timeout)


def children(server, parent: str) -> list[ServerTask]:
    with server.state.lock:
        ids = [t["id"] for t in server.state.tasks.values() if t.get("parent") == parent]
    return [ServerTask(server.state, i) for i in ids]


def new_task(server, before: set[str], task_type: str) -> ServerTask:
    with server.state.lock:
        (found,) = [i for i in task_ids(server) - before if server.state.tasks[i].get("type") == task_type]
    return ServerTask(server.state, found)


def trial_run_dirs(workdir: Path) -> dict[str, Path]:
    """Each trial's run directory, by its Task id (the shim's record in the run directory)."""
    found = {}
    for record in workdir.rglob("clearml_task.json"):
        found[json.loads(record.read_text())["task_id"]] = record.parent
    return found


def trial_logs(server, before: set[str]) -> str:
    """The new Tasks' status and console tails, for a failure's message."""
    out = []
    for task_id in task_ids(server) - before:
        task = ServerTask(server.state, task_id)
        out.append(f"--- {task_id} {task.task['name']} {task.task['status']} {task.task.get('status_message')}")
        out.append(console(task)[-1500:])
    return "\n".join(out)


def last_value(task: ServerTask, title: str, series: str) -> float:
    """A scalar's last value, as the server keeps it for the Task (what the optimizer reads)."""
    last = [v for m in task.task.get("last_metrics", {}).values() for v in m.values()]
    (value,) = [v["value"] for v in last if v["metric"] == title and v["variant"] == series]
    return value


def assert_search(
    server, workdir, proc, before, keys: set[str], trials: int = 4, objective=("fitness", "fitness", "max")
) -> tuple[ServerTask, list]:
    """The optimizer Task and its trials, as a user checks them after a search."""
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:] + trial_logs(server, before)
    optimizer = new_task(server, before, "optimizer")
    assert optimizer.task["status"] == "completed"
    trial_tasks = [t for t in children(server, optimizer.task_id) if "optimization" in t.task.get("tags", [])]
    assert len(trial_tasks) == trials, [t.task["name"] for t in trial_tasks]
    runs = trial_run_dirs(workdir)
    objectives = {}
    for trial in trial_tasks:
        assert trial.task["status"] == "completed", trial.task.get("status_message")
        general = trial.hyperparams()
        trained = yaml.safe_load((runs[trial.task_id] / "args.yaml").read_text())
        for key in keys:  # the trial trained with exactly the values the optimizer set in it
            assert trained[key] == type(trained[key])(general[key]), (key, trained[key], general[key])
        assert trained["epochs"] == 1 and trained["exist_ok"] is False
        objectives[trial.task_id] = last_value(trial, *objective[:2])
    assert len({tuple(t.hyperparams()[k] for k in sorted(keys)) for t in trial_tasks}) == trials  # all different
    best_id = (max if objective[2] == "max" else min)(objectives, key=objectives.get)
    assert f"best trial: {best_id}" in output, output[-3000:]
    per_trial = optimizer.scalars("objective", "trial")
    assert sorted(per_trial.values()) == sorted(objectives.values())
    best_so_far = optimizer.scalars("objective", "best so far")
    assert best_so_far[max(best_so_far)] == objectives[best_id]  # the last point: the best of all
    assert optimizer.hyperparams("Best")["trial"] == best_id
    return optimizer, trial_tasks


def test_a_search_over_two_agents_gives_separate_correct_trials_and_the_best(
    server, agents, base_task, workdir, datasets
):
    """Ultralytics' default space, Optuna, 4 one-epoch trials 2 at a time on two agents: each trial
    trains with exactly its own values; the reported best is the maximum; its YAML trains."""
    entry = ServerTask(server.state, base_task).task["script"]["entry_point"]  # a clone runs with the shim on
    assert entry.startswith("-m yolo_clearml_patch train_job.py --data "), entry
    before = task_ids(server)
    out = workdir / "best.yaml"
    proc = optimize(server, workdir, "--task", base_task, "--queue", agents, "--trials", "4", "--concurrent", "2",
                    "--epochs", "1", "--seed", "3", "--poll", "2", "--out", str(out))  # fmt: skip
    assert "strategy: Optuna" in proc.stdout
    from yolo_clearml_patch.ultralytics_side.search_space import default_space

    keys = set(default_space())
    optimizer, trials = assert_search(server, workdir, proc, before, keys)
    workers = {t.task["last_worker"] for t in trials}
    assert workers == {"opt-agent-1", "opt-agent-2"}
    spans = sorted((t.task["started"], t.task["completed"]) for t in trials)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:])), f"no overlap: {spans}"
    # optimizer=auto in the base Task, lr0 and momentum searched: auto's choice pinned
    assert "optimizer=auto, which ignores lr0 and momentum" in proc.stderr
    assert {t.hyperparams()["optimizer"] for t in trials} == {"AdamW"}
    # the best values train, as Ultralytics' cfg=
    best = yaml.safe_load(out.read_text())
    assert set(best) == keys | {"optimizer", "warmup_bias_lr"}
    best_trial = next(t for t in trials if t.task_id == optimizer.hyperparams("Best")["trial"])
    assert all(best[k] == type(best[k])(best_trial.hyperparams()[k]) for k in keys)
    table = json.dumps(optimizer.plots("trials"))  # all trials' values and objectives, one table
    assert all(t.task_id in table for t in trials), table[:2000]
    train = run_python(
        ["-c", "import yolo_clearml_patch, sys; from ultralytics import YOLO;"
         " YOLO('yolov8n.yaml').train(cfg=sys.argv[1], data=sys.argv[2],"
         " epochs=1, imgsz=32, batch=8, workers=0, device='cpu', project=sys.argv[3], name='best', plots=False)",
         str(out), str(datasets["detect"]), str(workdir / "best-run")],
        {**user_env(server, workdir / "home"), "CLEARML_OFFLINE_MODE": "1"}, cwd=workdir, timeout=300,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr[-3000:]
    trained = yaml.safe_load((workdir / "best-run" / "best" / "args.yaml").read_text())
    assert all(trained[k] == best[k] for k in best)


def test_a_small_space_with_random_search_changes_only_its_keys(server, agents, base_task, workdir):
    """``--space`` (model.tune's format) and ClearML's random search: only those keys vary, every
    other arg is the base Task's."""
    space = workdir / "space.yaml"
    space.write_text("lrf: [0.05, 0.5]\nbox: [1.0, 20.0, 0.5]\nclose_mosaic: [0, 3]\n")
    before = task_ids(server)
    proc = optimize(server, workdir, "--task", base_task, "--queue", agents, "--space", str(space), "--trials", "2",
                    "--concurrent", "2", "--epochs", "1", "--strategy", "random", "--poll", "2",
                    "--objective", "train/box_loss:min", "--out", str(workdir / "small.yaml"))  # fmt: skip
    assert "strategy: random search" in proc.stdout, proc.stdout[-3000:]
    optimizer, trials = assert_search(server, workdir, proc, before, {"lrf", "box", "close_mosaic"}, trials=2,
                                      objective=("train", "train/box_loss", "min"))  # fmt: skip
    assert len({last_value(t, "train", "train/box_loss") for t in trials}) > 1  # a real choice of the best
    base = ServerTask(server.state, base_task).hyperparams()
    for trial in trials:
        values = trial.hyperparams()
        changed = {k for k in base if values.get(k) != base[k]}
        assert changed <= {"lrf", "box", "close_mosaic", "epochs", "exist_ok"}, changed
        assert 0 <= int(values["close_mosaic"]) <= 3 and 0.05 <= float(values["lrf"]) <= 0.5
    assert "optimizer=auto" not in proc.stderr  # neither lr0 nor momentum searched: nothing pinned
    assert set(yaml.safe_load((workdir / "small.yaml").read_text())) == {"lrf", "box", "close_mosaic"}


@pytest.fixture(scope="module")
def idle_queue(server) -> str:
    """A queue no agent listens on."""
    server.state.handle_as_ui("queues.create", {"name": "idle"})
    return "idle"


def _ctrl_c_as_in_a_terminal() -> None:
    """In the child: SIGINT's default action, as in a terminal. A shell that starts the test run in
    the background (no job control) ignores SIGINT, and every child inherits that: then Python raises
    no KeyboardInterrupt and the Ctrl-C under test would never arrive."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def optimize_running(server, workdir, *args: str) -> Iterator[subprocess.Popen]:
    """``optimize`` in the background (its own process group, killed by PID at the end)."""
    env = user_env(server, workdir / "home")
    cmd = [sys.executable, "-m", "yolo_clearml_patch", "optimize", *args]
    popen = subprocess.Popen(cmd, env=env, cwd=str(workdir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True, preexec_fn=_ctrl_c_as_in_a_terminal)  # fmt: skip
    try:
        yield popen
    finally:
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(10)


def interrupt(popen: subprocess.Popen, timeout: float = 300) -> str:
    """Ctrl-C (SIGINT to the process), then its output once it exits."""
    popen.send_signal(signal.SIGINT)
    output, _ = popen.communicate(timeout=timeout)
    return output


def test_ctrl_c_aborts_running_trials_gracefully_and_leaves_the_optimizer_stopped(server, agents, base_task, workdir):
    before = task_ids(server)
    args = ["--task", base_task, "--queue", agents, "--trials", "4", "--concurrent", "2", "--epochs", "40",
            "--poll", "2", "--out", str(workdir / "interrupted.yaml")]  # fmt: skip
    with optimize_running(server, workdir, *args) as popen:

        def trial_started() -> bool:  # as early as it gets: an agent just began the trial, it is still setting up
            new = [server.state.tasks[i] for i in task_ids(server) - before]
            return any(t["status"] == "in_progress" and t.get("parent") for t in new)

        assert server.wait_for(trial_started, SEARCH_TIMEOUT, interval=0.2), trial_logs(server, before)
        interrupted_at = time.time()
        output = interrupt(popen)
    assert popen.returncode == 130, output[-5000:]
    assert "stopping the search" in output
    optimizer = new_task(server, before, "optimizer")
    assert optimizer.task["status"] == "stopped", output[-3000:]
    trials = [t for t in children(server, optimizer.task_id) if "optimization" in t.task.get("tags", [])]
    statuses = [t.task["status"] for t in trials]
    assert not {"queued", "in_progress"} & set(statuses), statuses  # nothing left running or waiting
    aborted = [t for t in trials if t.task["status"] == "stopped" and t.task.get("started")]  # ran on an agent
    assert aborted, statuses
    for trial in aborted:  # Ultralytics' own end of training ran: final validation, models
        log = console(trial)
        assert "TRAIN_END_AT=" in log and trial.stored_models(), log[-3000:]
        assert len(trial.scalars("fitness", "fitness")) < 40
    created_after = [t for t in trials if datetime.fromisoformat(t.task["created"]).timestamp() > interrupted_at + 1]
    assert not created_after, [t.task["name"] for t in created_after]  # no trial launched after Ctrl-C
    table = json.dumps(optimizer.plots("trials"))  # the table of what the search has, on the stopped Task
    assert all(t.task_id in table for t in trials), output[-3000:]


@pytest.mark.parametrize(
    "args, space, message",
    [
        (["--task", "0" * 32], None, "no ClearML Task '" + "0" * 32 + "'"),
        (["--task", "NOT-YOLO"], None, "is not a YOLO training"),
        ([], "lr00: [0.001, 0.01]\n", "'lr00' is not an Ultralytics arg"),
        ([], "lr0: [0.01, 0.001]\n", "the range [0.01, 0.001] is empty"),
        ([], "close_mosaic: [0.2, 0.8]\n", "holds no integer"),
        ([], "optimizer: [0, 1]\n", "'optimizer' does not take a number"),
        (["--objective", "metrics/nope"], None, "is not a scalar of the base Task; it reports: "),
        (["--trials", "0"], None, "--trials must be 1 or more"),
        (["--queue", "no-such-queue"], None, "ClearML queue 'no-such-queue' does not exist"),
    ],
)
def test_bad_input_is_refused_before_anything_is_created(args, space, message, server, base_task, idle_queue, workdir):
    if "NOT-YOLO" in args:  # a Task that exists but is no YOLO training
        created = server.state.handle_as_ui("tasks.create", {"name": "not yolo", "type": "training"})
        args = ["--task", created["id"]]
    given = dict(zip(args[::2], args[1::2]))
    full = {"--task": base_task, "--queue": idle_queue, "--out": str(workdir / "bad.yaml"), **given}
    if space:
        (workdir / "bad_space.yaml").write_text(space)
        full["--space"] = str(workdir / "bad_space.yaml")
    before = task_ids(server)
    proc = optimize(server, workdir, *[x for kv in full.items() for x in kv], timeout=120)
    assert proc.returncode == 2, (proc.stdout + proc.stderr)[-3000:]
    assert message in proc.stderr, proc.stderr[-3000:]
    assert task_ids(server) == before and not (workdir / "bad.yaml").exists()


def test_a_queue_without_workers_is_said_and_ctrl_c_dequeues_the_waiting_trials(server, base_task, idle_queue, workdir):
    before = task_ids(server)
    args = ["--task", base_task, "--queue", idle_queue, "--trials", "2", "--poll", "1"]
    with optimize_running(server, workdir, *args) as popen:

        def queued() -> list:
            return [i for i in task_ids(server) - before if server.state.tasks[i]["status"] == "queued"]

        assert server.wait_for(lambda: len(queued()) == 2, 120, interval=0.5), trial_logs(server, before)
        output = interrupt(popen, 120)
    assert "no clearml-agent listens on queue 'idle': the trials wait there until one does" in output
    assert popen.returncode == 130, output[-3000:]
    optimizer = new_task(server, before, "optimizer")
    assert optimizer.task["status"] == "stopped"
    trials = [t for t in children(server, optimizer.task_id) if "optimization" in t.task.get("tags", [])]
    assert len(trials) == 2 and {t.task["status"] for t in trials} == {"stopped"}  # dequeued, never ran
    assert not any(t.task.get("started") for t in trials)
    assert server.state.queue_by_name(idle_queue).get("entries") == []


def test_clearml_param_search_runs_unchanged_on_a_base_task_of_the_shim(server, agents, base_task, workdir):
    """ClearML's own command line tool, pointed at the shim's base Task: trials run with the shim on
    the agents and train with their values."""
    before = task_ids(server)
    tool = Path(sys.executable).parent / "clearml-param-search"
    cmd = [str(tool), "--task-id", base_task, "--queue", agents, "--project-name", "param-search",
           "--params-search", '{"name": "lrf", "type": "UniformParameterRange", "min_value": 0.05, "max_value": 0.5}',
           "--params-override", '{"name": "epochs", "value": 1}', '{"name": "exist_ok", "value": false}',
           "--objective-metric-title", "fitness", "--objective-metric-series", "fitness",
           "--objective-metric-sign", "max", "--optimizer-class", "RandomSearch", "--total-max-jobs", "2",
           "--max-number-of-concurrent-tasks", "2", "--pool-period-min", "0.05"]  # fmt: skip
    home = workdir / "param-search-home"
    env = user_env(server, home)
    # ClearML's forked reporting process shares the parent's pooled connections and can stall a request
    # for the SDK's 300 s read timeout (seen here too): the user's ClearML setting that reports from threads
    (home / "clearml.conf").write_text("sdk { development { report_use_subprocess: false } }\n")
    proc = subprocess.run(cmd, env=env, cwd=str(workdir), capture_output=True, text=True, timeout=SEARCH_TIMEOUT)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    optimizer = new_task(server, before, "optimizer")
    trials = [t for t in children(server, optimizer.task_id) if "optimization" in t.task.get("tags", [])]
    assert len(trials) == 2, trial_logs(server, before)
    runs = trial_run_dirs(workdir)
    for trial in trials:
        assert trial.task["status"] == "completed", console(trial)[-3000:]
        trained = yaml.safe_load((runs[trial.task_id] / "args.yaml").read_text())
        assert trained["lrf"] == float(trial.hyperparams()["lrf"]) and trained["epochs"] == 1
        assert trial.scalars("fitness", "fitness")
