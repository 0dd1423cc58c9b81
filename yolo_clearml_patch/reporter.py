"""What one training reports to ClearML at each lifecycle point (same titles as upstream)."""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from .clearml_logging import OnceLogger
from .clearml_task import offline_import_hint, task_for
from .guard import guarded
from .log import logger
from .offline_model import register_output_model


class TrainingRun:
    """The ClearML reporting of one trainer, from pretrain start to train end."""

    def __init__(self, trainer: Any) -> None:
        self._trainer = weakref.ref(trainer)
        self.out: OnceLogger | None = None
        self._started = False
        self._mosaic_done = False

    @property
    def trainer(self) -> Any:
        return self._trainer()

    def start(self) -> None:
        """Pick or create the Task and record the trainer args under "General"."""
        if self._started:
            return
        self._started = True
        args = self.trainer.args
        task = task_for(args)
        if task is None:
            return
        self.out = OnceLogger(task)
        task.connect(vars(args), name="General")

    def train_epoch_end(self) -> None:
        trainer = self.trainer
        if trainer.epoch == 1:
            self._mosaic()
        for k, v in trainer.label_loss_items(trainer.tloss, prefix="train").items():
            self.out.scalar("train", k, v, trainer.epoch)
        for k, v in (getattr(trainer, "lr", None) or {}).items():
            self.out.scalar("lr", k, v, trainer.epoch)

    def fit_epoch_end(self) -> None:
        trainer = self.trainer
        self.out.scalar("Epoch Time", "Epoch Time", trainer.epoch_time, trainer.epoch)
        for k, v in (trainer.metrics or {}).items():
            self.out.scalar(k.split("/")[0], k, v, trainer.epoch)
        if trainer.epoch == 0:
            from ultralytics.utils.torch_utils import model_info_for_loggers

            for k, v in model_info_for_loggers(trainer).items():
                self.out.single(k, v)

    def val_end(self, validator: Any) -> None:
        self.out.debug_samples(sorted(Path(validator.save_dir).glob("val*.jpg")), "Validation")

    def train_end(self) -> None:
        """Plots, final metrics and the output model: each step guarded, so one failure loses no other."""
        trainer = self.trainer
        guarded("reporting Mosaic samples", self._mosaic)
        guarded("reporting final plots", self._final_plots, trainer)
        guarded("reporting final metrics", self._final_metrics, trainer)
        guarded("registering the output model", self._output_model, trainer)
        hint = offline_import_hint(self.out.task)
        if hint:
            logger().info(hint)

    def _mosaic(self) -> None:
        """Mosaic samples once: after epoch 1 as upstream, or at train end when there was one epoch."""
        if not self._mosaic_done:
            self._mosaic_done = True
            self.out.debug_samples(sorted(Path(self.trainer.save_dir).glob("train_batch*.jpg")), "Mosaic")

    def _final_plots(self, trainer: Any) -> None:
        validator_plots = getattr(trainer.validator, "plots", {}) or {}
        for f in [*trainer.plots.keys(), *validator_plots.keys()]:
            f = Path(f)
            if "batch" not in f.name:
                guarded(f"reporting plot {f.name}", self.out.png_plot, f.stem, f)

    def _final_metrics(self, trainer: Any) -> None:
        metrics = getattr(trainer.validator, "metrics", None)
        for k, v in (getattr(metrics, "results_dict", None) or {}).items():
            self.out.single(k, v)

    def _output_model(self, trainer: Any) -> None:
        weights = next((p for p in (Path(trainer.best), Path(trainer.last)) if p.exists()), None)
        if weights is not None:
            register_output_model(self.out.task, weights, name=str(trainer.args.name))
