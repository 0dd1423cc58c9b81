"""Loaded by every Python process started under ``python -m yolo_clearml_patch``.

It runs the next ``sitecustomize`` on ``sys.path`` (the user's or the environment's own), then
turns the shim on. Any failure leaves the process as it would be without the shim.
"""

import os
import sys


def _chain_to_next_sitecustomize() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    saved_path = sys.path[:]
    mine = sys.modules.pop("sitecustomize", None)
    try:
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
        __import__("sitecustomize")
    except ImportError:
        pass
    finally:
        sys.path[:] = saved_path
        if mine is not None and "sitecustomize" not in sys.modules:
            sys.modules["sitecustomize"] = mine


try:
    _chain_to_next_sitecustomize()
except Exception as exc:  # the user's sitecustomize failed: report it as Python would, then go on
    sys.stderr.write(f"Error in sitecustomize; set PYTHONVERBOSE for traceback:\n{type(exc).__name__}: {exc}\n")

try:  # noqa: SIM105  (no contextlib import in every process)
    import yolo_clearml_patch  # noqa: F401  (importing turns the shim on, unless switched off)
except Exception:
    pass
