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


def _init_task(task_cls: Any, project: Any, name: str, task_type: str) -> Any:
    return task_cls.init(
        project_name=project_name(project),
        task_name=name,
        task_type=task_type,
        tags=settings.tags(),
        output_uri=True,
        reuse_last_task_id=False,
        auto_connect_frameworks={"pytorch": False, "matplotlib": False},
    )


def task_for(project: Any, name: str, task_type: str = "training") -> Any:
    """Return the Task to report to: the current Task, or a new one in Ultralytics' ``project``.

    A new Task reports from threads rather than ClearML's forked subprocess: forking while
    Ultralytics' threads are alive can deadlock the process at exit. In a child process of a
    process with a Task (a DDP worker), ClearML's ``Task.init`` returns that same Task.
    """
    try:
        from clearml import Task
    except ImportError:
        warn_once("no clearml", "clearml is not installed: this training is not reported to ClearML")
        return None
    # read by Task.init, which current_task() also calls in a child of a process that has a Task
    Task._report_subprocess_enabled = False
    task = Task.current_task()
    if task is not None:
        disable_framework_bindings()
        return _guard_exit(task)
    offline = _use_offline_mode(Task)
    if offline is None:
        return None
    try:
        return _guard_exit(_init_task(Task, project, name, task_type))
    except Exception as exc:
        if offline or _go_offline(Task, f"Task.init failed ({type(exc).__name__}: {exc})") is None:
            raise
        return _guard_exit(_init_task(Task, project, name, task_type))


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
