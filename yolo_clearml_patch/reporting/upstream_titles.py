"""Titles and iterations as Ultralytics' own ClearML callback and trainer give them, so dashboards
keep working.

- Ultralytics before 8.3.173 reported every validation metric under the title "val"; later versions
  use the key's prefix ("metrics" or "val").
- From 8.4.52, the final validation of ``best.pt`` runs ``on_fit_epoch_end`` one iteration after the
  last epoch.
"""

from __future__ import annotations

from functools import lru_cache

from ..base.compat import in_range

SINGLE_VAL_TITLE_BEFORE = "8.3.173"
FINAL_EVAL_STEP_FROM = "8.4.52"


@lru_cache(maxsize=8)
def _version_in(version: str | None, spec: str) -> bool:
    if version is None:
        import ultralytics

        version = ultralytics.__version__
    return in_range(version, spec)


def metric_title(key: str, version: str | None = None) -> str:
    """The ClearML title of the trainer metric ``key`` (e.g. ``metrics/mAP50(B)``) for Ultralytics
    ``version`` (default: the installed one)."""
    return "val" if _version_in(version, f"<{SINGLE_VAL_TITLE_BEFORE}") else key.split("/")[0]


def final_eval_has_own_step(version: str | None = None) -> bool:
    """Whether Ultralytics ``version`` reports the final validation's metrics at iteration ``epochs``."""
    return _version_in(version, f">={FINAL_EVAL_STEP_FROM}")
