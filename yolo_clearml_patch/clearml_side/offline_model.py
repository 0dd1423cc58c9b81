"""Registering an output model, also for offline Tasks.

ClearML's ``OutputModel.update_weights`` checks ``published`` before its own offline branch, and
in offline mode that check raises ``AttributeError: 'DummyModel' object has no attribute
'locked'`` (seen in clearml 1.16 and 2.1). An offline model can never be published, so for
offline Tasks only, a subclass answers ``published = False`` and ClearML's offline branch copies
the weights to ``<session>/models/`` and records them in ``offline_output_models``.

ClearML writes an offline Task's state (``task.json``) from memory, and only the main process does
so at exit. A DDP worker attached to the launcher's Task is a ClearML subprocess, so the model it
registers is saved at once, and the launcher adopts such models before its own save at exit.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any


def _offline_model_class() -> type:
    from clearml import OutputModel

    class OfflineOutputModel(OutputModel):
        """An OutputModel of an offline Task, which can never be published."""

        @property
        def published(self) -> bool:
            return False

    return OfflineOutputModel


def register_output_model(
    task: Any,
    weights: Path,
    name: str,
    iteration: int | None = None,
    stored_as: str | None = None,
    labels: dict[str, int] | None = None,
) -> str:
    """Register ``weights`` as an output model of ``task`` and return where they were stored.

    ``stored_as``: the file name to store them under (default: the file's own name). ``labels``:
    the class names as ClearML's label enumeration (name -> index), which clearml-serving reads.
    """
    from clearml import OutputModel

    offline = task.is_offline()
    if offline and stored_as:  # offline, ClearML stores the file under its own name, ignoring target_filename
        with tempfile.TemporaryDirectory() as folder:
            renamed = Path(folder) / stored_as
            shutil.copyfile(weights, renamed)
            return register_output_model(task, renamed, name, iteration, labels=labels)
    model_cls = _offline_model_class() if offline else OutputModel
    model = model_cls(task=task, name=name, framework="PyTorch", label_enumeration=labels)
    stored = model.update_weights(
        weights_filename=str(weights), target_filename=stored_as, iteration=iteration, auto_delete_file=False
    )
    if offline:
        task._edit()  # save task.json now: a ClearML subprocess never saves it at exit
    return stored


def adopt_models_saved_by_children(task: Any) -> int:
    """Add to ``task`` the offline models that child processes saved in its session; return how many."""
    if not task.is_offline():
        return 0
    # under the Task's own edit lock: this process's ClearML threads rewrite task.json (truncate, write)
    with getattr(task, "_edit_lock", None) or contextlib.nullcontext():
        saved = json.loads((Path(task.get_offline_mode_folder()) / "task.json").read_text())
    known = {m.get("id") for m in task._offline_output_models}
    new = [m for m in saved.get("offline_output_models") or [] if m.get("id") not in known]
    task._offline_output_models.extend(new)
    return len(new)
