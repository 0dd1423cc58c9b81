"""The delivery worker's own rules, with a stand-in Task (the end-to-end tests use ClearML's real ones):
a flush with nothing new costs nothing (a user's Task, which reports through ClearML's subprocess,
takes about 5 s per flush), and once the process exit is over, a delivery to an offline Task starts
no more calls and says what it did not save (ClearML writes the session next)."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import pytest

from yolo_clearml_patch.clearml_side import delivery as delivery_module
from yolo_clearml_patch.clearml_side.delivery import Delivery


class StandInTask:
    """What a Delivery uses of a ClearML Task."""

    def __init__(self, offline: bool, flush_takes: float = 0.0) -> None:
        self.id = uuid.uuid4().hex
        self.offline = offline
        self.flush_takes = flush_takes
        self.flushes = 0

    def flush(self, wait_for_uploads: bool = False) -> None:
        time.sleep(self.flush_takes)
        self.flushes += 1

    def is_offline(self) -> bool:
        return self.offline


class Said(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.text = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.text += record.getMessage() + "\n"


@pytest.fixture
def said():
    handler = Said()
    log = logging.getLogger("yolo_clearml_patch")
    log.addHandler(handler)
    yield handler
    log.removeHandler(handler)


@pytest.fixture
def deliveries():
    made: list[Delivery] = []
    yield made
    for d in made:
        d.stop()
        d._thread.join(5)
        if d in delivery_module._live:
            delivery_module._live.remove(d)


def test_a_flush_with_nothing_new_since_the_last_is_not_made(deliveries):
    task = StandInTask(offline=True)
    d = Delivery(task)
    deliveries.append(d)
    d.count("scalars", 3)
    assert d.wait(5) and task.flushes == 1
    assert d.wait(5) and task.flushes == 1  # nothing new: confirmed without asking ClearML again
    d.count("images")
    assert d.wait(5) and task.flushes == 2


def test_slow_flushes_are_asked_for_at_a_pace(deliveries):
    task = StandInTask(offline=True, flush_takes=0.2)
    d = Delivery(task)
    deliveries.append(d)
    for _ in range(20):  # 20 epochs of 50 ms, each asking for a confirmation
        d.count("scalars")
        d.confirm()
        time.sleep(0.05)
    time.sleep(0.3)  # the last one asked for has run
    assert 1 <= task.flushes <= 3  # a flush, then none for twice its time (back to back: 5 or 6)
    assert d.wait(5) and not d.missing()  # the final wait always flushes


def _blocked(task: StandInTask, deliveries: list) -> tuple[Delivery, threading.Event, list]:
    """A Delivery whose worker is busy (a slow call) with a model registration queued behind it."""
    d = Delivery(task)
    deliveries.append(d)
    d.run_dir = "/runs/train7"
    release, ran = threading.Event(), []
    d.submit("a slow call", release.wait, 10)
    d.submit("registering a model", ran.append, "model", kind="models")
    return d, release, ran


def test_after_the_exit_an_offline_delivery_starts_nothing_and_says_what_was_not_saved(deliveries, said):
    task = StandInTask(offline=True)
    d, release, ran = _blocked(task, deliveries)
    started = time.monotonic()
    delivery_module._finish_at_exit(time.monotonic() + 0.3)
    assert time.monotonic() - started < 5  # the exit's bound holds
    release.set()
    d._thread.join(5)
    assert ran == []  # ClearML saves the session after this: nothing may write into it any more
    assert d.missing()["models"] == 1
    assert task.id in said.text and "1 model" in said.text and "sync /runs/train7" in said.text


def test_after_the_exit_an_online_delivery_goes_on_while_clearml_uploads(deliveries, said):
    task = StandInTask(offline=False)
    d, release, ran = _blocked(task, deliveries)
    delivery_module._finish_at_exit(time.monotonic() + 0.3)
    release.set()
    d.wait(5)
    assert ran == ["model"] and d.complete()
    assert "not saved" not in said.text
