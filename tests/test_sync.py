"""``yolo-clearml sync``: run directories trained without ClearML become complete ClearML Tasks, offline
and on the test ClearML server; an outage-cut Task is completed by the command the shim prints; a
second sync adds nothing; bad input is refused and touches nothing."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import sys
from pathlib import Path

import pytest
from conftest import TRAIN_TIMEOUT, _job, run_python
from expectations import assert_complete, results_rows
from offline_session import SINGLE_VALUE_ITER, sessions_under
from server_task import ServerTask
from test_online import only_task

SYNC_TIMEOUT = 180  # seconds; a sync of a tiny run takes a few seconds
RECORD = "clearml_task.json"


@pytest.fixture(scope="module")
def plain_run(datasets, tmp_path_factory) -> Path:
    """A 2-epoch detection run trained with no ClearML at all (the shim off, clearml never imported)."""
    from conftest import _strip_env

    root = tmp_path_factory.mktemp("plain")
    env = {**_strip_env(), "HOME": str(root), "MPLBACKEND": "Agg", "YOLO_CONFIG_DIR": str(root / "cfg")}
    args = _job("none", "detect", ("--epochs", "2"), env, datasets, root / "runs")
    proc = run_python(args, env, cwd=root, timeout=TRAIN_TIMEOUT)
    assert proc.returncode == 0 and "TRAIN_DONE" in proc.stdout, proc.stderr[-3000:]
    run_dir = root / "runs" / "detect"
    assert not (run_dir / RECORD).exists()
    return run_dir


@pytest.fixture
def run_dir(plain_run, tmp_path) -> Path:
    """A fresh copy of the plain run, for one test to sync or damage (named as the original)."""
    copy = tmp_path / "copies" / plain_run.name
    shutil.copytree(plain_run, copy)
    return copy


def sync(args: list[str], env: dict, cwd: Path) -> object:
    return run_python(["-m", "yolo_clearml_patch", "sync", *args], env, cwd=cwd, timeout=SYNC_TIMEOUT)


def _offline(child_env) -> dict:
    return {**child_env, "CLEARML_OFFLINE_MODE": "1"}


def test_sync_offline_gives_everything_a_live_run_has(run_dir, child_env, home, tmp_path):
    proc = sync([str(run_dir)], _offline(child_env), tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [session] = sessions_under(home)
    assert_complete(session, run_dir, synced=True)
    record = json.loads((run_dir / RECORD).read_text())
    assert record["task_id"] == session.task["id"] and record["server"] is None
    assert "Import it into a ClearML server with" in proc.stderr

    again = sync([str(run_dir)], _offline(child_env), tmp_path)  # idempotent: the same session, nothing new
    assert again.returncode == 0 and "nothing to do" in again.stderr, again.stderr[-3000:]
    assert len(sessions_under(home)) == 1


def test_synced_and_live_runs_hold_the_same_events(train, child_env, home, tmp_path):
    """A dashboard cannot tell them apart: the same titles, series and iterations, except what the
    README lists as beyond a run directory (fitness per epoch, the interactive plots, inference speed,
    each validation's worst images and per-class metrics, and with Ultralytics 8.3 the epoch times)."""
    live = train("runner", "detect", "--epochs", "2")
    live.assert_finished()
    copy = tmp_path / "copy" / live.run_dir.name
    shutil.copytree(live.run_dir, copy)
    (copy / RECORD).unlink()  # as if it had been trained without the shim
    proc = sync([str(copy)], _offline(child_env), tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    live_session, synced = sessions_under(home)

    def keys(session):
        return {
            (e["type"], e["metric"], e["variant"], e["iter"])
            for e in session.events
            if e["type"] != "log" and not (e["type"] == "plot" and e["variant"] != "plot image")
        }

    beyond_a_directory = {
        k
        for k in keys(live_session)
        if k[1] in {"fitness", "Worst images"}
        or k[1].startswith("per-class ")
        or (k[2] == "model/speed_PyTorch(ms)" and k[3] == SINGLE_VALUE_ITER)
    }
    if "time" not in results_rows(copy)[0]:  # Ultralytics 8.3's results.csv has no time column
        beyond_a_directory |= {k for k in keys(live_session) if k[1] == "Epoch Time"}
    assert keys(synced) == keys(live_session) - beyond_a_directory
    assert synced.hyperparams("General") == live_session.hyperparams("General")
    assert synced.stored_models() == live_session.stored_models()
    assert synced.task["name"] == live_session.task["name"] and synced.task["type"] == "training"


def test_sync_into_the_server_and_again_adds_nothing(run_dir, child_env, clearml_server, tmp_path):
    env = {**child_env, **clearml_server.env()}
    proc = sync([str(run_dir)], env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    task = only_task(clearml_server)
    assert_complete(task, run_dir, synced=True)  # everything once, best.pt byte-identical on the file server
    assert task.task["status"] == "completed" and task.task["name"] == run_dir.name
    assert "Args" not in task.task["hyperparams"]  # the sync process's own arguments are not the training's
    assert json.loads((run_dir / RECORD).read_text())["task_id"] == task.task_id
    received, models = sum(clearml_server.state.event_receipts.values()), len(clearml_server.state.models)

    again = sync([str(run_dir)], env, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert only_task(clearml_server).task_id == task.task_id  # no second Task
    assert sum(clearml_server.state.event_receipts.values()) == received  # no event sent again
    assert len(task.task["models"]["output"]) == 1 and len(clearml_server.state.models) == models  # no model again

    # what sync reads back is all the Task holds, also when the server pages it (by iteration)
    held = {(e["type"], e["metric"], e["variant"], e["iter"]) for e in task.events if e["type"] != "log"}
    plots = {(e["metric"],) for e in task.events if e["type"] == "plot"}  # one key per plot title
    job = [str(Path(__file__).parent / "scripts" / "holdings_job.py"), task.task_id, "--page", "7"]
    paged = run_python(job, env, cwd=tmp_path)
    assert f"HELD_EVENTS={len(held) - sum(1 for k in held if k[0] == 'plot') + len(plots)}" in paged.stdout, (
        paged.stderr
    )
    assert f"HELD_MODELS={[run_dir.name]}" in paged.stdout
    assert clearml_server.state.schema_errors == []


def test_outage_cut_task_is_completed_by_the_printed_command(start_training, clearml_server, child_env, tmp_path):
    server_env = {**clearml_server.env(), "YOLO_CLEARML_FLUSH_TIMEOUT": "3", "YOLO_CLEARML_SERVER_TIMEOUT": "3"}
    running = start_training("runner", "detect", "--epochs", "8", env=server_env)
    running.wait_for_reporting(clearml_server)
    clearml_server.down()
    result = running.finish()
    result.assert_finished()
    clearml_server.up()
    task = only_task(clearml_server)
    assert not set(range(8)) <= set(task.scalars("Epoch Time", "Epoch Time"))  # the outage cut it short
    command = re.search(r"complete the Task with: (python -m yolo_clearml_patch sync .+ --task \w+)", result.output)
    assert command, result.output[-4000:]
    argv = shlex.split(command.group(1))
    assert argv[-1] == task.task_id

    proc = run_python(argv[1:], {**child_env, **clearml_server.env()}, cwd=tmp_path, timeout=SYNC_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert only_task(clearml_server).task_id == task.task_id
    assert_complete(task, result.run_dir, synced=True)  # every epoch, once
    assert task.task["status"] == "completed"


def test_an_interrupted_run_warns_and_its_task_ends_stopped(start_training, clearml_server, child_env, tmp_path):
    running = start_training("none", "detect", "--epochs", "30")
    running.wait_for_epochs(2)
    running.popen.send_signal(signal.SIGKILL)
    running.popen.wait(30)
    proc = sync([str(running.run_dir)], {**child_env, **clearml_server.env()}, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "may still be going" in proc.stderr
    task = only_task(clearml_server)
    assert task.task["status"] == "stopped"
    rows = len((running.run_dir / "results.csv").read_text().strip().splitlines()) - 1
    assert set(task.scalars("train", "train/box_loss")) == set(range(rows))


def test_many_run_directories_in_one_command(plain_run, child_env, clearml_server, tmp_path):
    copies = []
    for parent in ("first", "second"):
        copies.append(tmp_path / parent / plain_run.name)
        shutil.copytree(plain_run, copies[-1])
    proc = sync([*map(str, copies), "--project", "backfill"], {**child_env, **clearml_server.env()}, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = clearml_server.state
    assert len(state.tasks) == 2 and {p["name"] for p in state.projects.values()} == {"backfill"}
    for copy in copies:
        task_id = json.loads((copy / RECORD).read_text())["task_id"]
        task = ServerTask(state, task_id)
        assert task.task["status"] == "completed"
        assert_complete(task, copy, synced=True)


def test_a_published_task_is_refused(run_dir, child_env, clearml_server, tmp_path):
    env = {**child_env, **clearml_server.env()}
    assert sync([str(run_dir)], env, tmp_path).returncode == 0
    task = only_task(clearml_server)
    clearml_server.state.handle_as_ui("tasks.publish", {"task": task.task_id})  # the UI's Publish
    received = sum(clearml_server.state.event_receipts.values())
    proc = sync([str(run_dir), "--task", task.task_id], env, tmp_path)
    assert proc.returncode == 2 and "is published" in proc.stderr, proc.stderr[-3000:]
    assert sum(clearml_server.state.event_receipts.values()) == received and task.task["status"] == "published"


def _damage(run_dir: Path, how: str) -> str:
    """Damage the copy ``how``; returns what the error must say."""
    if how == "not a run directory":
        (run_dir / "args.yaml").unlink()
        return "not an Ultralytics run directory"
    if how == "results.csv missing":
        (run_dir / "results.csv").unlink()
        return "no results.csv"
    if how == "results.csv truncated":
        text = (run_dir / "results.csv").read_text()
        (run_dir / "results.csv").write_text(text[: len(text) - 7])
        return "truncated"
    if how == "weights missing":
        shutil.rmtree(run_dir / "weights")
        return "no weights/"
    if how == "unreadable image":
        (run_dir / "results.png").write_bytes(b"\x89PNG not really")
        return "results.png: unreadable image"
    raise ValueError(how)


@pytest.mark.parametrize(
    "how",
    ["not a run directory", "results.csv missing", "results.csv truncated", "weights missing", "unreadable image"],
)
def test_bad_run_directory_is_refused_and_nothing_is_touched(run_dir, plain_run, child_env, home, tmp_path, how):
    expected = _damage(run_dir, how)
    proc = sync([str(plain_run), str(run_dir)], _offline(child_env), tmp_path)  # one good, one bad: neither goes
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert expected in proc.stderr and str(run_dir) in proc.stderr and "nothing was synced" in proc.stderr
    assert sessions_under(home) == [] and not (run_dir / RECORD).exists() and not (plain_run / RECORD).exists()


def test_a_task_id_that_does_not_exist_is_refused(run_dir, child_env, clearml_server, tmp_path):
    proc = sync(
        [str(run_dir), "--task", "0123456789abcdef0123456789abcdef"], {**child_env, **clearml_server.env()}, tmp_path
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "no Task 0123456789abcdef0123456789abcdef" in proc.stderr and "nothing was synced" in proc.stderr
    assert clearml_server.state.tasks == {} and not (run_dir / RECORD).exists()


def test_console_script_and_a_file_named_sync(child_env, tmp_path):
    script = Path(sys.executable).parent / "yolo-clearml"
    assert script.exists(), "the package installs the yolo-clearml console script"
    import subprocess

    shown = subprocess.run([str(script), "--version"], env=child_env, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and shown.stdout.startswith("yolo_clearml_patch "), shown.stderr
    (tmp_path / "sync").write_text("import sys\nprint('SCRIPT NAMED SYNC', sys.argv[1:])\n")
    proc = run_python(["-m", "yolo_clearml_patch", "sync", "x"], child_env, cwd=tmp_path)
    assert proc.returncode == 0 and "SCRIPT NAMED SYNC ['x']" in proc.stdout, proc.stderr[-2000:]


def test_sync_worst_images_validates_the_run_once_more_or_says_it_cannot(run_dir, child_env, home, tmp_path):
    """``--worst-images``: best.pt validated again on the run's data; its worst images and per-class
    metrics where a live training puts its final validation's (one iteration after the last epoch)."""
    proc = sync([str(run_dir), "--worst-images"], _offline(child_env), tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [session] = sessions_under(home)
    final = len(results_rows(run_dir))
    data = Path(re.search(r"^data: (.+)$", (run_dir / "args.yaml").read_text(), re.M).group(1).strip("'\""))
    val_images = len(list((data.parent / "images" / "val").glob("*.jpg")))  # untrained: each is among the worst
    assert session.images("Worst images") == {(f"worst_{k:02d}", final) for k in range(min(8, val_images))}
    assert set(session.scalars("per-class AP50-95", "rect")) == {final}
    assert not session.duplicates()

    # a run whose data is gone: said, and the rest is synced
    other = tmp_path / "other" / run_dir.name
    shutil.copytree(run_dir, other, ignore=shutil.ignore_patterns(RECORD))
    args_yaml = other / "args.yaml"
    args_yaml.write_text(re.sub(r"^data: .+$", f"data: {tmp_path / 'gone.yaml'}", args_yaml.read_text(), flags=re.M))
    proc = sync([str(other), "--worst-images"], _offline(child_env), tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "no worst images or per-class metrics" in proc.stderr and "gone.yaml" in proc.stderr, proc.stderr[-3000:]
    newest = sessions_under(home)[-1]
    assert not newest.images("Worst images") and newest.scalars("Epoch Time", "Epoch Time")
