"""Running on a ClearML agent: knowing that we are on one, and sending a Task to a queue so that an
agent runs it with the shim on.

The Task records the program as the shim's runner runs it (``-m yolo_clearml_patch <program args>``),
so the agent turns the shim on whichever way the user turned it on locally, with nothing set by hand
on the agent's machine beyond having the shim installed. It also records the requirements the agent
needs: this package and the exact Ultralytics and torch versions in use.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

from ..base import settings
from ..base.log import logger
from ..base.settings import ConfigurationError
from .offline_policy import clearml_configured, server_host
from .queues import QueueState, find_queue
from .server_probe import server_answers

AGENT_TASK_ID_VARS = ("CLEARML_TASK_ID", "TRAINS_TASK_ID")  # set by clearml-agent for the Task it runs
RUNNER = "yolo_clearml_patch"
REQUIREMENTS = ("yolo-clearml-patch", "ultralytics", "torch")
REPO_DETECTION_TIMEOUT = 60.0  # s; ClearML's own execute_remotely allows 300


def running_on_an_agent() -> bool:
    """Whether this process runs a Task for clearml-agent (the agent sets the Task's id)."""
    return any(os.environ.get(var) for var in AGENT_TASK_ID_VARS)


_program: list[str] | None = None


def set_program(argv: list[str]) -> None:
    """The shim's runner tells what it runs: ``script.py args``, ``-m module args`` or ``yolo ...``."""
    global _program
    _program = list(argv)


def program() -> list[str]:
    """This process's program as the runner would be given it.

    From the runner when it runs it; otherwise from ``sys.argv`` (``python train.py``, ``python -m
    module``, Ultralytics' ``yolo`` console script).
    """
    if _program is not None:
        return list(_program)
    argv = list(sys.argv) or [""]
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and getattr(spec, "name", None):
        name = spec.name[: -len(".__main__")] if spec.name.endswith(".__main__") else spec.name
        return ["-m", name, *argv[1:]]
    if os.path.basename(argv[0]) == "yolo" and not argv[0].endswith(".py"):
        return ["yolo", *argv[1:]]
    return argv


def add_requirements() -> None:
    """Before ``Task.init``: the agent installs this package and the exact Ultralytics and torch
    versions in use (an agent told to reuse its Python environment installs nothing)."""
    from importlib.metadata import PackageNotFoundError, version

    from clearml import Task

    for name in REQUIREMENTS:
        try:
            Task.add_requirements(name, version(name))
        except PackageNotFoundError:  # run from a source tree
            Task.add_requirements(name)


def runner_entry_point(command: list[str], detected_entry: str | None) -> str:
    """The entry point the agent runs: the program under the runner, ``-m yolo_clearml_patch ...``.

    ``detected_entry``: the script's path as ClearML recorded it (relative to the working directory).
    """
    if command and command[0] not in {"-m", "yolo"} and detected_entry:
        command = [detected_entry, *command[1:]]
    return shlex.join(["-m", RUNNER, *command])


def queue_ready(name: str) -> QueueState:
    """The queue ``name``, checked before anything is created: online, a server that answers, the
    queue exists. Raises ConfigurationError saying what is missing."""
    from clearml import Task

    where = f"cannot send this training to ClearML queue {name!r}"
    if Task.is_offline() or settings.offline() == "1":
        raise ConfigurationError(f"{where} in offline mode: an agent takes Tasks from a server")
    if not clearml_configured():
        raise ConfigurationError(f"{where}: ClearML is not configured (clearml-init, or the CLEARML_API_* variables)")
    host, timeout = server_host(), settings.server_timeout()
    if not server_answers(host, timeout)[0]:
        raise ConfigurationError(f"{where}: the ClearML server {host} does not answer within {timeout:g} s")
    return find_queue(name)


def _runner_script(script: Any, command: list[str]) -> dict[str, str]:
    """The Task's script fields (ClearML's ``Script`` names) that run ``command`` through the runner."""
    detected = getattr(script, "entry_point", None) or None
    entry = runner_entry_point(command, detected)
    if command and command[0] == "yolo":  # Ultralytics' command line: no script to record
        return {"repository": "", "branch": "", "version_num": "", "diff": "", "working_dir": ".", "entry_point": entry}
    working_dir = getattr(script, "working_dir", None) or "."
    if not getattr(script, "repository", None) and command and command[0] != "-m":
        # a standalone script (its code is in the Task): the agent writes it to the file named after
        # the colon, then runs the module entry point beside it
        working_dir = f"{working_dir.split(':', 1)[0]}:{os.path.basename(detected or command[0])}"
    return {"working_dir": working_dir, "entry_point": entry}


def record_runner(task: Any) -> None:
    """Make the Task's recorded program run through the shim's runner on the agent.

    After ClearML's repository detection, one ``tasks.edit`` of the script, sent without ClearML's
    Task lock (``set_script`` holds it through its requests): while the server does not answer,
    other threads' Task calls go on.
    """
    task._wait_for_repo_detection(timeout=REPO_DETECTION_TIMEOUT)
    script = task.data.script
    if script is None:
        return
    for name, value in _runner_script(script, program()).items():
        setattr(script, name, value)  # the local copy too: ClearML sends it whole when it edits the script
    from clearml.backend_api.services import tasks as tasks_api

    task.send(tasks_api.EditRequest(task=task.id, script=script, force=True))


def record_for_agents(task: Any) -> None:
    """A training's own Task records its program as the runner runs it (:func:`record_runner`), so that
    a clone of it (from the UI, or a search's trial) runs on an agent with the shim on and the same
    arguments. Not from a notebook, whose program is the kernel, nor from ``python -c``, which has no
    program to rerun."""
    if "ipykernel" in sys.modules or task.is_offline() or program()[:1] == ["-c"]:
        return
    record_runner(task)


def send(task: Any, queue: QueueState) -> None:
    """Enqueue ``task`` in ``queue`` and end this process (exit 0): the training runs on an agent."""
    log = logger()
    log.warning(f"sending this training to ClearML queue {queue.name!r}; it does not train here")
    log.warning(f"ClearML Task page: {task.get_output_log_web_page()}")
    log.warning(queue.describe())
    task.execute_remotely(queue_name=queue.name, clone=False, exit_process=True)
