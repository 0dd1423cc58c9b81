"""The Tasks the shim created in this process, and closing them: each training gets its own Task.

A Task is closed (bounded) when its training failed, when the next training starts, or when its
``Task.init`` returned during the process's exit (ClearML's own exit hook then never runs). How ClearML
marks it (completed, failed, stopped) is set through ClearML's exit hook (:func:`tell_clearml_at_exit`),
which is also told of a SIGTERM (registered with :mod:`.exit_guard`).
"""

from __future__ import annotations

import time
from typing import Any

from ..base import settings
from ..base.guard import bounded
from . import exit_guard
from .delivery import wait_for_task

_created: dict[str, bool] = {}  # Tasks this process created, by id -> whether a training has reported to it
_created_during_exit: set[str] = set()  # ids of those whose Task.init returned once the exit had begun


def remember(task: Any) -> None:
    """``task`` was created by the shim in this process (not the user's, an agent's or a launcher's)."""
    _created[task.id] = False
    if exit_guard.exiting():
        _created_during_exit.add(task.id)


def created_by_shim(task: Any) -> bool:
    """Whether ``task`` is one the shim created (not the user's, an agent's or a DDP launcher's)."""
    return task.id in _created


def claim_for_training(task: Any) -> None:
    """Mark a Task the shim created as used by a training: the next training gets a new Task."""
    if task.id in _created:
        _created[task.id] = True


def used_by_a_training(task: Any) -> bool:
    """Whether ``task`` is a Task the shim created that a training already reported to."""
    return bool(_created.get(task.id))


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


def _tell_clearml_of_signal(signum: int) -> None:
    tell_clearml_at_exit(signal=signum)


exit_guard.on_terminate(_tell_clearml_of_signal)


def close_if_created_during_exit(task: Any) -> None:
    """Close ``task`` if its ``Task.init`` returned once the process had begun to exit (a server slower
    than a short training): ClearML registers its exit hook in ``Task.init``, and Python runs no exit
    handler registered during the exit, so ClearML would neither mark the Task completed (or failed,
    from how the process ends) nor save its offline session. Called once its training's reports are
    delivered."""
    if task.id in _created_during_exit:
        ending = exit_guard.ending()
        close_task(task, ending.pop("exception"), **ending)


def close_task(task: Any, error: BaseException | None = None, **ending: Any) -> bool:
    """Close a Task the shim created, within the flush bound, once what was reported to it is
    delivered (within the same bound); True if it closed in time.

    ClearML's ``close`` marks it completed, or, with ``error`` (handed to ClearML's exit hook, as an
    uncaught exception would be), failed (stopped for a KeyboardInterrupt); ``ending`` sets more of
    ClearML's exit hook (``exit_code``, ``signal``). A Task is closed when its training failed, or
    when the next training starts, so that each training has its own.
    """

    deadline = time.monotonic() + settings.flush_timeout()

    def close() -> None:
        wait_for_task(task, deadline)  # what is still on its way (a model being registered) goes first
        tell_clearml_at_exit(exception=error, **ending)
        try:
            task.close()
        finally:
            tell_clearml_at_exit(exception=None, remote_user_aborted=False)  # the hook outlives this Task

    _created.pop(task.id, None)
    _created_during_exit.discard(task.id)
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
