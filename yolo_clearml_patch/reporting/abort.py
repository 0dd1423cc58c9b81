"""An abort asked for in ClearML (UI, API) stops the training as Ultralytics stops it, and holds.

ClearML's default is to kill the process. Instead, the shim asks Ultralytics to stop
(``trainer.stop``): the final validation runs, the models are registered, ``train()`` returns, and
the Task ends ``stopped``. The request is the shim's own state (:attr:`AbortWatch.requested`). It
does not rely on Ultralytics' flag, which Ultralytics resets: ``_setup_train`` sets
``stop = False``, and with ``time=`` every optimizer step assigns it. The Ultralytics side
re-applies it after every trainer event (:meth:`AbortWatch.hold`).

On a clearml-agent the agent owns the Task's status: it marks the Task stopped once ClearML's abort
callback has completed, and ClearML then ends the process. So there the callback returns once the
training has ended and reported (final validation, models), and the training thread waits for
ClearML to end the process (:meth:`AbortWatch.hand_over`); code after ``train()`` does not run, as
with ClearML's own abort on an agent.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

from ..base.guard import guarded
from ..base.log import logger
from ..clearml_side.own_tasks import tell_clearml_at_exit

ABORT_CALLBACK_TIMEOUT = 7 * 24 * 3600.0  # ClearML kills the process when an abort callback returns or times out
HAND_OVER_MARGIN = 30.0  # s beyond the flush bound that the training thread waits for ClearML to end the process


class AbortWatch:
    """Whether ClearML asked one training to stop, and what answers that."""

    def __init__(self, trainer: Any, ended: threading.Event, on_agent: bool = False) -> None:
        self._trainer = weakref.ref(trainer)
        self._ended = ended
        self.on_agent = on_agent
        self.requested = False
        self._task: Any = None

    def watch(self, task: Any) -> None:
        """Register with ClearML's abort polling (every 15 s in clearml 2.1) for ``task``."""
        self._task = task
        guarded("watching for an abort in ClearML", task.register_abort_callback, self._aborted, ABORT_CALLBACK_TIMEOUT)

    def hold(self, trainer: Any) -> None:
        """After a trainer event: a stop asked for in ClearML is set again, whatever Ultralytics did."""
        if self.requested:
            trainer.stop = True

    def _aborted(self) -> None:
        """ClearML's abort callback (its own thread): the Task was stopped in ClearML.

        The Task shows running until the training has ended, and ends ``stopped``. ClearML kills
        the process once this callback returns, so after a stop it never returns (its thread ends
        with the process). Outside a training it returns at once, and ClearML's default applies.
        """
        trainer = self._trainer()
        if trainer is None or self._ended.is_set():
            return
        logger().warning(
            "the ClearML Task was aborted: the training stops after this epoch (final validation and models follow)"
        )
        tell_clearml_at_exit(remote_user_aborted=True)  # ClearML then marks the Task stopped, at the end
        self.requested = True
        trainer.stop = True
        if self.on_agent:  # the Task stays running ("stopping") until the agent stops it, after this returns
            self._ended.wait()
            return
        # running again until then: ClearML adds no model to a stopped Task, and the models come last
        guarded("keeping the aborted Task open for its final models", self._task.mark_started, True)
        threading.Event().wait()

    @property
    def hands_over(self) -> bool:
        """Whether ClearML ends this process once the training has reported (an abort on an agent)."""
        return self.requested and self.on_agent

    def hand_over(self, bound: float) -> None:
        """At the end of an aborted training on an agent, once everything is reported: ClearML marks
        its abort callback completed and ends the process (the agent then marks the Task stopped);
        the training thread waits for that, at most ``bound`` + a margin, then goes on."""
        if self.hands_over:
            logger().warning("aborted in ClearML: the agent ends this process now that the training is reported")
            time.sleep(bound + HAND_OVER_MARGIN)
