"""``clearml_task.json`` in a run directory: which ClearML Task the run reports to.

Written when a training starts (and by ``sync``), so that what comes later finds the Task again: an
export of the run's weights, a resumed training, and ``sync``, which completes that Task. It holds the Task id, name and
project, and the API server (``null`` for an offline session, whose folder it names instead).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .files import write_atomically

FILE_NAME = "clearml_task.json"


def write(save_dir: Any, task: Any, server: str | None) -> None:
    """Record ``task`` (a ClearML Task on the API server ``server``; offline: None) in the run
    directory ``save_dir``, replacing an earlier record."""
    offline = task.is_offline()
    record = {
        "task_id": task.id,
        "name": task.name,
        "project": task.get_project_name(),
        "server": None if offline else server,
        "offline_session": str(task.get_offline_mode_folder()) if offline else None,
    }
    path = Path(save_dir) / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(record, indent=2) + "\n")


def read(run_dir: Any) -> dict | None:
    """The record of ``run_dir``, or None when it has none (or an unreadable one)."""
    try:
        record = json.loads((Path(run_dir) / FILE_NAME).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("task_id") else None
