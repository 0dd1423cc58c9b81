"""The real ``clearml-agent daemon`` in tests: started against the test ClearML server, each with its
own HOME and worker id, told to use this interpreter instead of building a venv per Task, and killed by
PID with every process it started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
from clearml_api import ClearMLTestServer
from conftest import _strip_env
from server_task import ServerTask

AGENT_TIMEOUT = 360  # s: an agent's training of 2 tiny epochs takes ~40 s on 2 cores
ENDED = {"completed", "stopped", "failed", "published"}


def user_env(server: ClearMLTestServer, home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    env = {**_strip_env(), **server.env(), "HOME": str(home), "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    env.update(YOLO_CONFIG_DIR=str(home / ".config" / "Ultralytics"), YOLO_CLEARML_PATCH_STRICT="1")
    return env


def _kill_tree(pid: int) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        for child in psutil.Process(pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


@contextlib.contextmanager
def agent_daemon(
    agent: Path, server: ClearMLTestServer, root: Path, name: str, queue: str, extra_env: dict | None = None
) -> Iterator[Path]:
    """``clearml-agent daemon --queue <queue>`` as worker ``name``, registered; yields its log file.

    The agent's environment carries ``YOLO_CLEARML_QUEUE`` too, as a copied environment would: the
    Tasks it runs must train there, not be sent again.
    """
    env = user_env(server, root / f"agent-{name}")
    env.update(CLEARML_WORKER_ID=name, CLEARML_AGENT_SKIP_PIP_VENV_INSTALL=sys.executable)
    env.update(CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL="1", YOLO_CLEARML_QUEUE=queue, **(extra_env or {}))
    log_path = root / f"agent-{name}.log"
    _agent_logs.append(log_path)
    with open(log_path, "w") as log:
        popen = subprocess.Popen(
            [str(agent), "daemon", "--queue", queue],
            env=env,
            cwd=str(root),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            queue_id = server.state.queue_by_name(queue)["id"]
            listening = [w for w in server.state.live_workers() if w["id"] == name]
            registered = server.wait_for(
                lambda: any(
                    queue_id in (w.get("queues") or []) for w in server.state.live_workers() if w["id"] == name
                ),
                90,
            )
            assert registered, f"agent {name} did not register on {queue}: {listening}\n{log_path.read_text()[-3000:]}"
            yield log_path
        finally:
            _kill_tree(popen.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(10)


def task_ids(server: ClearMLTestServer) -> set[str]:
    with server.state.lock:
        return set(server.state.tasks)


def wait_ended(server: ClearMLTestServer, task_id: str, timeout: float = AGENT_TIMEOUT) -> ServerTask:
    task = ServerTask(server.state, task_id)
    ended = server.wait_for(lambda: server.state.tasks[task_id]["status"] in ENDED, timeout, interval=0.5)
    assert ended, f"Task {task_id} still {task.task['status']} after {timeout} s; agents: {agent_logs(server)}"
    return task


_agent_logs: list[Path] = []


def agent_logs(server: ClearMLTestServer) -> str:
    """The daemons' logs and the workers the server knows, for a failure's message."""
    with server.state.lock:
        workers = [(w["id"], w.get("queues"), (w.get("task") or {}).get("id")) for w in server.state.live_workers()]
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}" for p in _agent_logs if p.exists())
    return f"workers {workers}\n{logs}"


def console(task: ServerTask) -> str:
    """The Task's console log, as the agent sent it (the program's output)."""
    with task.state.lock:
        return "\n".join(str(e.get("msg", "")) for e in task.state.logs if e.get("task") == task.task_id)
