"""Keep Ultralytics' built-in ClearML callback from running for objects the shim handles.

The callback stays enabled in the user's Ultralytics settings; it is only removed from the
callback lists of the trainer (and of the validator, which shares them) while the shim is on.
"""

from __future__ import annotations

from typing import Any

UPSTREAM_MODULE = "ultralytics.utils.callbacks.clearml"


def is_upstream_clearml(callback: Any) -> bool:
    """Whether ``callback`` is one of Ultralytics' own ClearML callbacks."""
    return getattr(callback, "__module__", None) == UPSTREAM_MODULE


def drop_upstream(callbacks: Any, event: str) -> None:
    """Remove the upstream ClearML callbacks registered for ``event``, in place."""
    if not isinstance(callbacks, dict):
        return
    registered = callbacks.get(event)
    if registered and any(is_upstream_clearml(cb) for cb in registered):
        registered[:] = [cb for cb in registered if not is_upstream_clearml(cb)]
