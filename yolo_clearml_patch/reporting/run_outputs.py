"""What Ultralytics saves in a run directory, named once for live reporting and ``sync``: the Mosaic
and Validation samples, and the class names as ClearML's label enumeration."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def validation_files(save_dir: Any) -> list[Path]:
    """The Validation samples Ultralytics saved in a run directory."""
    return sorted(Path(save_dir).glob("val*.jpg"))


def mosaic_files(save_dir: Any) -> list[Path]:
    """The Mosaic samples Ultralytics saved in a run directory."""
    return sorted(Path(save_dir).glob("train_batch*.jpg"))


def plot_images(save_dir: Any) -> list[Path]:
    """Every plot image Ultralytics saved in a run directory (not the batch samples)."""
    return [p for p in sorted(Path(save_dir).glob("*")) if p.suffix in {".png", ".jpg"} and "batch" not in p.name]


def label_enumeration(names: Any) -> dict[str, int] | None:
    """Ultralytics' class names (``{0: "person", ...}`` or a list) as ClearML's ``{"person": 0, ...}``."""
    if isinstance(names, dict):
        return {str(name): int(index) for index, name in names.items()}
    if isinstance(names, (list, tuple)):
        return {str(name): index for index, name in enumerate(names)}
    return None
