"""Online or offline: is ClearML configured, does its server answer within the bound, and the offline
session's import hint. The policy is ``YOLO_CLEARML_OFFLINE`` (see :mod:`..base.settings`)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from ..base import settings
from ..base.guard import warn_once
from ..base.log import logger
from .server_probe import server_answers

_config_lock = threading.Lock()


def load_clearml_config() -> None:
    """Load ClearML's configuration once, under a lock. Its parser (pyhocon over pyparsing) is not
    thread-safe, and two threads may load it first at once: the shim's start thread (``Task.init``)
    and the training thread (a ``clearml://`` dataset); a clash fails with ConfigWrongTypeException."""
    from clearml.config import ConfigWrapper

    with _config_lock:
        ConfigWrapper._init()


def clearml_configured() -> bool:
    """Whether ClearML has credentials, from the environment or a ``clearml.conf``."""
    from clearml.backend_api.session.defs import ENV_ACCESS_KEY, ENV_AUTH_TOKEN, ENV_SECRET_KEY
    from clearml.config import ConfigWrapper

    if ENV_AUTH_TOKEN.get():
        return True
    access = ENV_ACCESS_KEY.get() or ConfigWrapper.get("api.credentials.access_key", None)
    secret = ENV_SECRET_KEY.get() or ConfigWrapper.get("api.credentials.secret_key", None)
    return bool(access and secret)


def server_host() -> str:
    """The configured ClearML API server."""
    from clearml.backend_api import Session

    return Session.get_api_server_host()


def go_offline(task_cls: Any, reason: str) -> bool | None:
    """Record offline because of ``reason``, unless the policy forbids it (then: no reporting)."""
    if settings.offline() == "0":
        warn_once("no server", f"{reason} and {settings.OFFLINE_VAR}=0: this run is not reported")
        return None
    logger().info(f"{reason}: recording this run in ClearML's offline session")
    task_cls.set_offline(True)
    return True


def use_offline_mode(task_cls: Any) -> bool | None:
    """Apply the offline policy. True: offline; False: online; None: do not report at all.

    An online server is used only if it answers within the configured bound, so a dead or
    hanging server never blocks training for longer than that.
    """
    load_clearml_config()
    if task_cls.is_offline():  # CLEARML_OFFLINE_MODE=1, Task.set_offline(True), or a parent's offline Task
        return True
    if settings.offline() == "1":
        task_cls.set_offline(True)
        return True
    reason = server_unusable()
    return False if reason is None else go_offline(task_cls, reason)


def server_unusable() -> str | None:
    """Why the configured ClearML server cannot be used now (not configured, or no answer within
    the bound); None when it answered."""
    if not clearml_configured():
        return "ClearML is not configured (no clearml.conf, no CLEARML_API_* keys)"
    timeout, started = settings.server_timeout(), time.monotonic()  # the bound covers the whole check
    host = server_host()
    answered, _ = server_answers(host, max(0.0, timeout - (time.monotonic() - started)))
    if not answered:
        waited = time.monotonic() - started
        return f"the ClearML server {host} did not answer within {timeout:g} s (waited {waited:.1f} s)"
    return None


def choose_mode() -> bool | None:
    """Apply the offline policy now: True offline, False online (the server answered), None when
    nothing may be reported (no server and ``YOLO_CLEARML_OFFLINE=0``)."""
    from clearml import Task

    return use_offline_mode(Task)


def server_of(task: Any) -> str | None:
    """The API server ``task`` lives on; None for an offline Task."""
    return None if task.is_offline() else server_host()


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
