"""``data="clearml://..."`` where Ultralytics resolves its dataset: ``BaseTrainer.get_dataset`` (every
training process: single, DDP launcher and workers, tuner iterations, resume) and a standalone
``BaseValidator.__call__`` (``model.val()``, ``yolo val``, a training's final validation).

For the call, ``args.data`` is the local copy's data yaml (the class folders for classification);
after it, the ``clearml://`` string again, so that "General", ``args.yaml``, the checkpoints and the
DDP workers keep it, and each process resolves it itself from the shared cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..clearml_side.datasets import LocalDataset, is_dataset_uri, resolve


@contextmanager
def local_data(owner: Any) -> Iterator[LocalDataset | None]:
    """While inside: ``owner.args.data`` is the local copy of its ``clearml://`` dataset (yielded), or
    unchanged (None) for any other data. A dataset that cannot be used raises ``DatasetError``."""
    args = getattr(owner, "args", None)
    uri = getattr(args, "data", None)
    if not is_dataset_uri(uri):
        yield None
        return
    local = resolve(uri, classify=getattr(args, "task", None) == "classify")
    args.data = local.data
    try:
        yield local
    finally:
        if args.data == local.data or not is_dataset_uri(args.data):  # Ultralytics may set its resolved yaml
            args.data = uri
