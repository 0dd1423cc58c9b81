"""``model.export(...)``: the exported file as an output model, with the class names as its labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..base import run_record
from ..base.log import logger
from ..clearml_side.offline_model import register_output_model
from ..clearml_side.once_logger import reporter_for
from ..clearml_side.task_choice import task_of_record
from .run_outputs import label_enumeration
from .summary import finish_report


def register_export(exporter: Any, exported: Any) -> None:
    """Register an exported model as an output model, with the class names as its labels.

    It goes to the current Task (after a training in the same process, that training's Task), else
    to the Task that trained the weights, which their run directory's ``clearml_task.json`` names
    (fetched from its server, bounded). Such a Task has completed, and ClearML no longer adds models
    to a completed Task's list: the model is created by that Task (its "task" field) in its project.
    With neither, it is not registered and the shim says so.
    """
    from clearml import Task

    source = Path(getattr(exporter, "file", "") or "")
    record = run_record.read(source.parent.parent) if source.name else None
    task = Task.current_task() or task_of_record(record)
    if task is None:
        logger().info(f"no ClearML Task to register the export {exported} with")
        return
    exported = Path(exported)
    name = f"{(record or {}).get('name') or source.stem}_{exported.suffix.lstrip('.') or exported.name}"
    labels = label_enumeration(getattr(getattr(exporter, "model", None), "names", None))
    if not exported.is_file():
        logger().info(f"the export {exported} is a folder: not registered as a model")
        return
    reporter = reporter_for(task, name)
    job = (register_output_model, task, exported, name, None, None, labels)
    reporter.delivery.submit(f"registering {name}", *job, kind="models")
    finish_report(reporter, exported.parent)
