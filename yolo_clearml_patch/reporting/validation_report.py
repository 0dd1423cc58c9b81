"""A finished validation's report: its plots (the saved images and interactive ones) and final
metrics, during a training's end or for ``model.val()`` on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..base.guard import guarded
from ..clearml_side.datasets import record_input
from ..clearml_side.once_logger import OnceLogger, reporter_for
from ..clearml_side.task_choice import task_for
from .native_plots import report_native_plots
from .run_outputs import plot_images, validation_files
from .summary import finish_report


def report_png_plots(out: OnceLogger, paths: Any, save_dir: Any) -> None:
    """The plots Ultralytics registered, and every other plot image it saved in ``save_dir``
    (older versions register fewer: upstream read a fixed list of files before 8.3.235)."""
    for f in dict.fromkeys([*(p for p in map(Path, paths) if "batch" not in p.name), *plot_images(save_dir)]):
        guarded(f"reporting plot {f.name}", out.png_plot, f.stem, f)


def _final_metrics(out: OnceLogger, validator: Any) -> None:
    for k, v in (getattr(getattr(validator, "metrics", None), "results_dict", None) or {}).items():
        out.single(k, v)


def finished_validation(out: OnceLogger, validator: Any, plots: Any, save_dir: Any, iteration: int) -> None:
    """A finished validation's PNG plots, interactive plots and final metrics; each step guarded."""
    guarded("reporting final plots", report_png_plots, out, plots, save_dir)
    guarded("reporting interactive plots", report_native_plots, out.logger, validator, iteration)
    guarded("reporting final metrics", _final_metrics, out, validator)


def report_standalone_validation(validator: Any, dataset: Any = None) -> None:
    """``model.val(...)`` outside training: metrics, images and plots, to the current Task or a new
    Task of type "testing" named after the validation run; its ``clearml://`` ``dataset`` recorded."""
    save_dir = Path(validator.save_dir)
    task = task_for(getattr(validator.args, "project", None), save_dir.name, task_type="testing")
    if task is None:
        return
    out = reporter_for(task, save_dir.name)
    if dataset is not None:
        out.delivery.submit("recording the dataset", record_input, task, dataset)
    guarded("reporting validation samples", out.debug_samples, validation_files(save_dir), "Validation")
    finished_validation(out, validator, getattr(validator, "plots", {}) or {}, save_dir, 0)
    finish_report(out, save_dir)
