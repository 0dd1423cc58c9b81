"""An Ultralytics run directory, read back and checked: what ``sync`` reports from it.

``RunDirectory.read`` reads everything first and raises :class:`RunDirectoryError` for a directory
that cannot be synced in full, so that a bad input touches nothing: not a run directory (no
``args.yaml``), a ``results.csv`` missing, truncated or not numeric, no ``weights/`` or no
checkpoint in it, an unreadable image or checkpoint.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
STILL_TRAINING_WITHIN = 600.0  # s: an unfinished run whose last.pt changed this recently may still be training


class RunDirectoryError(ValueError):
    """A directory that cannot be synced, and why."""


@dataclass
class RunDirectory:
    """What an Ultralytics training left in its run directory."""

    path: Path
    args: dict[str, Any]
    columns: list[str]  # results.csv's columns, as Ultralytics names them (``epoch``, ``time``, ``train/box_loss``...)
    rows: list[dict[str, float]]  # one per epoch, in order
    images: list[Path]  # every image in the directory (plots, Mosaic and validation samples)
    checkpoints: dict[str, Path]  # "best", "last", "epoch3"... -> weights/<name>.pt
    names: dict[int, str] | None = None  # class names, from the checkpoint
    model_info: dict[str, float] = field(default_factory=dict)  # model/parameters, model/GFLOPs
    final_metrics: dict[str, float] = field(default_factory=dict)  # the final model's metrics and fitness
    finished: bool = False  # the training ended (Ultralytics strips the optimizer from best.pt/last.pt then)
    version: str | None = None  # the Ultralytics version that trained it, from the checkpoint

    @property
    def name(self) -> str:
        return str(self.args.get("name") or self.path.name)

    def epoch_of(self, row: dict[str, float]) -> int:
        """The 0-based epoch (ClearML iteration) of a results.csv row (Ultralytics writes epoch + 1)."""
        return int(row["epoch"]) - 1

    def epoch_times(self) -> dict[int, float]:
        """Each epoch's duration from the cumulative ``time`` column (Ultralytics 8.4; none in 8.3)."""
        if "time" not in self.columns:
            return {}
        times, previous = {}, 0.0
        for row in self.rows:
            times[self.epoch_of(row)] = row["time"] - previous
            previous = row["time"]
        return times

    def still_training(self) -> bool:
        """An unfinished run whose ``last.pt`` changed in the last minutes: its training may still be going."""
        last = self.checkpoints.get("last")
        return not self.finished and last is not None and time.time() - last.stat().st_mtime < STILL_TRAINING_WITHIN

    @classmethod
    def read(cls, path: str | Path) -> RunDirectory:
        """Read and check ``path``; raises :class:`RunDirectoryError` naming what is wrong."""
        path = Path(path)
        if not path.is_dir():
            raise RunDirectoryError(f"{path}: not a directory")
        args = _read_args(path)
        columns, rows = _read_results(path / "results.csv")
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        for image in images:
            _check_image(image)
        run = cls(path, args, columns, rows, images, _checkpoints(path))
        _read_checkpoint(run)
        return run


def _read_args(path: Path) -> dict[str, Any]:
    import yaml

    file = path / "args.yaml"
    if not file.is_file():
        raise RunDirectoryError(f"{path}: not an Ultralytics run directory (no args.yaml)")
    try:
        args = yaml.safe_load(file.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RunDirectoryError(f"{file}: unreadable ({exc})") from None
    if not isinstance(args, dict):
        raise RunDirectoryError(f"{file}: not Ultralytics training arguments")
    return args


def _read_results(file: Path) -> tuple[list[str], list[dict[str, float]]]:
    """results.csv: a header and one complete numeric row per epoch (8.3 pads its columns with spaces)."""
    if not file.is_file():
        raise RunDirectoryError(f"{file.parent}: no results.csv (the per-epoch metrics)")
    text = file.read_text(errors="replace")
    if not text.endswith("\n"):
        raise RunDirectoryError(f"{file}: truncated (its last line is incomplete)")
    lines = list(csv.reader(text.splitlines()))
    columns = [c.strip() for c in lines[0]] if lines else []
    if "epoch" not in columns:
        raise RunDirectoryError(f"{file}: not an Ultralytics results.csv (no epoch column)")
    rows: list[dict[str, float]] = []
    for number, line in enumerate(lines[1:], start=2):
        if len(line) != len(columns):
            raise RunDirectoryError(f"{file}: truncated at line {number} ({len(line)} of {len(columns)} values)")
        try:
            values = [float(v) for v in line]
        except ValueError:
            raise RunDirectoryError(f"{file}: line {number} is not numeric") from None
        row = dict(zip(columns, values))
        if rows and row["epoch"] <= rows[-1]["epoch"] or not math.isfinite(row["epoch"]):
            raise RunDirectoryError(f"{file}: line {number}: epochs out of order")
        rows.append(row)
    if not rows:
        raise RunDirectoryError(f"{file}: no epochs")
    return columns, rows


def _check_image(image: Path) -> None:
    import cv2
    import numpy as np

    data = np.fromfile(str(image), dtype=np.uint8) if image.stat().st_size else None
    if data is None or cv2.imdecode(data, cv2.IMREAD_UNCHANGED) is None:
        raise RunDirectoryError(f"{image}: unreadable image")


def _checkpoints(path: Path) -> dict[str, Path]:
    weights = path / "weights"
    if not weights.is_dir():
        raise RunDirectoryError(f"{path}: no weights/ directory")
    found = {p.stem: p for p in sorted(weights.glob("*.pt"))}
    if "best" not in found and "last" not in found:
        raise RunDirectoryError(f"{weights}: neither best.pt nor last.pt")
    return found


def _read_checkpoint(run: RunDirectory) -> None:
    """Class names, model size, final metrics and whether training finished, from best.pt (else last.pt)."""
    from ultralytics.nn.tasks import torch_safe_load
    from ultralytics.utils.torch_utils import get_flops, get_num_params

    file = run.checkpoints.get("best") or run.checkpoints["last"]
    try:
        checkpoint, _ = torch_safe_load(str(file))
        model = (checkpoint.get("ema") or checkpoint["model"]).float()  # a training's checkpoint keeps the EMA
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise RunDirectoryError(f"{file}: not a readable Ultralytics checkpoint ({reason})") from None
    names = getattr(model, "names", None)
    run.names = dict(enumerate(names)) if isinstance(names, (list, tuple)) else names
    imgsz = run.args.get("imgsz") or 640
    run.model_info = {"model/parameters": get_num_params(model), "model/GFLOPs": round(get_flops(model, imgsz), 3)}
    metrics = checkpoint.get("train_metrics") or {}
    run.final_metrics = {k: v for k, v in metrics.items() if k.startswith("metrics/") or k == "fitness"}
    run.finished = checkpoint.get("epoch") == -1
    run.version = checkpoint.get("version")
