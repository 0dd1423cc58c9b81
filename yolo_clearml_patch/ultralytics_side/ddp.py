"""Whether a trainer launches DDP worker processes (the launcher reports nothing itself)."""

from __future__ import annotations

import os
from typing import Any


def launches_ddp(trainer: Any) -> bool:
    """Whether ``trainer.train()`` will start DDP worker processes rather than train itself."""
    if hasattr(trainer, "ddp"):  # Ultralytics 8.4+
        return bool(trainer.ddp)
    device = getattr(getattr(trainer, "args", None), "device", None)  # before 8.4: decided in train()
    if isinstance(device, str):
        count = len([d for d in device.split(",") if d.strip()])
    else:
        count = len(device) if isinstance(device, (list, tuple)) else 0
    return count > 1 and "LOCAL_RANK" not in os.environ
