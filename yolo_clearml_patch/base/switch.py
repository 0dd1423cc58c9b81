"""Whether the shim is on: the one flag every wrapper reads, and what turning it off must undo.

``activation`` turns it on and off; the Ultralytics side reads it and registers, when it patches,
how to restore Ultralytics' originals (:func:`when_turned_off`), so the switch never imports it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~20 ms to import, and this module is on the cheap path
if TYPE_CHECKING:
    from collections.abc import Callable

_on = False
_undo: list[Callable[[], None]] = []


def is_on() -> bool:
    """Whether the shim is on (Ultralytics is patched now, or will be when it is imported)."""
    return _on


def turn_on() -> bool:
    """Turn on; False when it was on already."""
    global _on
    was, _on = _on, True
    return not was


def turn_off() -> None:
    """Turn off, then run what was registered to undo the patches (each once per registration)."""
    global _on
    _on = False
    for undo in list(_undo):
        undo()


def when_turned_off(undo: Callable[[], None]) -> None:
    """Register ``undo`` to run at every :func:`turn_off` (once, however often it is registered)."""
    if undo not in _undo:
        _undo.append(undo)
