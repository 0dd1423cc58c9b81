"""Arming the patches once Ultralytics is being imported: wrapt post-import hooks for the modules
:data:`.patching.TARGETS` names, behind the version gate. A failing hook never breaks the user's import.
"""

from __future__ import annotations

import sys

import wrapt

from ..base import switch
from ..base.compat import patching_allowed
from ..base.guard import report_hook_error
from . import patching

_hooks_registered = False
_versions_allowed: bool | None = None  # the version gate's answer, once asked


def arm() -> None:
    """Register the post-import hooks (they fire at once for modules already imported); after an
    earlier ``unpatch()``, re-apply the patches to the modules already loaded."""
    global _hooks_registered
    try:
        if not _hooks_registered:
            for name in patching.TARGETS:
                wrapt.register_post_import_hook(_on_module_imported, name)
            _hooks_registered = True
        else:
            for name in patching.TARGETS:
                if name in sys.modules:
                    _on_module_imported(sys.modules[name])
    except Exception as exc:  # a failing hook must never break the user's import
        report_hook_error(exc)


def _on_module_imported(module: object) -> None:
    """wrapt post-import hook: patch the freshly imported Ultralytics module if the shim is on."""
    global _versions_allowed
    if not switch.is_on():
        return
    try:
        if _versions_allowed is None:
            _versions_allowed = patching_allowed()
        if _versions_allowed:
            patching.apply(module)
    except Exception as exc:  # a failing hook must never break the user's import
        report_hook_error(exc)
