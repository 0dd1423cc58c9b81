"""A ClearML Logger front that reports every (kind, title, series, iteration) at most once."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..base.guard import warn_once
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
        warn_once(f"not a number: {what}", f"{what} = {value!r} is not a finite number; such values are skipped")
    return number


def _same(held: Any, content: Any) -> bool:
    """Whether a repeat carries what was sent: numbers to the precision results.csv keeps (5 or 6
    significant digits), anything else exactly."""
    if isinstance(held, float) and isinstance(content, float):
        return math.isclose(held, content, rel_tol=1e-4, abs_tol=1e-9)
    return held == content


def _signature(path: Path) -> tuple[int, int]:
    """What tells a rewritten file from the one reported: its modification time and size."""
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


class _PlotLogger:
    """A ClearML Logger for the interactive plots: each ``report_*`` call counts as a plot of a
    Delivery, and its title (every ``report_*``'s first parameter) gets the training's label."""

    def __init__(self, logger: Any, delivery: Delivery, suffix: str) -> None:
        self._logger, self._delivery, self._suffix = logger, delivery, suffix

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._logger, name)
        if not name.startswith("report_"):
            return attribute

        def report(*args: Any, **kwargs: Any) -> Any:
            if "title" in kwargs:
                kwargs["title"] += self._suffix
            elif args:
                args = (f"{args[0]}{self._suffix}", *args[1:])
            result = attribute(*args, **kwargs)
            self._delivery.count("plots")
            return result

        return report


class OnceLogger:
    """What one training (or one validation) reports to a ClearML Task; its repeats are dropped.

    The rule for a repeat of a (kind, title, series, iteration) key: never twice in one *pass*; in
    a later pass (:meth:`new_pass`: Ultralytics ran an epoch again, after a NaN recovery, say) it
    is sent again when what it carries changed (a value, a rewritten image file), and the server
    keeps the last report of a key. So the Task ends up showing what the pass that counted wrote.
    What a Task already holds (``sync``) counts as an earlier pass (:meth:`already_reported`).

    Every event call only queues the event for ClearML's own reporting thread. The
    :class:`Delivery` counts what was reported and runs the blocking calls. ``label`` tells this
    training apart in a Task that holds several (see :func:`reporter_for`): it is appended to every
    series, and to the titles of plots, as `` [label]``.
    """

    def __init__(self, task: Any, label: str | None = None) -> None:
        self.task = task
        self.label = label
        self._suffix = f" [{label}]" if label else ""
        self.delivery = Delivery(task)
        self._raw = task.get_logger()
        self.logger = _PlotLogger(self._raw, self.delivery, self._suffix)
        self._seen: dict[tuple, tuple[int, Any]] = {}  # key -> (the pass that last sent it, what it carried)
        self._pass = 0

    def already_reported(self, keys: Iterable[tuple], values: dict[tuple, float] | None = None) -> None:
        """Events the Task already holds (``sync`` completing a Task), as an earlier pass: they are
        not sent again, but a scalar whose held value (``values``) differs is.

        Keys as the report methods make them: ``("scalar", title, series, iteration)``,
        ``("single", name)``, ``("image", title, series, iteration)``, ``("plot", title)``.
        """
        values = values or {}
        self._seen.update((key, (-1, values.get(key))) for key in keys)

    def new_pass(self) -> None:
        """What follows is a new pass over iterations already reported: a key reported before is
        sent again if what it carries changed (see the class docstring)."""
        self._pass += 1

    def _first(self, key: tuple, content: Any) -> bool:
        """Whether to send ``key`` carrying ``content`` now."""
        seen = self._seen.get(key)
        if seen is not None and seen[0] == self._pass:
            return False
        self._seen[key] = (self._pass, content)
        return seen is None or (seen[1] is not None and not _same(seen[1], content))

    def scalar(self, title: str, series: str, value: Any, iteration: int) -> None:
        number = _number(value, f"{title}/{series}")
        series += self._suffix
        if number is not None and self._first(("scalar", title, series, int(iteration)), number):
            self._raw.report_scalar(title, series, number, iteration=int(iteration))
            self.delivery.count("scalars")

    def single(self, name: str, value: Any) -> None:
        number = _number(value, name)
        name += self._suffix
        if number is not None and self._first(("single", name), number):
            self._raw.report_single_value(name, number)
            self.delivery.count("scalars")

    def debug_samples(self, files: Iterable[Path], title: str) -> None:
        """Report images as debug samples; ``x_batch3.jpg`` becomes series ``x.jpg`` at iteration 3."""
        for f in files:
            match = _BATCH.search(f.name)
            series = (f.name.replace(match.group(), "") if match else f.name) + self._suffix
            iteration = int(match.group(1)) if match else 0
            if f.exists() and self._first(("image", title, series, iteration), _signature(f)):
                self._raw.report_image(title=title, series=series, local_path=str(f), iteration=iteration)
                self.delivery.count("images")

    def image(self, title: str, series: str, iteration: int, path: Path, history: int) -> None:
        """Report one image file as a debug sample in a fixed slot ``series``; ClearML keeps the
        last ``history`` iterations of the slot (its file names rotate)."""
        series += self._suffix
        if path.exists() and self._first(("image", title, series, int(iteration)), _signature(path)):
            self._raw.report_image(title=title, series=series, local_path=str(path), iteration=int(iteration),
                                   max_image_history=history, delete_after_upload=True)  # fmt: skip
            self.delivery.count("images")

    def table(self, title: str, series: str, rows: list[list[Any]]) -> None:
        """Report a table (a header row, then the rows) once."""
        title += self._suffix
        if self._first(("table", title, series), repr(rows)):
            self._raw.report_table(title=title, series=series, iteration=0, table_plot=rows)
            self.delivery.count("plots")

    def png_plot(self, title: str, path: Path) -> None:
        """Report a saved image as a (non-interactive) plot, series "plot image", as upstream does.

        Upstream redraws each PNG into a 300-dpi matplotlib figure, which ClearML renders back to a
        PNG (about 0.4 s per plot on the training thread) and sends with this same call; the shim
        sends the saved file itself, through ClearML's asynchronous upload.
        """
        title += self._suffix
        if path.exists() and self._first(("plot", title), _signature(path)):
            self._raw._report_image_plot_and_upload(title=title, series=PLOT_SERIES, path=str(path), iteration=0)
            self.delivery.count("plots")


_reporters: dict[str, int] = {}  # Task id -> how many trainings/validations reported to it


def reporter_for(task: Any, name: str) -> OnceLogger:
    """A new OnceLogger for one training or validation called ``name``, reporting to ``task``.

    The first one in a Task reports under upstream's titles and series; each later one (a second
    training into a Task the user created, a ``model.val()`` after a training) is labelled with its
    own name, so nothing it reports replaces what an earlier one reported.
    """
    count = _reporters.get(task.id, 0)
    _reporters[task.id] = count + 1
    return OnceLogger(task, label=name if count else None)
