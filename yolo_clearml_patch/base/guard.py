"""Error and time isolation: the shim's own failures are logged once and never break training, and
its blocking calls never hold the caller past their bound."""

from __future__ import annotations

import threading
from typing import Any, Callable

from . import settings
from .log import logger

_warned: set[str] = set()


def guarded(what: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``func``; on error log one warning per ``what`` and return None (re-raise in strict mode)."""
    try:
        return func(*args, **kwargs)
    except Exception as exc:
        handle(what, exc)
        return None


def handle(what: str, exc: Exception) -> None:
    """Deal with the shim's own error ``exc``: re-raise in strict mode, else warn once."""
    if settings.strict():
        raise exc
    warn_once(what, f"{what} failed, reporting continues without it: {type(exc).__name__}: {exc}")


def warn_once(key: str, message: str) -> None:
    """Log ``message`` as a warning the first time ``key`` is seen."""
    if key not in _warned:
        _warned.add(key)
        logger().warning(message)


def report_hook_error(exc: Exception) -> None:
    """A failure while patching Ultralytics: training runs without the shim (re-raised in strict mode)."""
    if settings.strict():
        raise exc
    logger().warning(f"could not patch Ultralytics, training runs without the shim: {type(exc).__name__}: {exc}")


def bounded(what: str, func: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
    """Run ``func(*args)`` on a helper thread and wait at most the flush bound: (finished, result).

    For the synchronous ClearML calls that must not hold the caller longer than that; an
    unfinished call goes on in the background. The shim's own errors are guarded (result None).
    """
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
