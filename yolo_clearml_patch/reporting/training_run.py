"""The live reporting of one training, from pretrain start to train end: what each of Ultralytics'
lifecycle points reports, under the same titles as upstream's ClearML callback, and more."""

from __future__ import annotations

import logging
import os
import threading
import traceback
import weakref
from pathlib import Path
from typing import Any, Callable

from ..base import run_record, settings
from ..base.guard import guarded
from ..base.log import logger
from ..clearml_side import exit_guard, remote_launch
from ..clearml_side.datasets import record_input
from ..clearml_side.delivery import finish_in_background
from ..clearml_side.offline_policy import server_of
from ..clearml_side.once_logger import OnceLogger, reporter_for
from ..clearml_side.own_tasks import claim_for_training, close_if_created_during_exit, close_task, created_by_shim
from ..clearml_side.remote_launch import running_on_an_agent
from ..clearml_side.task_choice import task_for
from . import per_class, resolved_args, training_models
from .abort import AbortWatch
from .run_outputs import mosaic_files, validation_files
from .summary import finish_report
from .upstream_titles import metric_title
from .validation_report import finished_validation
from .worst_images import report_worst, slot_history


class TrainingRun:
    """The ClearML reporting of one trainer, from pretrain start to train end."""

    def __init__(self, trainer: Any, task_name: str | None = None, parent: str | None = None, tags: tuple = ()) -> None:
        """``task_name``, ``parent``, ``tags``: the Task's name when it is not the run's, its parent
        Task, extra tags (a tuning iteration's, from the Ultralytics side)."""
        self._trainer = weakref.ref(trainer)
        self._placement = {"parent": parent, "tags": tuple(tags)}
        self._task_name = task_name
        self.out: OnceLogger | None = None
        self._started = False
        self._ended = threading.Event()
        self._starting: threading.Thread | None = None
        self._start_error: BaseException | None = None
        self._lock = threading.Lock()
        self._pending: list[tuple[str, Callable[[OnceLogger], None]]] = []  # reports made before the Task existed
        self._replayed = False  # the start is over: reports go out at once (or nowhere, with no Task)
        self.abort = AbortWatch(trainer, self._ended, on_agent=running_on_an_agent())
        self._asked: dict[str, Any] = {}  # the args as the training started ("General")
        self._resolved_sent: dict[str, Any] = {}  # what "Resolved" holds
        self._last_epoch: int | None = None  # the last epoch whose on_train_epoch_end was seen
        self._class_rows: dict[str, dict[str, float]] = {}  # the last validation's per-class metrics
        self._run_dir: Any = None

    @property
    def trainer(self) -> Any:
        return self._trainer()

    @property
    def run_dir(self) -> Any:
        """The training's run directory (kept at train end: the trainer may be gone by the finish)."""
        return self._run_dir or getattr(self.trainer, "save_dir", None) or "RUN_DIR"

    def start(self) -> None:
        """Pick or create the Task, on a thread of its own: the training thread goes on with what
        Ultralytics does before the first epoch (dataset checks, dataloaders, the model on its device)
        and trains. What it reports before the Task exists is kept, with its values, and sent once the
        Task exists, in order (:meth:`_send`); only train end (and a failure, a DDP launch) waits for
        the Task (:meth:`ready`). Importing clearml and ``Task.init`` (with a server, mostly waiting
        on it) overlap with training."""
        if self._started:
            return
        self._started = True
        self._asked = dict(vars(self.trainer.args))  # now, on the training thread: before Ultralytics changes any
        exit_guard.watch_sigterm()
        self._starting = threading.Thread(
            target=self._start_in_background, name="yolo_clearml_patch-start", daemon=True
        )
        self._starting.start()

    def _start_in_background(self) -> None:
        try:
            # one Task created at a time: a training that ends before its Task exists no longer holds
            # the next one back, so the next Task waits here until the previous one has its reports
            with _creating_tasks:
                guarded("starting ClearML reporting", self._start)
                self._replay()
        except BaseException as exc:  # strict mode: re-raised on the training thread by ready()
            self._start_error = exc
        finally:
            with self._lock:
                self._replayed, self._pending = True, []

    def _replay(self) -> None:
        """Send what was reported while the Task was being created, in order, until nothing is left."""
        while True:
            with self._lock:
                batch, self._pending = self._pending, []
                if not batch:
                    self._replayed = True
                    return
            for what, report in batch:
                if self.out is not None:
                    guarded(what, report, self.out)

    def _send(self, what: str, report: Callable[[OnceLogger], None]) -> None:
        """Call ``report(logger)`` now, or once the Task exists if it is still being created.
        ``report`` must hold the values it sends (taken when the event happened), not read the trainer."""
        with self._lock:
            if not self._replayed:
                self._pending.append((what, report))
                return
        if self.out is not None:
            report(self.out)

    def ready(self, timeout: float | None = None) -> OnceLogger | None:
        """The run's logger once its Task exists (None when it is not reported); waits for the start,
        at most ``timeout`` seconds (then None: the start goes on, and what it sends, it sends later).

        On the training thread, the shim's SIGTERM handler is (re)installed there, since ``Task.init``
        on another thread cannot install signal handlers.
        """
        starting = self._starting
        if starting is not None:
            starting.join(timeout)
            if starting.is_alive():
                run_dir = self.run_dir
                logger().warning(
                    f"ClearML did not create the Task within {timeout:g} s (a server that answered, then"
                    " stopped answering): what this training reported is not sent (it is sent if the Task"
                    " comes before the process ends); its run directory has it all. Send it later with:"
                    f" python -m yolo_clearml_patch sync {run_dir}"
                )
                return None
            self._starting = None
            if self.out is not None:
                exit_guard.install(None)
        if self._start_error is not None:
            error, self._start_error = self._start_error, None
            raise error
        return self.out

    def _start(self) -> None:
        """Pick or create the Task and record the trainer args under "General"."""
        args = self.trainer.args
        name = str(getattr(args, "name", None) or "train")
        save_dir = getattr(self.trainer, "save_dir", None)  # a DDP launcher may have none yet
        resumes = run_record.read(save_dir) if save_dir and getattr(args, "resume", False) else None
        project = getattr(args, "project", None)
        task = task_for(project, self._task_name or name, fresh=True, resumes=resumes, **self._placement)
        if task is None:
            return
        claim_for_training(task)
        if save_dir:
            guarded("recording the Task in the run directory", run_record.write, save_dir, task, server_of(task))
        self.out = out = reporter_for(task, name)
        out.delivery.run_dir = save_dir
        section = f"General [{out.label}]" if out.label else "General"
        # a copy: ClearML never writes into the args; off the training thread, as every blocking call
        out.delivery.submit("recording the hyperparameters", task.connect, dict(self._asked), section)
        if created_by_shim(task) and not out.label:
            out.delivery.submit("recording the program for agents", remote_launch.record_for_agents, task)
        if self._watches_abort(task):
            self.abort.watch(task)

    def _watches_abort(self, task: Any) -> bool:
        """An abort in ClearML stops this training gracefully: for the shim's own online Tasks, and for
        the Task a clearml-agent runs (not in a DDP worker, which cannot register ClearML's callback)."""
        if task.is_offline():
            return False
        return created_by_shim(task) or (self.abort.on_agent and os.environ.get("LOCAL_RANK") is None)

    def train_epoch_end(self) -> None:
        """The epoch's losses and learning rates; the Mosaic after epoch 1. An epoch Ultralytics runs
        again (NaN recovery) starts a new pass: what it reports replaces what the discarded pass did."""
        trainer = self.trainer
        epoch = trainer.epoch
        repeated = self._last_epoch is not None and epoch <= self._last_epoch
        self._last_epoch = epoch
        mosaic = self._mosaic_files() if epoch == 1 else []
        losses = trainer.label_loss_items(trainer.tloss, prefix="train")
        rates = dict(getattr(trainer, "lr", None) or {})
        self._resolve()

        def report(out: OnceLogger) -> None:
            if repeated:
                out.new_pass()
            out.debug_samples(mosaic, "Mosaic")
            for k, v in losses.items():
                out.scalar("train", k, v, epoch)
            for k, v in rates.items():
                out.scalar("lr", k, v, epoch)

        self._send("reporting the epoch's losses", report)

    def fit_epoch_end(self) -> None:
        trainer = self.trainer
        epoch, epoch_time, metrics = trainer.epoch, trainer.epoch_time, dict(trainer.metrics or {})
        info = {}
        if epoch == 0:
            from ultralytics.utils.torch_utils import model_info_for_loggers

            info = model_info_for_loggers(trainer)
        fitness = getattr(trainer, "fitness", None)  # the objective an HPO optimizer maximises

        def report(out: OnceLogger) -> None:
            out.scalar("Epoch Time", "Epoch Time", epoch_time, epoch)
            for k, v in metrics.items():
                out.scalar(metric_title(k), k, v, epoch)
            for k, v in info.items():
                out.single(k, v)
            if fitness is not None:
                out.scalar("fitness", "fitness", fitness, epoch)
            out.delivery.confirm()

        self._send("reporting the epoch's metrics", report)

    def model_save(self) -> None:
        """A periodic checkpoint (``save_period > 0``) is registered with its epoch."""
        job = training_models.checkpoint_job(self.trainer)
        if job is not None:
            self._send("registering a checkpoint", lambda out: training_models.register(out, *job))

    def val_end(self, validator: Any) -> None:
        files = validation_files(validator.save_dir)
        self._send("reporting validation samples", lambda out: out.debug_samples(files, "Validation"))

    def train_end(self) -> None:
        """Plots, final metrics and models, queued as every report is (:meth:`_send`): sent at once
        when the Task exists, else once it does. Then the finish (ClearML's confirmation, the summary
        line) on a thread of its own, so the training thread never waits for the server; the exit
        waits for it, within its bound. After an abort on an agent (ClearML ends the process right
        after) everything is delivered first, here."""
        trainer = self.trainer
        validator = trainer.validator
        plots = [*trainer.plots, *(getattr(validator, "plots", {}) or {})]
        save_dir, epoch, rows = trainer.save_dir, trainer.epoch, self._class_rows
        self._run_dir = save_dir
        # Mosaic samples not there after epoch 1 (a 1-epoch run, or one still being written by
        # Ultralytics' plotting thread); a resumed run's first part reported them
        mosaic = self._mosaic_files() if getattr(trainer, "start_epoch", 0) <= 1 else []
        models = guarded("finding the output models", training_models.final_models, trainer) or []
        self._resolve()

        def report(out: OnceLogger) -> None:
            guarded("reporting Mosaic samples", out.debug_samples, mosaic, "Mosaic")
            finished_validation(out, validator, plots, save_dir, epoch)
            guarded("reporting the per-class table", per_class.report_table, out, rows)
            for model in models:
                guarded("registering the output models", training_models.register, out, *model)

        self._send("reporting the end of training", report)
        _finishing.add(self)
        if self.abort.hands_over:
            self._finish(save_dir)
        else:
            finish_in_background("finishing the ClearML report", self._finish, save_dir)

    def _finish(self, save_dir: Any) -> None:
        """Once the Task exists and has what train end queued (bounded): the summary, the Task closed
        if it came only during the process's exit, then the hand-over."""
        try:
            out = self.ready(settings.flush_timeout())
            if out is not None:
                finish_report(out, save_dir, run_dir=save_dir, wait=True)
                guarded("closing a Task created during the exit", close_if_created_during_exit, out.task)
        finally:
            _finishing.discard(self)
            self._ended.set()
        self.abort.hand_over(settings.flush_timeout())

    def failed(self, error: BaseException) -> None:
        """The training raised: the error goes to the Task's console, and a Task the shim created is
        closed as failed (stopped for a KeyboardInterrupt), within the flush bound."""
        self._ended.set()
        task = self.out.task
        if not created_by_shim(task):
            return  # the user's Task: ClearML marks it when the process ends
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        task.get_logger().report_text(f"Training failed:\n{text}", level=logging.ERROR)
        self.out.delivery.wait(settings.flush_timeout())
        self.out.delivery.retire()
        if not close_task(task, error):
            logger().warning(f"ClearML could not mark Task {task.id} failed within {settings.flush_timeout():g} s")

    def _iteration_of(self, validator: Any) -> int:
        """A validation's iteration: the epoch; the final validation (of ``best.pt``) the one after
        the last epoch, where Ultralytics 8.4 reports its metrics too."""
        epoch = int(getattr(self.trainer, "epoch", 0) or 0)
        return epoch if getattr(validator, "training", True) else epoch + 1

    def per_class(self, validator: Any, predicted: set[int]) -> None:
        """A validation's per-class metrics as scalars at the epoch (see :mod:`.per_class`); the
        whole table at train end when there are more classes than scalars."""
        rows = per_class.class_metrics(validator, predicted)
        if not rows:
            return
        self._class_rows = rows
        epoch = self._iteration_of(validator)

        def report(out: OnceLogger) -> None:
            per_class.report(out, rows, epoch)

        self._send("reporting per-class metrics", report)

    def worst_images(self, validator: Any, records: list, names: dict) -> None:
        """A validation's worst images (already ranked, worst first), drawn and reported off the
        training thread, at the epoch, in fixed slots kept for the whole training."""
        if not records:
            return
        epoch = self._iteration_of(validator)
        history = slot_history(int(getattr(self.trainer.args, "epochs", 0) or 0))

        def report(out: OnceLogger) -> None:
            out.delivery.submit("reporting the worst images", report_worst, out, records, dict(names), epoch, history)

        self._send("reporting the worst images", report)

    def record_dataset(self, local: Any) -> None:
        """The training's ``clearml://`` dataset, recorded on its Task as ClearML records a dataset input."""

        def report(out: OnceLogger) -> None:
            out.delivery.submit("recording the dataset", record_input, out.task, local)

        self._send("recording the dataset", report)

    def _resolve(self) -> None:
        """Send the args Ultralytics changed since the start to "Resolved" (see :mod:`.resolved_args`)."""
        changed = resolved_args.resolved(self._asked, vars(self.trainer.args), self._resolved_sent)
        if not changed:
            return
        self._resolved_sent.update(changed)

        def report(out: OnceLogger) -> None:
            section = f"{resolved_args.SECTION} [{out.label}]" if out.label else resolved_args.SECTION
            parameters = resolved_args.as_parameters(changed, section)
            out.delivery.submit("recording the values Ultralytics used", out.task.update_parameters, parameters)

        self._send("recording the values Ultralytics used", report)

    def _mosaic_files(self) -> list[Path]:
        return mosaic_files(self.trainer.save_dir)


_creating_tasks = threading.Lock()
_finishing: weakref.WeakSet = weakref.WeakSet()  # ended trainings whose finish has not run yet


def _without_task() -> str:
    """At a forced exit: the ended trainings whose Task was never created, and how to send them."""
    return "; ".join(
        f"the Task of the training in {run.run_dir} was never created: nothing of it was sent; send it"
        f" with: python -m yolo_clearml_patch sync {run.run_dir}"
        for run in list(_finishing)
        if run.out is None
    )


exit_guard.on_forced_exit(_without_task)
