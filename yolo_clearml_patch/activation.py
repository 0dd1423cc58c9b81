"""Turning the shim on and off, cheaply.

Nothing heavy is imported here. While Ultralytics is not imported, ``patch()`` only puts a tiny
finder on ``sys.meta_path``; the first import of any ``ultralytics`` module makes it register wrapt
post-import hooks, which patch ``BaseTrainer`` and ``BaseValidator`` when their modules load.
"""

from __future__ import annotations

import os
import sys

BOOTSTRAP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_bootstrap")
_PATCHED_MODULES = tuple(
    f"ultralytics.engine.{name}" for name in ("trainer", "validator", "exporter", "tuner")
)  # the keys of patching.TARGETS

_enabled = False
_hooks_registered = False
_versions_allowed: bool | None = None  # the version gate's answer, once asked


class _UltralyticsImportTrigger:
    """A ``sys.meta_path`` entry that arms the wrapt hooks when Ultralytics is first imported."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname == "ultralytics" or fullname.startswith("ultralytics."):
            _remove_trigger()
            _register_hooks()
        return None  # never loads anything itself


_trigger = _UltralyticsImportTrigger()


def _remove_trigger() -> None:
    while _trigger in sys.meta_path:
        sys.meta_path.remove(_trigger)


def _register_hooks() -> None:
    """Register wrapt post-import hooks (they fire at once for modules already imported)."""
    global _hooks_registered
    try:
        if not _hooks_registered:
            import wrapt

            for name in _PATCHED_MODULES:
                wrapt.register_post_import_hook(_on_module_imported, name)
            _hooks_registered = True
        else:  # hooks exist from an earlier patch(): re-apply to modules already loaded
            for name in _PATCHED_MODULES:
                if name in sys.modules:
                    _on_module_imported(sys.modules[name])
    except Exception as exc:  # a failing hook must never break the user's import
        _report_hook_error(exc)


def _on_module_imported(module: object) -> None:
    """wrapt post-import hook: patch the freshly imported Ultralytics module if the shim is on."""
    global _versions_allowed
    if not _enabled:
        return
    try:
        if _versions_allowed is None:
            from .compat import patching_allowed

            _versions_allowed = patching_allowed()
        if not _versions_allowed:
            return
        from . import patching

        patching.apply(module)
    except Exception as exc:  # a failing hook must never break the user's import
        _report_hook_error(exc)


def _report_hook_error(exc: Exception) -> None:
    from . import settings
    from .log import logger

    if settings.strict():
        raise exc
    logger().warning(f"could not patch Ultralytics, training runs without the shim: {type(exc).__name__}: {exc}")


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
    global _enabled
    if _enabled:
        return
    _enabled = True
    _set_bootstrap_in_pythonpath(True)
    if "ultralytics" in sys.modules:
        _register_hooks()
    elif _trigger not in sys.meta_path:
        sys.meta_path.insert(0, _trigger)


def unpatch() -> None:
    """Turn the shim off and restore Ultralytics' original methods."""
    global _enabled
    _enabled = False
    _set_bootstrap_in_pythonpath(False)
    _remove_trigger()
    patching = sys.modules.get(f"{__package__}.patching")
    if patching is not None:
        patching.remove()  # type: ignore[attr-defined]


def is_patched() -> bool:
    """Whether the shim is on (Ultralytics is patched now, or will be when it is imported)."""
    return _enabled


def activate_from_environment() -> None:
    """Turn the shim on unless ``YOLO_CLEARML_PATCH`` says off; a malformed value warns and stays off."""
    from . import settings

    try:
        state = settings.switch_state()
    except settings.ConfigurationError as exc:
        from .log import logger

        logger().warning(f"{exc}; the shim stays off")
        return
    if state is not False:
        patch()
