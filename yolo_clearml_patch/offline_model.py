"""Registering an output model, also for offline Tasks.

ClearML's ``OutputModel.update_weights`` checks ``published`` before its own offline branch, and
in offline mode that check raises ``AttributeError: 'DummyModel' object has no attribute
'locked'`` (seen in clearml 1.16 and 2.1). An offline model can never be published, so for
offline Tasks only, a subclass answers ``published = False`` and ClearML's offline branch copies
the weights to ``<session>/models/`` and records them in ``offline_output_models``.
"""

from __future__ import annotations

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


def register_output_model(task: Any, weights: Path, name: str, iteration: int | None = None) -> str:
    """Register ``weights`` as an output model of ``task`` and return where they were stored."""
    from clearml import OutputModel

    model_cls = _offline_model_class() if task.is_offline() else OutputModel
    model = model_cls(task=task, name=name, framework="PyTorch")
    return model.update_weights(weights_filename=str(weights), iteration=iteration, auto_delete_file=False)
