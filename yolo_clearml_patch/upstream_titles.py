"""Titles as the installed Ultralytics' own ClearML callback uses them, so dashboards keep working.

Ultralytics before 8.3.173 reported every validation metric under the title "val"; later versions
use the key's prefix ("metrics" or "val").
"""

from __future__ import annotations

from functools import lru_cache

SINGLE_VAL_TITLE_BEFORE = "8.3.173"


@lru_cache(maxsize=1)
def _single_val_title() -> bool:
    import ultralytics

    from .compat import in_range

    return in_range(ultralytics.__version__, f"<{SINGLE_VAL_TITLE_BEFORE}")


def metric_title(key: str) -> str:
    """The ClearML title of the trainer metric ``key`` (e.g. ``metrics/mAP50(B)``)."""
    return "val" if _single_val_title() else key.split("/")[0]
