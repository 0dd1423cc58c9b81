"""The values Ultralytics actually trained with, beside what the user asked for.

"General" keeps the args as the training started (what a clone or a search trial edits). Ultralytics
changes some of them afterwards: ``optimizer=auto`` picks the optimizer and ``lr0`` (and
``warmup_bias_lr``), an out-of-memory retry in the first epoch halves ``batch``, ``time=`` rewrites
``epochs``. Those go to a "Resolved" section, so the run can be reproduced.
"""

from __future__ import annotations

from typing import Any

SECTION = "Resolved"


def resolved(asked: dict[str, Any], now: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    """The args whose value now differs from what was asked, and not yet sent with that value."""
    changed = {k: v for k, v in now.items() if k in asked and v != asked[k]}
    return {k: v for k, v in changed.items() if k not in sent or sent[k] != v}


def as_parameters(values: dict[str, Any], section: str) -> dict[str, str]:
    """``{"<section>/<key>": "<value>"}``, as ClearML stores hyperparameters (strings)."""
    return {f"{section}/{k}": str(v) for k, v in values.items()}
