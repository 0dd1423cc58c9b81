"""Error isolation: the shim's own failures are logged once and never break training."""

from __future__ import annotations

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
