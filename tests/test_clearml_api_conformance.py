"""The test ClearML server answers as the real one (allegroai/clearml-server 2.0, ``apiserver/``).

Each test names the real server's file it follows. Raw requests check the wire (codes, fields);
the real SDK checks what a client sees (``scripts/sdk_conformance.py``), and the real clearml-agent
daemon takes a Task from a queue and runs it.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from clearml_api import ACCESS_KEY, SECRET_KEY, ClearMLTestServer
from conftest import REPO, SCRIPTS, run_python

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def _http(url: str, body: bytes | None, headers: dict, method: str = "POST") -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def token(server, expiration_sec: int | None = None) -> str:
    basic = base64.b64encode(f"{ACCESS_KEY}:{SECRET_KEY}".encode()).decode()
    body = json.dumps({"expiration_sec": expiration_sec} if expiration_sec else {}).encode()
    status, raw = _http(f"{server.api_url}/v2.31/auth.login", body, {"Authorization": f"Basic {basic}"})
    assert status == 200, raw
    return json.loads(raw)["data"]["token"]


def call(server, endpoint: str, body: dict | None = None, auth: str | None = "token") -> tuple[int, dict, dict]:
    """(HTTP status, meta, data) of one API call."""
    headers = {"Content-Type": "application/json"}
    if auth == "token":
        headers["Authorization"] = f"Bearer {token(server)}"
    elif auth:
        headers["Authorization"] = auth
    status, raw = _http(f"{server.api_url}/v2.31/{endpoint}", json.dumps(body or {}).encode(), headers)
    reply = json.loads(raw)
    assert reply["meta"]["result_code"] == status
    return status, reply["meta"], reply["data"]


def ok(server, endpoint: str, body: dict | None = None) -> dict:
    status, meta, data = call(server, endpoint, body)
    assert status == 200, meta
    return data


def code(server, endpoint: str, body: dict | None = None) -> tuple[int, int, str]:
    status, meta, _ = call(server, endpoint, body)
    return status, meta["result_subcode"], meta["result_msg"]


def new_task(server, name: str = "a task", **fields) -> str:
    return ok(server, "tasks.create", {"name": name, "type": "training", **fields})["id"]


def add_scalars(server, task_id: str, points: list[tuple[str, str, int, float]]) -> dict:
    events = [
        {"task": task_id, "type": "training_stats_scalar", "metric": m, "variant": v, "iter": i, "value": x}
        for m, v, i, x in points
    ]
    headers = {"Authorization": f"Bearer {token(server)}", "Content-Type": "application/json-lines"}
    body = "\n".join(json.dumps(e) for e in events).encode()
    status, raw = _http(f"{server.api_url}/v2.31/events.add_batch", body, headers)
    assert status == 200, raw
    return json.loads(raw)["data"]


# ---- errors and checks (service_repo/service_repo.py, validators.py, apierrors/errors.conf) -----------


def test_error_replies_carry_the_real_codes(server):
    status, meta, _ = call(server, "tasks.no_such_thing", {})
    assert (status, meta["result_subcode"]) == (404, 0) and "Unable to find endpoint" in meta["result_msg"]
    assert code(server, "tasks.get_by_id", {}) == (
        400,
        12,
        "Validation error (error for field 'task'. field is required!)",
    )
    assert code(server, "tasks.create", {"name": "abc", "type": "bad"})[:2] == (400, 12)
    assert code(server, "tasks.get_by_id", {"task": "nope"})[:2] == (400, 101)
    assert code(server, "tasks.create", {"name": "abc", "type": "training", "project": "nope"})[:2] == (400, 16)
    assert code(server, "projects.create", {})[:2] == (400, 11)
    assert code(server, "projects.get_by_id", {"project": "nope"})[:2] == (400, 401)
    ok(server, "projects.create", {"name": "once only"})
    assert code(server, "projects.create", {"name": "once only"})[:2] == (400, 801)
    assert code(server, "queues.get_by_id", {"queue": "nope"})[:2] == (400, 701)
    assert code(server, "models.get_by_id", {"model": "nope"})[:2] == (400, 201)
    status, meta, _ = call(server, "tasks.get_all", {})
    assert status == 200 and meta["error_stack"] == "" and meta["endpoint"]["requested_version"] == "2.31"


def test_names_shorter_than_three_characters_are_refused(server):
    # database/model/*.py: StrippedStringField(min_length=3), mongoengine -> 400/800
    for endpoint, body in [
        ("tasks.create", {"name": " ab ", "type": "training"}),
        ("projects.create", {"name": "ab"}),
        ("queues.create", {"name": "q"}),
        ("models.create", {"name": "m", "uri": "file:///m"}),
    ]:
        assert code(server, endpoint, body)[:2] == (400, 800), endpoint


def test_a_handler_that_fails_answers_500_with_its_meta():
    # service_repo.py handle_call: an unhandled exception is 500/0 with the traceback, not a dropped connection
    with_fault = ClearMLTestServer().start()
    try:
        with_fault.state.broken.add("tasks.ping")
        status, meta, _ = call(with_fault, "tasks.ping", {"task": "x"})
        assert (status, meta["result_subcode"]) == (500, 0) and "Traceback" in meta["error_stack"]
    finally:
        with_fault.stop()


def test_tokens_expire_as_asked_and_an_expired_one_is_refused(server):
    # services/auth.py login (expiration_sec), service_repo/auth/auth.py authorize_token
    short = token(server, expiration_sec=1)
    claims = json.loads(base64.urlsafe_b64decode(short.split(".")[1] + "=="))
    assert claims["api_version"] == "2.31" and claims["exp"] - claims["iat"] == pytest.approx(1, abs=1)
    time.sleep(2.1)
    status, meta, _ = call(server, "tasks.get_all", {}, auth=f"Bearer {short}")
    assert (status, meta["result_subcode"]) == (401, 30) and "expired" in meta["result_msg"]
    assert call(server, "debug.ping", {}, auth=None)[2]["msg"] == "ClearML server"


# ---- tasks (bll/task/utils.py, bll/task/task_operations.py, task_bll.py clone_task) ---------------------


def test_a_finished_task_refuses_edits_and_a_running_one_needs_force(server):
    task = new_task(server)
    params = {"task": task, "hyperparams": [{"section": "General", "name": "lr0", "value": "0.1"}]}
    ok(server, "tasks.edit_hyper_params", params)
    ok(server, "tasks.started", {"task": task})
    assert code(server, "tasks.edit_hyper_params", params)[:2] == (400, 110)
    ok(server, "tasks.edit_hyper_params", {**params, "force": True})
    ok(server, "tasks.completed", {"task": task})
    assert code(server, "tasks.edit_hyper_params", {**params, "force": True})[:2] == (400, 110)
    assert code(server, "tasks.edit_configuration", {"task": task, "configuration": [], "force": True})[:2] == (
        400,
        110,
    )
    properties = [{"section": "properties", "name": "note", "value": "any status"}]
    ok(server, "tasks.edit_hyper_params", {"task": task, "hyperparams": properties})
    assert code(server, "tasks.started", {"task": new_task(server)})[0] == 200  # created -> in_progress
    assert code(server, "tasks.failed", {"task": new_task(server)})[:2] == (400, 110)  # created -> failed


def test_clone_copies_the_definition_and_drops_the_run(server):
    original = new_task(server, "to clone", system_tags=["development", "keep"], tags=["t1"], runtime={"x": 1})
    ok(
        server,
        "tasks.edit_hyper_params",
        {"task": original, "hyperparams": [{"section": "General", "name": "a", "value": "1"}]},
    )
    artifacts = [{"key": "in", "type": "str", "mode": "input", "uri": "u1"}, {"key": "out", "type": "str", "uri": "u2"}]
    ok(server, "tasks.add_or_update_artifacts", {"task": original, "artifacts": artifacts})
    ok(server, "tasks.started", {"task": original})
    ok(server, "tasks.completed", {"task": original})
    clone_id = ok(server, "tasks.clone", {"task": original})["id"]
    clone = ok(server, "tasks.get_by_id", {"task": clone_id})["task"]
    assert clone["status"] == "created" and clone["parent"] == original and clone["runtime"] == {}
    assert clone["system_tags"] == ["keep"] and clone["tags"] == ["t1"]
    assert clone["hyperparams"]["General"]["a"]["value"] == "1"
    assert [a["key"] for a in clone["execution"]["artifacts"]] == ["in"]  # output artifacts are dropped
    grandchild = ok(server, "tasks.clone", {"task": clone_id})["id"]
    assert ok(server, "tasks.get_by_id", {"task": grandchild})["task"]["parent"] == original  # the first ancestor


def test_reset_deletes_the_events_and_clears_the_run(server):
    task = new_task(server, runtime={"progress": 3})
    ok(server, "tasks.started", {"task": task})
    add_scalars(server, task, [("loss", "train", 1, 0.5)])
    reply = ok(server, "tasks.reset", {"task": task, "force": True})
    assert reply["fields"]["status"] == "created"
    after = ok(server, "tasks.get_by_id", {"task": task})["task"]
    assert after["last_metrics"] == {} and after["runtime"] == {} and after["last_iteration"] == 0
    assert ok(server, "events.get_task_events", {"task": task})["total"] == 0


def test_stop_dequeues_a_queued_task_and_only_asks_a_workers_task(server):
    queued = new_task(server)
    ok(server, "tasks.enqueue", {"task": queued, "queue_name": "stop-tests"})
    assert ok(server, "tasks.stop", {"task": queued})["fields"]["status"] == "stopped"
    queue = ok(server, "queues.get_all", {"name": "^stop-tests$"})["queues"][0]
    assert queue["entries"] == []
    running = new_task(server)
    ok(server, "tasks.started", {"task": running})
    ok(server, "workers.register", {"worker": "box:0", "queues": [queue["id"]]})
    ok(server, "workers.status_report", {"worker": "box:0", "task": running, "timestamp": int(time.time() * 1000)})
    ok(server, "tasks.stop", {"task": running})
    stopping = ok(server, "tasks.get_by_id", {"task": running})["task"]
    assert (stopping["status"], stopping["status_message"], stopping["last_worker"]) == (
        "in_progress",
        "stopping",
        "box:0",
    )


def test_queries_filter_and_order_as_the_server(server):
    # database/model/base.py (list-field operators, order_by with numeric collation), task.py query options
    project = ok(server, "projects.create", {"name": "query tests"})["id"]
    parent = new_task(server, "parent", project=project)
    values = {"t-low": 2.0, "t-high": 10.0, "t-mid": 9.0}
    ids = {}
    for name, value in values.items():
        ids[name] = new_task(server, name, project=project, parent=parent, tags=["a", name])
        add_scalars(server, ids[name], [("objective", "value", 0, value)])
    hidden = new_task(server, "hidden one", project=project, system_tags=["hidden"], tags=["a"])
    query = {"project": [project], "only_fields": ["id", "name"]}
    assert {t["id"] for t in ok(server, "tasks.get_all", {**query, "parent": [parent]})["tasks"]} == set(ids.values())
    both = ok(server, "tasks.get_all", {**query, "tags": ["__$all", "a", "t-low"]})["tasks"]
    assert [t["name"] for t in both] == ["t-low"]
    not_low = ok(server, "tasks.get_all", {**query, "tags": ["a", "__$not", "t-low"]})["tasks"]
    assert {t["name"] for t in not_low} == {"t-high", "t-mid"}
    assert hidden not in {t["id"] for t in ok(server, "tasks.get_all", query)["tasks"]}
    assert hidden in {t["id"] for t in ok(server, "tasks.get_all", {**query, "search_hidden": True})["tasks"]}
    key = f"last_metrics.{_md5('objective')}.{_md5('value')}.value"
    best = ok(server, "tasks.get_all", {**query, "parent": [parent], "order_by": [f"-{key}"]})["tasks"]
    assert [t["name"] for t in best] == ["t-high", "t-mid", "t-low"]  # 10 > 9 > 2, as numbers
    metric = ok(server, "tasks.get_by_id", {"task": ids["t-mid"]})["task"]["last_metrics"][_md5("objective")]
    assert metric[_md5("value")]["max_value"] == 9.0


def _md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode()).hexdigest()


# ---- events (bll/event/event_bll.py, events_iterator.py, services/events.py) ----------------------------


def test_events_keep_the_last_report_and_update_last_metrics(server):
    task = new_task(server)
    ok(server, "tasks.started", {"task": task})
    add_scalars(server, task, [("loss", "train", 0, 3.0), ("loss", "train", 1, 1.0), ("loss", "train", 2, 2.0)])
    add_scalars(server, task, [("loss", "train", 1, 1.5)])  # the same key again: it replaces
    stored = ok(server, "tasks.get_by_id", {"task": task})["task"]
    entry = stored["last_metrics"][_md5("loss")][_md5("train")]
    assert (entry["value"], entry["min_value"], entry["max_value"], entry["first_value"]) == (1.5, 1.0, 3.0, 3.0)
    assert stored["last_iteration"] == 2
    histogram = ok(server, "events.scalar_metrics_iter_histogram", {"task": task})
    assert histogram["loss"]["train"]["x"] == [0, 1, 2] and histogram["loss"]["train"]["y"][1] == 1.5
    ok(server, "tasks.completed", {"task": task})
    ok(server, "tasks.publish", {"task": task})
    status, meta, _ = call(server, "events.add", {"task": task, "type": "log", "msg": "late"})
    assert (status, meta["result_subcode"]) == (400, 131)  # a published Task accepts no events


def test_model_events_go_to_the_model(server):
    model = ok(server, "models.create", {"name": "a model", "uri": "file:///m", "ready": False})["id"]
    event = {"model": model, "model_event": True, "type": "training_stats_scalar", "iter": 1, "value": 0.5}
    events = [{**event, "metric": "acc", "variant": "val"}]
    headers = {"Authorization": f"Bearer {token(server)}"}
    status, raw = _http(
        f"{server.api_url}/v2.31/events.add_batch", "\n".join(map(json.dumps, events)).encode(), headers
    )
    assert status == 200 and json.loads(raw)["data"]["added"] == 1, raw
    stored = ok(server, "models.get_by_id", {"model": model})["model"]
    assert stored["last_metrics"][_md5("acc")][_md5("val")]["value"] == 0.5
    assert ok(server, "events.get_task_events", {"task": model, "model_events": True})["total"] == 1
    ok(server, "models.set_ready", {"model": model})
    status, raw = _http(
        f"{server.api_url}/v2.31/events.add_batch", "\n".join(map(json.dumps, events)).encode(), headers
    )
    assert status == 400  # a ready (published) model accepts no events


def test_task_events_scroll_by_iteration_and_start_over_after_iteration_zero(server):
    task = new_task(server)
    points = [("img", f"s{n}", 0, 0.0) for n in range(3)] + [("img", "s", i, 0.0) for i in (1, 2, 3)]
    add_scalars(server, task, points)
    first = ok(server, "events.get_task_events", {"task": task, "batch_size": 2})
    assert first["total"] == 6 and first["returned"] == 3  # 2, and every other event of iteration 0
    again = ok(server, "events.get_task_events", {"task": task, "batch_size": 2, "scroll_id": first["scroll_id"]})
    assert [e["iter"] for e in again["events"]] == [0, 0, 0]  # iteration 0 is no position: it starts over
    wide = ok(server, "events.get_task_events", {"task": task, "batch_size": 4})
    rest = ok(server, "events.get_task_events", {"task": task, "batch_size": 4, "scroll_id": wide["scroll_id"]})
    assert [e["iter"] for e in rest["events"]] == [2, 3]
    end = ok(server, "events.get_task_events", {"task": task, "scroll_id": rest["scroll_id"]})
    assert end["returned"] == 0 and end["total"] == 6


# ---- queues and workers (bll/queue/queue_bll.py, bll/workers/__init__.py) --------------------------------


def test_queues_hand_out_tasks_once_and_workers_report(server):
    default = ok(server, "queues.get_default")
    assert default["name"] == "default"
    queue = ok(server, "queues.create", {"name": "gpu-queue"})["id"]
    assert code(server, "queues.create", {"name": "gpu-queue"})[:2] == (400, 801)
    task = new_task(server)
    reply = ok(server, "tasks.enqueue", {"task": task, "queue": queue})
    assert reply["fields"]["status"] == "queued" and reply["queue_watched"] is False
    ok(server, "workers.register", {"worker": "node:1", "queues": [queue]})
    assert ok(server, "queues.get_next_task", {"queue": queue})["entry"]["task"] == task
    assert ok(server, "queues.get_next_task", {"queue": queue}) == {}  # taken once
    assert ok(server, "tasks.get_by_id", {"task": task})["task"]["status"] == "queued"  # the agent starts it
    report = {"worker": "node:1", "task": task, "queue": queue, "timestamp": int(time.time() * 1000)}
    ok(server, "workers.status_report", report)
    worker = next(w for w in ok(server, "workers.get_all")["workers"] if w["id"] == "node:1")
    assert worker["task"]["id"] == task and worker["queues"][0]["name"] == "gpu-queue"
    # the queue it runs from comes back as a queue entry, as clearml's Worker model reads it
    assert worker["queue"]["id"] == queue and worker["queue"]["name"] == "gpu-queue"
    second = new_task(server)
    ok(server, "tasks.enqueue", {"task": second, "queue": queue})
    assert ok(server, "tasks.dequeue", {"task": second})["fields"]["status"] == "created"
    ok(server, "workers.unregister", {"worker": "node:1"})
    assert "node:1" not in {w["id"] for w in ok(server, "workers.get_all")["workers"]}


# ---- the file server (fileserver/fileserver.py, fileserver/auth.py) -------------------------------------


def test_the_file_server_needs_a_token_keeps_to_its_root_and_deletes(server):
    url, bearer = server.files_url, {"Authorization": f"Bearer {token(server)}"}
    assert _http(f"{url}/", None, {}, "GET") == (200, b"OK")
    boundary = "b0undary"
    form = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="proj/file.txt"; filename="file.txt"\r\n\r\nhello\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    multipart = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    assert _http(f"{url}/", form, multipart)[0] == 401  # no token
    assert _http(f"{url}/", form, {**multipart, **bearer}) == (200, b'["proj/file.txt"]')
    assert _http(f"{url}/proj/file.txt", None, bearer, "GET") == (200, b"hello")
    escape = form.replace(b"proj/file.txt", b"../../etc/x")
    assert _http(f"{url}/", escape, {**multipart, **bearer})[0] == 404
    assert _http(f"{url}/proj/file.txt", None, bearer, "DELETE") == (200, b'"proj/file.txt"')
    assert _http(f"{url}/proj/file.txt", None, bearer, "GET")[0] == 404
    assert _http(f"{url}/proj/file.txt", None, bearer, "DELETE")[0] == 404


# ---- faults ---------------------------------------------------------------------------------------------


def test_faults_a_lost_reply_a_plain_500_and_expired_tokens():
    faulty = ClearMLTestServer().start()
    try:
        bearer = f"Bearer {token(faulty)}"
        faulty.lose_replies(1)
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            call(faulty, "tasks.create", {"name": "lost reply", "type": "training"}, auth=bearer)
        assert [t["name"] for t in faulty.state.tasks.values()] == ["lost reply"]  # applied all the same
        faulty.fail(500, count=1)
        status, meta, _ = call(faulty, "tasks.get_all", {}, auth=None)
        assert status == 500 and meta["result_code"] == 500
        old = token(faulty)
        faulty.expire_tokens()
        status, meta, _ = call(faulty, "tasks.get_all", {}, auth=f"Bearer {old}")
        assert (status, meta["result_subcode"]) == (401, 30)
        assert call(faulty, "tasks.get_all", {})[0] == 200  # a new login works
    finally:
        faulty.stop()


# ---- the real SDK, standalone mode, the real agent ------------------------------------------------------


def test_the_real_sdk_runs_an_optimizer_s_and_a_dataset_user_s_calls(child_env, tmp_path):
    """Task.clone, enqueue/dequeue, get_last_scalar_metrics, get_reported_scalars, OutputModel.report_scalar,
    edits of a finished Task refused, and Dataset create/upload/finalize/get/get_local_copy/delete."""
    faulty = ClearMLTestServer().start()
    try:
        env = {**child_env, **faulty.env()}
        proc = run_python([str(SCRIPTS / "sdk_conformance.py"), str(tmp_path)], env, cwd=tmp_path, timeout=240)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
        result = json.loads(next(line[7:] for line in proc.stdout.splitlines() if line.startswith("RESULT=")))
        assert faulty.state.schema_errors == []
    finally:
        faulty.stop()
    assert result["last_scalar_metrics"]["metrics"]["mAP50"] == {"last": 0.4, "min": 0.2, "max": 0.5}
    assert result["reported_scalars"]["metrics"]["mAP50"]["x"] == [0, 1, 2]
    assert "can only be updated if created or in_progress" in result["edit_completed"]
    assert result["clone"] == {
        "status": "created",
        "parent": result["clone"]["parent"],
        "lr0": "0.02",
        "output_models": 0,
    }
    assert (result["enqueued_status"], result["dequeued_status"]) == ("queued", "created")
    dataset = result["dataset"]
    assert dataset["same_id"] and dataset["files"] == ["a.txt", "sub/b.txt"] and dataset["content"] == "beta"
    assert dataset["after_delete"] != "found"
    with faulty.state.lock:
        model = faulty.state.models.get(result["model_id"])
    assert model is not None and model["last_metrics"][_md5("model metrics")][_md5("accuracy")]["value"] == 0.75


def _standalone_command() -> list[str]:
    """``python -m tests.clearml_api``, from the project root; by path where an installed package
    named ``tests`` shadows the folder (the Ultralytics 8.3.0 wheel ships one)."""
    where = subprocess.run(
        [sys.executable, "-c", "import importlib.util as u; s = u.find_spec('tests'); print(s and s.origin)"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    if where in {"", "None"}:
        return [sys.executable, "-m", "tests.clearml_api"]
    return [sys.executable, str(REPO / "tests" / "clearml_api")]


def test_standalone_mode_writes_its_address_and_ends_on_sigterm(tmp_path):
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [*_standalone_command(), "--state-dir", str(state)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not (state / "server.json").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()[-2000:]
            time.sleep(0.1)
        env = json.loads((state / "server.json").read_text())["env"]
        assert set(env) == {
            "CLEARML_API_HOST",
            "CLEARML_WEB_HOST",
            "CLEARML_FILES_HOST",
            "CLEARML_API_ACCESS_KEY",
            "CLEARML_API_SECRET_KEY",
        }
        status, _ = _http(f"{env['CLEARML_API_HOST']}/debug.ping", b"{}", {})
        assert status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not (state / "server.json").exists()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)


AGENT_JOB = """
from clearml import Task
Task._report_subprocess_enabled = False  # threads, not a forked reporter: see scripts/sdk_conformance.py
task = Task.init(project_name="agents", task_name="agent smoke")
task.get_logger().report_scalar("done", "value", 1.0, iteration=0)
print("AGENT_SMOKE_RAN")
"""


def test_the_real_agent_daemon_takes_a_queued_task_and_runs_it(clearml_agent, child_env, tmp_path):
    """clearml-agent daemon (PyPI) registers, polls a queue, takes the Task, runs it in this interpreter
    (no venv, no installs) and marks it completed; every process is bounded and killed by PID."""
    agent_server = ClearMLTestServer().start()
    env = {**child_env, **agent_server.env()}
    script = tmp_path / "code" / "agent_smoke.py"
    script.parent.mkdir()
    script.write_text(AGENT_JOB)
    first = run_python([str(script)], env, cwd=script.parent, timeout=120)
    assert first.returncode == 0, first.stderr[-3000:]
    state = agent_server.state
    (template,) = list(state.tasks)
    clone = state.clone_and_edit(template, "General", {}, queue="agents-queue")
    agent_env = {
        **env,
        "CLEARML_AGENT_SKIP_PIP_VENV_INSTALL": sys.executable,
        "CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1",
    }
    with open(tmp_path / "agent.log", "w") as log_file:
        daemon = subprocess.Popen(
            [str(clearml_agent), "daemon", "--queue", "agents-queue", "--foreground"],
            env=agent_env,
            cwd=tmp_path,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        finished = agent_server.wait_for(lambda: state.tasks[clone]["status"] in {"completed", "failed"}, timeout=240)
        log = (tmp_path / "agent.log").read_text()
        assert finished, log[-4000:]
        assert state.tasks[clone]["status"] == "completed", log[-4000:]
        assert state.tasks[clone]["last_worker"]
        lines = [e.get("msg", "") for e in state.logs if e.get("task") == clone]
        assert any("AGENT_SMOKE_RAN" in line for line in lines), lines[-20:]
    finally:
        daemon.send_signal(signal.SIGINT)
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            os.kill(daemon.pid, signal.SIGKILL)
            daemon.wait(10)
        agent_server.stop()
