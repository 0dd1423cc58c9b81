"""Choosing the ClearML Task a training reports to, and the offline fallback."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from . import settings
from .guard import warn_once
from .log import logger


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


def clearml_configured() -> bool:
    """Whether ClearML has credentials, from the environment or a ``clearml.conf``."""
    from clearml.backend_api.session.defs import ENV_ACCESS_KEY, ENV_AUTH_TOKEN, ENV_SECRET_KEY
    from clearml.config import ConfigWrapper

    if ENV_AUTH_TOKEN.get():
        return True
    access = ENV_ACCESS_KEY.get() or ConfigWrapper.get("api.credentials.access_key", None)
    secret = ENV_SECRET_KEY.get() or ConfigWrapper.get("api.credentials.secret_key", None)
    return bool(access and secret)


def disable_framework_bindings() -> None:
    """Switch off ClearML's automatic PyTorch and Matplotlib bindings for the current Task."""
    from clearml.binding.frameworks.pytorch_bind import PatchPyTorchModelIO
    from clearml.binding.matplotlib_bind import PatchedMatplotlib

    PatchPyTorchModelIO.update_current_task(None)
    PatchedMatplotlib.update_current_task(None)


def _go_offline(task_cls: Any, reason: str) -> bool | None:
    """Record offline because of ``reason``, unless the policy forbids it (then: no reporting)."""
    if settings.offline() == "0":
        warn_once("no server", f"{reason} and {settings.OFFLINE_VAR}=0: this run is not reported")
        return None
    logger().info(f"{reason}: recording this run in ClearML's offline session")
    task_cls.set_offline(True)
    return True


def _use_offline_mode(task_cls: Any) -> bool | None:
    """Apply the offline policy. True: offline; False: online; None: do not report at all.

    An online server is used only if it answers within the configured bound, so a dead or
    hanging server never blocks training for longer than that.
    """
    if task_cls.is_offline():  # CLEARML_OFFLINE_MODE=1, Task.set_offline(True), or a parent's offline Task
        return True
    if settings.offline() == "1":
        task_cls.set_offline(True)
        return True
    if not clearml_configured():
        return _go_offline(task_cls, "ClearML is not configured (no clearml.conf, no CLEARML_API_* keys)")
    timeout, started = settings.server_timeout(), time.monotonic()  # the bound covers the whole check
    from clearml.backend_api import Session

    from .server_probe import server_answers

    host = Session.get_api_server_host()
    answered, _ = server_answers(host, max(0.0, timeout - (time.monotonic() - started)))
    if not answered:
        waited = time.monotonic() - started
        reason = f"the ClearML server {host} did not answer within {timeout:g} s (waited {waited:.1f} s)"
        return _go_offline(task_cls, reason)
    return False


def choose_mode() -> bool | None:
    """Apply the offline policy now: True offline, False online (the server answered), None when
    nothing may be reported (no server and ``YOLO_CLEARML_OFFLINE=0``)."""
    from clearml import Task

    return _use_offline_mode(Task)


def server_host() -> str:
    """The configured ClearML API server."""
    from clearml.backend_api import Session

    return Session.get_api_server_host()


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
    from clearml.backend_api import Session

    return record["task_id"] if record["server"].rstrip("/") == Session.get_api_server_host().rstrip("/") else None


_created: dict[str, bool] = {}  # Tasks this process created, by id -> whether a training has reported to it


def created_by_shim(task: Any) -> bool:
    """Whether ``task`` is one the shim created (not the user's, an agent's or a DDP launcher's)."""
    return task.id in _created


def claim_for_training(task: Any) -> None:
    """Mark a Task the shim created as used by a training: the next training gets a new Task."""
    if task.id in _created:
        _created[task.id] = True


def _detach_from_parent_task() -> None:
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


def bounded(what: str, func: Any, *args: Any) -> tuple[bool, Any]:
    """Run ``func(*args)`` on a helper thread and wait at most the flush bound: (finished, result).

    For the synchronous ClearML calls that must not hold the caller longer than that; an
    unfinished call goes on in the background. The shim's own errors are guarded (result None).
    """
    import threading

    from .guard import guarded

    finished = threading.Event()
    result: list[Any] = [None]

    def call() -> None:
        try:
            result[0] = guarded(what, func, *args)
        finally:
            finished.set()

    threading.Thread(target=call, name="yolo_clearml_patch-bounded", daemon=True).start()
    done = finished.wait(settings.flush_timeout())
    return done, result[0]


def tell_clearml_at_exit(**state: Any) -> None:
    """Set what ClearML's exit hook knows of how the process ends (``exception``, ``signal``,
    ``remote_user_aborted``): ClearML marks the main Task failed, stopped or completed from it when
    the Task closes. The hook is private to ClearML (``Task.__exit_hook``, 1.16 to 2.x); without it,
    nothing is set."""
    from clearml import Task

    hook = getattr(Task, "_Task__exit_hook", None)
    for name, value in state.items():
        if hook is not None and hasattr(hook, name):
            setattr(hook, name, value)


def close_task(task: Any, error: BaseException | None = None) -> bool:
    """Close a Task the shim created, within the flush bound, once what was reported to it is
    delivered (within the same bound); True if it closed in time.

    ClearML's ``close`` marks it completed, or, with ``error`` (handed to ClearML's exit hook, as an
    uncaught exception would be), failed (stopped for a KeyboardInterrupt). A Task is closed when
    its training failed, or when the next training starts, so that each training has its own.
    """

    deadline = time.monotonic() + settings.flush_timeout()

    def close() -> None:
        from .delivery import wait_for_task

        wait_for_task(task, deadline)  # what is still on its way (a model being registered) goes first
        tell_clearml_at_exit(exception=error)
        try:
            task.close()
        finally:
            tell_clearml_at_exit(exception=None, remote_user_aborted=False)  # the hook outlives this Task

    _created.pop(task.id, None)
    closed = bounded("closing a training's Task", close)[0]
    if closed:
        _release_resource_monitor(task)
    return closed


def _release_resource_monitor(task: Any) -> None:
    """Let a closed Task go: ClearML keeps every Task's resource monitor, and through it the Task, in
    a class-level list for the life of the process (``ResourceMonitor._resource_monitor_instances``,
    1.16 to 2.x), so each training in a notebook would keep its Task. The monitor itself was stopped
    by ``close``."""
    try:
        from clearml.utilities.resource_monitor import ResourceMonitor
    except ImportError:
        return
    instances = getattr(ResourceMonitor, "_resource_monitor_instances", None)
    if isinstance(instances, list):
        instances[:] = [m for m in instances if getattr(m, "_task", None) is not task]


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
) -> Any:
    """Return the Task to report to, the one place that decides it for every lifecycle.

    - the user's Task (``Task.init`` before training), an agent's, or a DDP launcher's: that one;
    - with ``fresh`` (a training), a Task the shim created for an earlier training is closed first,
      so that each training gets its own Task; without it (``model.val()``), that earlier Task, where
      the user looks for it;
    - a resumed training (``resumes``: the run directory's record) continues its Task online, with
      the same id; offline, ClearML cannot continue a session, so the new Task names the first
      as its parent, and the shim says so;
    - otherwise a new Task in Ultralytics' ``project``.

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
    # read by Task.init, which current_task() also calls in a child of a process that has a Task
    Task._report_subprocess_enabled = False
    _detach_from_parent_task()
    task = Task.current_task()
    if task is not None and not (fresh and _created.get(task.id)):
        disable_framework_bindings()
        return _guard_exit(task)
    if task is not None and not close_task(task):
        logger().warning(  # every time: each such training is one that is not reported
            f"ClearML could not close the previous training's Task {task.id} within "
            f"{settings.flush_timeout():g} s: this training is not reported (its run directory has the data)"
        )
        return None
    offline = _use_offline_mode(Task)
    if offline is None:
        return None
    if not offline:  # the exit stays bounded even if Task.init never returns (a server that stops answering now)
        from . import exit_guard

        exit_guard.install(server_host())
    continue_id = _continuable(resumes, offline)
    from .tuning import iteration_of_parent

    tuned = iteration_of_parent() if fresh else None
    if tuned:
        name = f"{tuned[1]} iteration {tuned[2]}"
    try:
        task = _init_task(Task, project, name, task_type, continue_id, init_options)
    except Exception as exc:
        if offline or _go_offline(Task, f"Task.init failed ({type(exc).__name__}: {exc})") is None:
            raise
        task = _init_task(Task, project, name, task_type, options=init_options)
    if tuned:  # a tuning iteration's training: a child of the optimizer Task
        task.set_parent(tuned[0])
        task.add_tags([f"iteration {tuned[2]}"])
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
        _created[task.id] = False
    return _guard_exit(task)


def _guard_exit(task: Any) -> Any:
    """Bound the process exit and SIGTERM for a process that reports to ``task``."""
    from clearml.backend_api import Session

    from . import exit_guard

    exit_guard.install(None if task.is_offline() else Session.get_api_server_host())
    return task


def offline_import_hint(task: Any) -> str | None:
    """For an offline Task, say where its session is and how to import it into a server."""
    if not task.is_offline():
        return None
    folder = Path(task.get_offline_mode_folder())
    archive = f"{folder}.zip"
    return (
        f"ClearML offline session: {folder} (zipped to {archive} when the process exits). "
        f"Import it into a ClearML server with: "
        f"python -c \"from clearml import Task; Task.import_offline_session('{archive}')\""
    )
