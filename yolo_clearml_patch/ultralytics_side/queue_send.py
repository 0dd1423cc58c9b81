"""A training sent to a ClearML queue instead of training here (``--queue``, ``YOLO_CLEARML_QUEUE``,
``configure(queue=...)``).

In ``BaseTrainer.__init__``, before the trainer reads its args: the queue is checked, the Task is
created with the trainer args under "General" (editable in a clone) and the program recorded to run
through the shim's runner, then the Task is enqueued and the process exits 0. On the agent the same
program runs with the shim on; the queue setting is ignored there, so it is never sent again.
"""

from __future__ import annotations

from typing import Any

from ..base import settings
from ..clearml_side import remote_launch
from ..clearml_side.task_choice import task_for
from .remote_overrides import connect_before_init


def wanted() -> str | None:
    """The queue to send trainings to, or None to train here (always None on an agent)."""
    name = settings.queue()
    return None if not name or remote_launch.running_on_an_agent() else name


def send_training(name: str, cfg: Any, overrides: dict) -> None:
    """Create this training's Task, enqueue it in queue ``name`` and exit 0; raise before creating
    anything when it cannot be sent (offline, no server, no such queue)."""
    queue = remote_launch.queue_ready(name)
    remote_launch.add_requirements()
    task = task_for(overrides.get("project"), str(overrides.get("name") or "train"), fresh=True)
    if task is None or task.is_offline():
        raise settings.ConfigurationError(
            f"cannot send this training to ClearML queue {name!r}: its Task could not be created on the server"
        )
    connect_before_init(task, cfg, overrides)
    remote_launch.record_runner(task)
    remote_launch.send(task, queue)
