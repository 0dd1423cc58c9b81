"""Choosing the ClearML Task a training reports to, and the offline fallback."""

from __future__ import annotations

import os
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


def _use_offline_mode(task_cls: Any) -> bool | None:
    """Apply the offline policy. True: offline; False: online; None: do not report at all."""
    policy = settings.offline()
    if task_cls.is_offline():  # CLEARML_OFFLINE_MODE=1 or Task.set_offline(True) by the user
        return True
    if policy == "1":
        task_cls.set_offline(True)
        return True
    if clearml_configured():
        return False
    if policy == "auto":
        logger().info("ClearML is not configured (no clearml.conf, no CLEARML_API_* keys): recording offline")
        task_cls.set_offline(True)
        return True
    warn_once("unconfigured", "ClearML is not configured and YOLO_CLEARML_OFFLINE=0: this run is not reported")
    return None


def task_for(args: Any) -> Any:
    """Return the Task for a training with Ultralytics ``args``: the user's current Task, or a new one.

    A new Task reports from threads rather than ClearML's forked subprocess: forking while
    Ultralytics' threads are alive can deadlock the process at exit.
    """
    try:
        from clearml import Task
    except ImportError:
        warn_once("no clearml", "clearml is not installed: this training is not reported to ClearML")
        return None
    task = Task.current_task()
    if task is not None:
        disable_framework_bindings()
        return task
    if _use_offline_mode(Task) is None:
        return None
    Task._report_subprocess_enabled = False
    return Task.init(
        project_name=project_name(getattr(args, "project", None)),
        task_name=str(getattr(args, "name", None) or "train"),
        tags=settings.tags(),
        output_uri=True,
        reuse_last_task_id=False,
        auto_connect_frameworks={"pytorch": False, "matplotlib": False},
    )


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
