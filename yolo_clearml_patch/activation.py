"""Turning the shim on and off, cheaply.

Nothing heavy is imported here. While Ultralytics is not imported, ``patch()`` only puts a tiny
finder on ``sys.meta_path``; the first import of any ``ultralytics`` module hands over to
:mod:`.ultralytics_side.install`, which registers the wrapt post-import hooks that patch
``BaseTrainer`` and ``BaseValidator`` when their modules load.
"""

from __future__ import annotations

import os
import sys

from .base import switch

BOOTSTRAP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_bootstrap")


class _UltralyticsImportTrigger:
    """A ``sys.meta_path`` entry that arms the wrapt hooks when Ultralytics is first imported."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname == "ultralytics" or fullname.startswith("ultralytics."):
            _remove_trigger()
            _arm()
        return None  # never loads anything itself


_trigger = _UltralyticsImportTrigger()


def _remove_trigger() -> None:
    while _trigger in sys.meta_path:
        sys.meta_path.remove(_trigger)


def _arm() -> None:
    """Ultralytics is being imported: now (and only now) the Ultralytics side, and wrapt, load.

    The one import from this cheap module to the heavy side; the import contract names it.
    """
    try:
        from .ultralytics_side import install
    except Exception as exc:  # a failing hook must never break the user's import
        from .base.guard import report_hook_error

        report_hook_error(exc)
        return
    install.arm()


def _set_bootstrap_in_pythonpath(present: bool) -> None:
    """Add or remove the bootstrap ``sitecustomize`` folder at the front of ``PYTHONPATH``.

    Child Python processes (Ultralytics' DDP workers among them) then start with the shim on.
    """
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != BOOTSTRAP_DIR]
    if present:
        parts.insert(0, BOOTSTRAP_DIR)
    if parts:
        os.environ["PYTHONPATH"] = os.pathsep.join(parts)
    else:
        os.environ.pop("PYTHONPATH", None)


def patch() -> None:
    """Turn the shim on, here and in child Python processes. Idempotent; patches at once if
    Ultralytics is already imported."""
    if not switch.turn_on():
        return
    _set_bootstrap_in_pythonpath(True)
    if "ultralytics" in sys.modules:
        _arm()
    elif _trigger not in sys.meta_path:
        sys.meta_path.insert(0, _trigger)


def unpatch() -> None:
    """Turn the shim off and restore Ultralytics' original methods."""
    _set_bootstrap_in_pythonpath(False)
    _remove_trigger()
    switch.turn_off()


def is_patched() -> bool:
    """Whether the shim is on (Ultralytics is patched now, or will be when it is imported)."""
    return switch.is_on()


def activate_from_environment() -> None:
    """Turn the shim on unless ``YOLO_CLEARML_PATCH`` says off; a malformed value warns and stays off."""
    from .base import settings

    try:
        state = settings.switch_state()
    except settings.ConfigurationError as exc:
        from .base.log import logger

        logger().warning(f"{exc}; the shim stays off")
        return
    if state is not False:
        patch()
