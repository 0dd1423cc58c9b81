"""ClearML datasets in and out, against the test ClearML server with ClearML's real ``Dataset``:
``yolo-clearml dataset upload``, then real trainings and validations on ``data="clearml://..."`` in
fresh HOMEs (no local copy), on an agent, and under the DDP simulation; the bad inputs.

One dataset upload is shared by the module's tests (the server too).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml
from agents import agent_daemon, console, task_ids, user_env, wait_ended
from conftest import SCRIPTS, TRAIN_TIMEOUT, run_python
from expectations import assert_complete
from server_task import ServerTask
from synthetic_data import make_detect_dataset
from test_child_processes import ddp_sim_env

PROJECT, NAME = "yolo-data", "shapes"


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clearml-datasets")


def dataset_cli(server, work: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {**user_env(server, work / "uploader-home"), **(env or {})}
    return run_python(["-m", "yolo_clearml_patch", "dataset", *args], full, cwd=work, timeout=180)


def uploaded_id(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return re.search(r"^dataset id: ([0-9a-f]{32})$", proc.stdout, re.M).group(1)


def dataset_tasks(server) -> dict[str, dict]:
    with server.state.lock:
        return {i: t for i, t in server.state.tasks.items() if "dataset" in (t.get("system_tags") or [])}


def cached_copies(home: Path) -> list[str]:
    folder = home / ".clearml" / "cache" / "storage_manager" / "datasets"
    return sorted(p.name for p in folder.glob("ds_*")) if folder.exists() else []


def new_task(server, before: set[str], task_type: str | None = None) -> ServerTask:
    new = [i for i in task_ids(server) - before if i not in dataset_tasks(server)]
    if task_type:
        new = [i for i in new if server.state.tasks[i]["type"] == task_type]
    assert len(new) == 1, [server.state.tasks[i]["name"] for i in new]
    return ServerTask(server.state, new[0])


def assert_lineage(task: ServerTask, uri: str, dataset_id: str, name: str = NAME) -> None:
    """The dataset recorded as ClearML records a dataset input; "General/data" keeps the URI."""
    assert task.hyperparams("Datasets") == {"data": dataset_id}
    assert task.task["hyperparams"]["Datasets"]["data"]["description"] == uri
    runtime = task.task.get("runtime") or {}
    assert dataset_id in runtime.get("datasets", []), runtime
    assert any(k.startswith(f"orig_datasets.{name}/") and v == dataset_id for k, v in runtime.items()), runtime


@pytest.fixture(scope="module")
def dataset(server, work) -> dict:
    """A generated detection dataset, uploaded with ``yolo-clearml dataset upload``."""
    data_yaml = make_detect_dataset(work / "shapes")
    proc = dataset_cli(server, work, "upload", str(data_yaml), "--project", PROJECT, "--name", NAME)
    dataset_id = uploaded_id(proc)
    assert f"data=clearml://{dataset_id}" in proc.stdout and f"clearml://{PROJECT}/{NAME}@1.0.0" in proc.stdout
    assert "hashing" in proc.stderr  # the progress bar
    return {"id": dataset_id, "yaml": data_yaml, "uri": f"clearml://{dataset_id}"}


@pytest.fixture(scope="module")
def trained(server, work, dataset) -> dict:
    """A training on ``clearml://<id>`` in a fresh HOME, online, under the shim's runner."""
    home = work / "train-home"
    env = user_env(server, home)
    before = task_ids(server)
    job = [str(SCRIPTS / "train_job.py"), "--data", dataset["uri"], "--out", str(work / "runs"), "--epochs", "1"]
    proc = run_python(["-m", "yolo_clearml_patch", *job], env, cwd=work, timeout=TRAIN_TIMEOUT)
    assert proc.returncode == 0 and "TRAIN_DONE" in proc.stdout, (proc.stdout + proc.stderr)[-5000:]
    return {"home": home, "task": new_task(server, before), "run_dir": work / "runs" / "detect", "proc": proc}


def test_a_training_on_a_dataset_id_fetches_it_and_records_it(trained, dataset):
    task, run_dir = trained["task"], trained["run_dir"]
    assert_complete(task, run_dir)
    assert task.task["status"] == "completed"
    assert task.hyperparams()["data"] == dataset["uri"]  # the URI, not the local path
    assert yaml.safe_load((run_dir / "args.yaml").read_text())["data"] == dataset["uri"]
    assert_lineage(task, dataset["uri"], dataset["id"])
    assert cached_copies(trained["home"]) == [f"ds_{dataset['id']}"]  # fetched into ClearML's cache
    copy = trained["home"] / ".clearml" / "cache" / "storage_manager" / "datasets" / f"ds_{dataset['id']}"
    assert "path" not in yaml.safe_load((copy / "data.yaml").read_text())  # the cached files untouched


def test_a_standalone_validation_by_project_and_name(server, work, trained, dataset):
    home = work / "val-home"
    before = task_ids(server)
    weights = trained["run_dir"] / "weights" / "best.pt"
    uri = f"clearml://{PROJECT}/{NAME}"
    proc = run_python(
        [str(SCRIPTS / "val_job.py"), str(weights), uri, str(work / "val")],
        {**user_env(server, home), "YOLO_CLEARML_PATCH": "1"},
        cwd=work,
        timeout=TRAIN_TIMEOUT,
    )
    assert proc.returncode == 0 and "VAL_DONE" in proc.stdout, (proc.stdout + proc.stderr)[-4000:]
    assert_lineage(new_task(server, before, "testing"), uri, dataset["id"])
    assert cached_copies(home) == [f"ds_{dataset['id']}"]


def test_uploading_again_makes_a_version_only_for_a_change_and_holds_only_the_change(server, work):
    data_yaml = make_detect_dataset(work / "versions", n_train=4, n_val=2)
    name = ["upload", str(data_yaml), "--project", PROJECT, "--name", "versions"]
    first = uploaded_id(dataset_cli(server, work, *name))
    before = dataset_tasks(server)
    again = dataset_cli(server, work, *name, "--no-progress")
    assert uploaded_id(again) == first and "unchanged" in again.stdout
    assert dataset_tasks(server).keys() == before.keys()  # no new version
    label = work / "versions" / "labels" / "train" / "0001.txt"
    label.write_text("0 0.5 0.5 0.2 0.2\n")
    changed = dataset_cli(server, work, *name, "--no-progress")
    child = uploaded_id(changed)
    assert child != first and "0 added, 1 changed, 0 removed" in changed.stdout
    task = ServerTask(server.state, child)
    assert task.task["runtime"]["version"] == "1.0.1"
    zips = [a for a in task.task["execution"].get("artifacts", []) if a["key"].startswith("data")]
    names = [n for a in zips for n in zipfile.ZipFile(io.BytesIO(task.file(a["uri"]))).namelist()]
    assert names == ["labels/train/0001.txt"], names  # the child version holds only the change


def test_bad_datasets_are_refused_naming_the_dataset(server, work, dataset, trained):
    folders = []
    for name, files in {
        "no-yaml": {"images/val/a.txt": "x"},
        "two-yamls": {"a.yaml": "val: images\n", "b.yaml": "val: images\n"},
        "outside": {"data.yaml": "train: ../../etc\nval: images\nnames: {0: a}\n"},
    }.items():
        folder = work / "raw" / name
        for rel, text in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
        folders.append(f"{name}={folder}")
    env = user_env(server, work / "uploader-home")
    proc = run_python([str(SCRIPTS / "raw_dataset.py"), PROJECT, *folders], env, cwd=work, timeout=120)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    raw = dict(re.findall(r"^DATASET_ID (\S+)=(\w+)$", proc.stdout, re.M))
    unknown = "0" * 32
    uris = {
        f"clearml://{unknown}": f"no finalized ClearML dataset with dataset id {unknown}",
        f"clearml://{PROJECT}/nope": f"no finalized ClearML dataset with project '{PROJECT}', name 'nope'",
        f"clearml://{PROJECT}/{NAME}@9.9.9": "version '9.9.9'",
        f"clearml://{raw['no-yaml']}": "has no YOLO data yaml at its root",
        f"clearml://{raw['two-yamls']}": "has several data yamls at its root: a.yaml, b.yaml",
        f"clearml://{raw['outside']}": "has split paths outside the dataset: train: ../../etc",
    }
    proc = run_python([str(SCRIPTS / "dataset_errors.py"), *uris], user_env(server, work / "bad-home"), cwd=work)
    errors = dict(re.findall(r"^ERROR=(\S+) :: (.*)$", proc.stdout, re.M))
    for uri, message in uris.items():
        assert uri in errors and message in errors[uri] and "DatasetError" in errors[uri], (uri, proc.stdout[-3000:])
    # offline, where a copy is cached: the error says so and names it; with no server answering, too
    offline = {**user_env(server, trained["home"]), "CLEARML_OFFLINE_MODE": "1"}
    proc = run_python([str(SCRIPTS / "dataset_errors.py"), dataset["uri"]], offline, cwd=work)
    assert "clearml:// data needs a ClearML server, and ClearML is in offline mode" in proc.stdout, proc.stdout[-3000:]
    assert f"is cached here: train with data={trained['home']}" in proc.stdout
    dead = {**user_env(server, work / "bad-home"), "CLEARML_API_HOST": "http://127.0.0.1:9"}
    proc = run_python([str(SCRIPTS / "dataset_errors.py"), dataset["uri"]], dead, cwd=work)
    assert "did not answer within" in proc.stdout, proc.stdout[-3000:]
    # the upload refuses a yaml whose split leaves its root, and creates nothing
    before = dataset_tasks(server)
    bad_yaml = work / "shapes" / "bad.yaml"
    bad_yaml.write_text("train: ../elsewhere\nval: images/val\nnames: {0: a}\n")
    proc = dataset_cli(server, work, "upload", str(bad_yaml), "--project", PROJECT, "--name", "bad")
    assert proc.returncode == 2 and "split paths outside the dataset root" in proc.stderr, proc.stderr[-3000:]
    assert dataset_tasks(server).keys() == before.keys()


def test_a_training_sent_to_a_queue_fetches_the_dataset_on_the_agent_and_a_clone_takes_an_edited_id(
    server, work, dataset, clearml_agent
):
    server.state.handle_as_ui("queues.create", {"name": "data-queue"})
    other = work / "shapes-b"  # another dataset, for the id edited in the UI
    other_id = uploaded_id(dataset_cli(server, work, "upload", str(make_detect_dataset(other, seed=1)),
                                       "--project", PROJECT, "--name", "shapes-b", "--no-progress"))  # fmt: skip
    code = work / "code"
    code.mkdir()
    shutil.copy(SCRIPTS / "train_job.py", code / "train_job.py")
    uri = f"clearml://{PROJECT}/{NAME}"
    job = ["train_job.py", "--data", uri, "--out", "runs", "--epochs", "1", "--name", "on-agent"]
    before = task_ids(server)
    env = user_env(server, code / "home")
    sent = run_python(["-m", "yolo_clearml_patch", "--queue", "data-queue", *job], env, code)
    assert sent.returncode == 0, (sent.stdout + sent.stderr)[-3000:]
    assert cached_copies(code / "home") == []  # the sender fetched nothing
    task_id = new_task(server, before).task_id
    agent_home = work / "agent-data-agent"
    with agent_daemon(clearml_agent, server, work, "data-agent", "data-queue"):
        task = wait_ended(server, task_id)
        assert task.task["status"] == "completed", console(task)[-3000:]
        assert cached_copies(agent_home) == [f"ds_{dataset['id']}"]  # fetched on the agent's machine
        assert_lineage(task, uri, dataset["id"])
        assert task.hyperparams()["data"] == uri
        # the UI: clone, edit the dataset id in "Datasets" (the item as the UI sends it), enqueue
        clone = server.state.handle_as_ui("tasks.clone", {"task": task_id, "new_task_name": "other data"})["id"]
        item = {"section": "Datasets", "name": "data", "value": other_id, "description": uri, "type": ""}
        server.state.handle_as_ui("tasks.edit_hyper_params", {"task": clone, "hyperparams": [item]})
        server.state.handle_as_ui("tasks.enqueue", {"task": clone, "queue_name": "data-queue"})
        edited = wait_ended(server, clone)
    assert edited.task["status"] == "completed", console(edited)[-3000:]
    assert f"ds_{other_id}" in cached_copies(agent_home)  # the edited id is the one used
    assert_lineage(edited, uri, other_id, name="shapes-b")
    assert edited.hyperparams()["data"] == uri


def test_ddp_launcher_and_workers_each_resolve_the_dataset_from_one_cache(server, work, dataset):
    home = work / "ddp-home"
    before = task_ids(server)
    proc = run_python(
        ["-m", "yolo_clearml_patch", str(SCRIPTS / "ddp_launch.py"), dataset["uri"], str(work / "ddp")],
        ddp_sim_env(user_env(server, home)),
        cwd=work,
        timeout=TRAIN_TIMEOUT,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "TRAIN_DONE" in proc.stdout, output[-5000:]
    assert "DDP_SIM_WORKER rank=1 world=2" in proc.stdout
    resolved = re.findall(rf"{dataset['uri']} is ClearML dataset {dataset['id']}", output)
    assert len(resolved) == 3, output[-5000:]  # the launcher and both workers, each once
    assert cached_copies(home) == [f"ds_{dataset['id']}"]  # one copy, shared
    task = new_task(server, before)
    assert task.hyperparams()["data"] == dataset["uri"]
    assert_lineage(task, dataset["uri"], dataset["id"])
