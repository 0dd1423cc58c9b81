"""A ClearML Logger front that reports every (kind, title, series, iteration) at most once."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .delivery import Delivery

_BATCH = re.compile(r"_batch(\d+)")
PLOT_SERIES = "plot image"  # what ClearML names the series of a plot reported as an image


def as_number(value: Any) -> float | None:
    """A finite float from a number, numpy scalar or 1-element tensor; None for anything else.

    NaN and inf give None: ClearML would record them as 0.0, which misreads as a real value.
    """
    try:
        number = float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError, RuntimeError):
        return None
    return number if math.isfinite(number) else None


def _number(value: Any, what: str) -> float | None:
    number = as_number(value)
    if number is None:
        from .guard import warn_once

        warn_once(f"not a number: {what}", f"{what} = {value!r} is not a finite number; such values are skipped")
    return number


class _CountingLogger:
    """A ClearML Logger whose ``report_*`` calls count as plots of a Delivery (for the interactive plots)."""

    def __init__(self, logger: Any, delivery: Delivery) -> None:
        self._logger, self._delivery = logger, delivery

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._logger, name)
        if not name.startswith("report_"):
            return attribute

        def report(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            self._delivery.count("plots")
            return result

        return report


class OnceLogger:
    """Reports to a ClearML Task; repeats of an already reported event are dropped.

    Every event call only queues the event for ClearML's own reporting thread. The Task's
    :class:`Delivery` counts what was reported and runs the blocking calls. Use :func:`once_logger`
    to get the one instance of a Task.
    """

    def __init__(self, task: Any) -> None:
        self.task = task
        self.delivery = Delivery(task)
        self.logger = _CountingLogger(task.get_logger(), self.delivery)
        self._raw = task.get_logger()
        self._seen: set[tuple] = set()

    def _first(self, key: tuple) -> bool:
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def scalar(self, title: str, series: str, value: Any, iteration: int) -> None:
        number = _number(value, f"{title}/{series}")
        if number is not None and self._first(("scalar", title, series, int(iteration))):
            self._raw.report_scalar(title, series, number, iteration=int(iteration))
            self.delivery.count("scalars")

    def single(self, name: str, value: Any) -> None:
        number = _number(value, name)
        if number is not None and self._first(("single", name)):
            self._raw.report_single_value(name, number)
            self.delivery.count("scalars")

    def debug_samples(self, files: Iterable[Path], title: str) -> None:
        """Report images as debug samples; ``x_batch3.jpg`` becomes series ``x.jpg`` at iteration 3."""
        for f in files:
            match = _BATCH.search(f.name)
            series = f.name.replace(match.group(), "") if match else f.name
            iteration = int(match.group(1)) if match else 0
            if f.exists() and self._first(("image", title, series, iteration)):
                self._raw.report_image(title=title, series=series, local_path=str(f), iteration=iteration)
                self.delivery.count("images")

    def png_plot(self, title: str, path: Path) -> None:
        """Report a saved image as a (non-interactive) plot, series "plot image", as upstream does.

        Upstream redraws each PNG into a 300-dpi matplotlib figure, which ClearML renders back to a
        PNG (about 0.4 s per plot on the training thread) and sends with this same call; the shim
        sends the saved file itself, through ClearML's asynchronous upload.
        """
        if path.exists() and self._first(("plot", title)):
            self._raw._report_image_plot_and_upload(title=title, series=PLOT_SERIES, path=str(path), iteration=0)
            self.delivery.count("plots")


_by_task: dict[str, OnceLogger] = {}


def once_logger(task: Any) -> OnceLogger:
    """The OnceLogger of ``task``, shared by everything that reports to it in this process."""
    if task.id not in _by_task:
        _by_task[task.id] = OnceLogger(task)
    return _by_task[task.id]
