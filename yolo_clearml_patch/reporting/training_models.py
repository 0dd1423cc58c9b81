"""A training's output models: ``epochN.pt`` checkpoints and ``last.pt`` when Ultralytics keeps them
(``save_period > 0``), and ``best.pt`` as the final model, each with the class names as its labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..clearml_side.offline_model import register_output_model
from ..clearml_side.once_logger import OnceLogger
from .run_outputs import label_enumeration


def keeps_checkpoints(trainer: Any) -> bool:
    """``save_period > 0``: Ultralytics keeps ``epochN.pt`` checkpoints, and the shim registers them."""
    return (getattr(trainer, "save_period", 0) or 0) > 0


def labels_of(trainer: Any) -> dict[str, int] | None:
    return label_enumeration(getattr(trainer, "data", {}).get("names"))


def checkpoint_job(trainer: Any) -> tuple | None:
    """After ``on_model_save``: the periodic checkpoint to register (with its epoch), if there is one."""
    checkpoint = Path(trainer.wdir) / f"epoch{trainer.epoch}.pt"
    if keeps_checkpoints(trainer) and trainer.epoch % trainer.save_period == 0 and checkpoint.exists():
        return checkpoint, f"{trainer.args.name}_epoch{trainer.epoch}", trainer.epoch, labels_of(trainer)
    return None


def final_models(trainer: Any) -> list[tuple]:
    """At train end: ``last.pt`` too when checkpoints are kept; ``best.pt`` (else ``last.pt``) is the
    final model. Each as ``register``'s arguments after ``out``, taken now."""
    last, best = Path(trainer.last), Path(trainer.best)
    name, epoch, labels = str(trainer.args.name), trainer.epoch, labels_of(trainer)
    models = [(last, f"{name}_last", epoch, labels)] if keeps_checkpoints(trainer) and last.exists() else []
    final = best if best.exists() else last
    if final.exists():
        models.append((final, name, epoch, labels))
    return models


def register(out: OnceLogger, weights: Path, name: str, iteration: int, labels: Any) -> None:
    """Register ``weights`` as an output model, on the Delivery's worker (an upload can block)."""
    stored_as = f"{out.label}_{weights.name}" if out.label else None  # best.pt of two trainings in one Task
    job = (register_output_model, out.task, weights, name, iteration, stored_as, labels)
    out.delivery.submit(f"registering {name}", *job, kind="models")
