"""Getting a Task's reports to ClearML without ever blocking training on the server.

ClearML's event calls (scalars, images, plots) only queue events for its own reporting thread. Its
other calls are synchronous HTTP with retries that can last hours against a dead server: connecting
the hyperparameters, registering a model. A :class:`Delivery` runs those on one worker thread per
Task, in order, and keeps count of what was handed to ClearML and what ClearML has confirmed sent
(its ``flush`` returned). The training thread only ever waits for it with a bound.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections import Counter
from typing import Any, Callable

from ..base import settings
from ..base.guard import guarded, handle
from ..base.log import logger
from . import exit_guard

KINDS = ("scalars", "images", "plots", "models")
CONFIRM_PACE = 2.0  # after a confirming flush that took t s, the next one waits 2 t s


class _UploadFailures(logging.Handler):
    """Counts the events ClearML itself gives up on ("Not uploading 3/90 events ...")."""

    _PATTERN = re.compile(r"Not uploading (\d+)/\d+ events")

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        match = self._PATTERN.search(str(record.msg))
        if match:
            self.dropped += int(match.group(1))


_failures = _UploadFailures()


def _watch_clearml_drops() -> None:
    logger = logging.getLogger("clearml.metrics")
    if _failures not in logger.handlers:
        logger.addHandler(_failures)


class Delivery:
    """One worker thread for one Task's blocking ClearML calls, and the counts of what was sent."""

    def __init__(self, task: Any) -> None:
        self.task = task
        self.reported: Counter = Counter()  # events handed to ClearML's reporting thread, by kind
        self.done: Counter = Counter()  # blocking calls that returned, by kind
        self.confirmed: Counter = Counter()  # of both: what ClearML's last finished flush covered
        self.pending: Counter = Counter()  # blocking calls queued or running on the worker
        self.failed: Counter = Counter()  # blocking calls that raised (after ClearML's own retries)
        self._dropped_at_start = _failures.dropped
        self._lock = threading.Lock()
        self._retired = False
        self._stopped = False
        self.run_dir: Any = None  # the training's run directory, named when something is not saved
        self._unfinished = 0  # submitted calls not run yet (flushes and wait markers are not counted)
        self._strict_error: Exception | None = None
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._confirm_pending = threading.Event()
        self._next_confirm = 0.0  # time.monotonic() before which confirm() asks for no flush
        self._thread = threading.Thread(target=self._work, name="yolo_clearml_patch-delivery", daemon=True)
        self._thread.start()
        _watch_clearml_drops()
        _live.append(self)

    # ---- the training thread's side -----------------------------------------------------------------

    def count(self, kind: str, n: int = 1) -> None:
        """Record that ``n`` items of ``kind`` were handed to ClearML's own (asynchronous) reporting."""
        with self._lock:
            self.reported[kind] += n

    def submit(self, what: str, func: Callable[..., Any], *args: Any, kind: str | None = None) -> None:
        """Run ``func(*args)`` on the worker; ``kind`` counts it as one item of that kind."""
        with self._lock:
            self._unfinished += 1
            if kind:
                self.pending[kind] += 1
        self._jobs.put((what, kind, func, args, True))

    def confirm(self) -> None:
        """Ask the worker to flush ClearML, so that what was reported so far counts as sent: one at a
        time, and paced so that confirming takes a third of the worker's time at most (a flush of a
        Task that reports through ClearML's subprocess, as a user's Task does, takes about 5 s)."""
        if not self._confirm_pending.is_set() and time.monotonic() >= self._next_confirm:
            self._confirm_pending.set()
            self._queue_flush()

    def _queue_flush(self) -> None:
        self._jobs.put(("confirming delivery", None, self._flush, (), False))

    def wait(self, timeout: float) -> bool:
        """Flush ClearML and wait at most ``timeout`` s for it; True when everything reported is confirmed."""
        if self._retired:  # nothing more will be confirmed: wait for the calls queued before
            self._thread.join(timeout)
            return self.complete()
        done = threading.Event()
        self._queue_flush()
        self._jobs.put(("", None, done.set, (), False))
        done.wait(timeout)
        if self._strict_error is not None:
            error, self._strict_error = self._strict_error, None
            raise error
        return self.complete()

    def retire(self) -> None:
        """No more calls will come: the worker thread ends once the queued ones have run, and a
        Delivery with nothing missing is forgotten (many trainings per process leave nothing behind)."""
        self._retired = True
        self._jobs.put(None)

    def complete(self) -> bool:
        """Everything reported is confirmed and every submitted call has run."""
        return not self.missing() and not self._unfinished

    def total(self) -> Counter:
        """Everything the shim reported to this Task, by kind, sent or not."""
        with self._lock:
            return self.reported + self.done + self.pending + self.failed

    def missing(self) -> Counter:
        """What was reported but not (yet) confirmed sent, by kind: unconfirmed, still queued, or failed."""
        with self._lock:
            missing = self.reported + self.done
            missing.subtract(self.confirmed)
            missing.update(self.pending)
            missing.update(self.failed)
        return +missing

    def dropped_by_clearml(self) -> int:
        """Events ClearML said it did not upload, since this Delivery started (all Tasks of the process)."""
        return _failures.dropped - self._dropped_at_start

    # ---- the worker --------------------------------------------------------------------------------

    def _flush(self) -> None:
        try:
            self._flush_now()
        finally:
            self._confirm_pending.clear()  # a confirmation asked for meanwhile waits for the pace

    def _flush_now(self) -> None:
        # what was handed to ClearML before the flush starts is what it confirms: the training
        # thread's reports so far, and the calls queued before it (one worker, in order), also
        # those that report as they run (the worst images)
        with self._lock:
            covered = self.reported + self.done
        if covered == self.confirmed:
            return  # nothing new since the last flush: a flush of a user's Task costs ClearML ~5 s
        with _flush_lock(self.task):
            started = time.monotonic()
            self.task.flush(wait_for_uploads=True)
            ended = time.monotonic()
        self._next_confirm = ended + CONFIRM_PACE * (ended - started)
        self.confirmed = covered

    def stop(self) -> None:
        """Start no more ClearML calls (the process exit is over): what is still queued is not sent,
        and stays counted as missing. The call running now, if any, finishes."""
        self._stopped = True
        self._jobs.put(None)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:  # retired
                if self.complete() and self in _live:
                    _live.remove(self)
                return
            what, kind, func, args, submitted = job
            if self._stopped:
                continue  # left counted as pending (missing), and said by the exit
            try:
                func(*args)
                with self._lock:
                    self._unfinished -= submitted
                    if kind:
                        self.pending[kind] -= 1
                        self.done[kind] += 1
            except Exception as exc:
                with self._lock:
                    self._unfinished -= submitted
                    if kind:
                        self.pending[kind] -= 1
                        self.failed[kind] += 1
                if settings.strict():  # re-raised on the training thread, by the next wait()
                    self._strict_error = self._strict_error or exc
                else:
                    handle(what, exc)


_live: list[Delivery] = []
_flush_locks: dict[str, threading.Lock] = {}
_flush_locks_guard = threading.Lock()


def _flush_lock(task: Any) -> threading.Lock:
    """One flush of a Task at a time: two trainings' Deliveries to one Task (the user's) may flush it
    together, and ClearML's offline session interleaves their writes."""
    with _flush_locks_guard:
        return _flush_locks.setdefault(task.id, threading.Lock())


def unfinished() -> list[Delivery]:
    """The Deliveries of this process that still have something unconfirmed."""
    return [d for d in _live if not d.complete()]


def wait_all(deadline: float) -> bool:
    """Wait for every Delivery until ``deadline`` (time.monotonic); True when all are complete."""
    for delivery in list(_live):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not delivery.wait(remaining):
            return False
    return True


def wait_for_task(task: Any, deadline: float) -> bool:
    """Wait until ``deadline`` (time.monotonic) for the Deliveries to ``task``; True when complete."""
    for delivery in [d for d in _live if d.task is task]:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not delivery.wait(remaining):
            return False
    return True


_finishers: list[threading.Thread] = []


def finish_in_background(what: str, func: Callable[..., Any], *args: Any) -> None:
    """Run ``func(*args)`` (guarded) on a thread of its own, so the caller returns at once; the exit
    handler waits for it within its bound (see :func:`join_finishers`)."""
    exit_guard.install(None)  # the exit waits for it, also in a process that created no Task (an export)
    thread = threading.Thread(target=guarded, args=(what, func, *args), name="yolo_clearml_patch-finish", daemon=True)
    _finishers.append(thread)
    thread.start()


def join_finishers(deadline: float) -> None:
    """Wait for the finishing threads until ``deadline`` (time.monotonic)."""
    for thread in list(_finishers):
        thread.join(max(0.0, deadline - time.monotonic()))
        if not thread.is_alive():
            _finishers.remove(thread)


def describe(counts: Counter) -> str:
    """``3 scalars, 2 images`` (kinds in a fixed order; "nothing" when empty)."""
    parts = [f"{counts[k]} {k if counts[k] != 1 else k[:-1]}" for k in KINDS if counts.get(k)]
    return ", ".join(parts) or "nothing"


def _finish_at_exit(deadline: float) -> None:
    """The exit waits for the deliveries, then for the finishing threads (their summary lines).

    Then the deliveries to offline Tasks start no more calls, and what they still hold is said: ClearML
    writes an offline session (``task.json``, the zip) in its own exit handler, which runs next, and
    a call made during or after it would be left out of the zip, or cut off mid-write when the
    interpreter stops the thread. Online, the exit watchdog lets uploads go on while the server answers.
    """
    wait_all(deadline)
    join_finishers(deadline)
    left = [d for d in list(_live) if _offline(d.task) and not d.complete()]
    for delivery in left:
        delivery.stop()
    if left:
        logger().warning(
            "the process exit could not wait longer for the offline sessions (ClearML saves them now); not saved: "
            + "; ".join(f"Task {d.task.id}: {describe(d.missing())}{_sync_hint(d)}" for d in left)
        )


def _sync_hint(delivery: Delivery) -> str:
    if delivery.run_dir is None:
        return ""
    return f" (the run directory has it all: python -m yolo_clearml_patch sync {delivery.run_dir})"


def _offline(task: Any) -> bool:
    try:
        return bool(task.is_offline())
    except Exception:
        return False


def _unsent() -> str:
    return "; ".join(f"Task {d.task.id}: not confirmed sent: {describe(d.missing())}" for d in unfinished())


exit_guard.on_exit(_finish_at_exit)
exit_guard.on_forced_exit(_unsent)
