"""Which ClearML Task a training (or a validation, a tune run, a sync) reports to: the one place that
decides it, locally, on an agent, in a tuning iteration or a search trial.

Callers describe what they are (project, name, type, a resumed run's record, a parent Task, tags);
:func:`task_for` applies the rules and the offline policy, and bounds the process exit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..base import settings
from ..base.guard import bounded, warn_once
from ..base.log import logger
from . import exit_guard
from .offline_policy import clearml_configured, go_offline, load_clearml_config, server_host, use_offline_mode
from .own_tasks import close_task, remember, used_by_a_training


def project_name(project: Any) -> str:
    """The ClearML project for Ultralytics' ``project`` arg.

    Upstream strips a leading "/", so an absolute run directory becomes a deep project path that
    ClearML's lookup breaks on; the shim uses the directory's last component instead.
    """
    override = settings.project()
    if override:
        return override
    if not project:
        return "Ultralytics"
    text = str(project)
    if os.path.isabs(text):
        return Path(text).name or "Ultralytics"
    return text.lstrip("/") or "Ultralytics"


def disable_framework_bindings() -> None:
    """Switch off ClearML's automatic PyTorch and Matplotlib bindings for the current Task."""
    from clearml.binding.frameworks.pytorch_bind import PatchPyTorchModelIO
    from clearml.binding.matplotlib_bind import PatchedMatplotlib

    PatchPyTorchModelIO.update_current_task(None)
    PatchedMatplotlib.update_current_task(None)


def _init_task(
    task_cls: Any, project: Any, name: str, task_type: str, continue_id: str | None = None, options: dict | None = None
) -> Any:
    """``Task.init`` for a new Task, or continuing ``continue_id`` (a resumed training, a sync): with
    ``continue_last_task=0`` ClearML adds no iteration offset, so epochs keep their numbers.
    ``options``: more ``Task.init`` arguments (``auto_connect_frameworks`` entries are merged)."""
    options = dict(options or {})
    frameworks = {"pytorch": False, "matplotlib": False, **options.pop("auto_connect_frameworks", {})}
    return task_cls.init(
        project_name=project_name(project),
        task_name=name,
        task_type=task_type,
        tags=settings.tags(),
        output_uri=True,
        reuse_last_task_id=continue_id or False,
        continue_last_task=0 if continue_id else False,
        auto_connect_frameworks=frameworks,
        **options,
    )


def _continuable(record: dict | None, offline: bool) -> str | None:
    """The Task id of an interrupted run to continue: recorded online, on the server in use."""
    if not record or offline or not record.get("server"):
        return None
    return record["task_id"] if record["server"].rstrip("/") == server_host().rstrip("/") else None


def detach_from_parent_task() -> None:
    """In a child process that is not a DDP worker, forget the parent's Task.

    ClearML passes the parent's Task on through ``CLEARML_PROC_MASTER_ID``, so every child process
    (a ``yolo train`` subprocess, a tuner iteration) would report into it. A DDP worker
    (``LOCAL_RANK`` set by torch.distributed.run) keeps it: it reports to the launcher's Task.
    """
    master = os.environ.get("CLEARML_PROC_MASTER_ID") or os.environ.get("TRAINS_PROC_MASTER_ID") or ""
    pid = master.split(":")[0]
    if pid and pid != str(os.getpid()) and os.environ.get("LOCAL_RANK") is None:
        os.environ.pop("CLEARML_PROC_MASTER_ID", None)
        os.environ.pop("TRAINS_PROC_MASTER_ID", None)


def task_of_record(record: dict | None) -> Any:
    """The Task a run directory's record names, fetched from its server (bounded); None offline or
    when the server does not give it in time."""
    from clearml import Task

    if not record or not record.get("server") or Task.is_offline() or not clearml_configured():
        return None
    return bounded("fetching the Task that trained the weights", lambda: Task.get_task(task_id=record["task_id"]))[1]


def task_for(
    project: Any,
    name: str,
    task_type: str = "training",
    fresh: bool = False,
    resumes: dict | None = None,
    init_options: dict | None = None,
    parent: str | None = None,
    tags: tuple[str, ...] = (),
) -> Any:
    """Return the Task to report to, the one place that decides it for every lifecycle.

    - the user's Task (``Task.init`` before training), an agent's, or a DDP launcher's: that one;
    - with ``fresh`` (a training), a Task the shim created for an earlier training is closed first,
      so that each training gets its own Task; without it (``model.val()``), that earlier Task, where
      the user looks for it;
    - a resumed training (``resumes``: the run directory's record) continues its Task online, with
      the same id; offline, ClearML cannot continue a session, so the new Task names the first
      as its parent, and the shim says so;
    - otherwise a new Task in Ultralytics' ``project``, a child of ``parent`` (a tuning iteration's
      optimizer Task) when given, with ``tags`` added.

    ``sync`` asks the same question for a run directory (``resumes``: its record, or ``--task``),
    with ``init_options`` that keep the sync process's own arguments, console and machine out of it.

    A new Task reports from threads rather than ClearML's forked subprocess: forking while
    Ultralytics' threads are alive can deadlock the process at exit.
    """
    try:
        from clearml import Task
    except ImportError:
        warn_once("no clearml", "clearml is not installed: this training is not reported to ClearML")
        return None
    load_clearml_config()  # before anything reads it: the training thread may load it at the same time
    # read by Task.init, which current_task() also calls in a child of a process that has a Task
    Task._report_subprocess_enabled = False
    detach_from_parent_task()
    task = Task.current_task()
    if task is not None and not (fresh and used_by_a_training(task)):
        disable_framework_bindings()
        return _guard_exit(task)
    if task is not None and not close_task(task):
        logger().warning(  # every time: each such training is one that is not reported
            f"ClearML could not close the previous training's Task {task.id} within "
            f"{settings.flush_timeout():g} s: this training is not reported (its run directory has the data)"
        )
        return None
    offline = use_offline_mode(Task)
    if offline is None:
        return None
    if not offline:  # the exit stays bounded even if Task.init never returns (a server that stops answering now)
        exit_guard.install(server_host())
    continue_id = _continuable(resumes, offline)
    try:
        task = _init_task(Task, project, name, task_type, continue_id, init_options)
    except Exception as exc:
        if offline or go_offline(Task, f"Task.init failed ({type(exc).__name__}: {exc})") is None:
            raise
        task = _init_task(Task, project, name, task_type, options=init_options)
    if parent:
        task.set_parent(parent)
    if tags:
        task.add_tags(list(tags))
    if resumes and task.id != resumes["task_id"]:
        task.set_parent(resumes["task_id"])
        logger().info(
            f"a new ClearML Task {task.id}, whose parent is the run's earlier Task "
            f"{resumes['task_id']} (ClearML continues a Task only online, on the same server)"
        )
    elif resumes:
        logger().info(f"continuing ClearML Task {task.id}")
    from clearml.config import running_remotely

    if not running_remotely():
        remember(task)
    return _guard_exit(task)


def _guard_exit(task: Any) -> Any:
    """Bound the process exit and SIGTERM for a process that reports to ``task``."""
    exit_guard.install(None if task.is_offline() else server_host())
    return task
