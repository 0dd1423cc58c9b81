"""Bounded process exit and SIGTERM, whatever the ClearML server does.

At exit ClearML flushes and marks its Task completed, through HTTP retries that can last hours when
the server is gone. The shim's exit handler runs before ClearML's: it waits for the shim's own
deliveries, then arms a watchdog. While the server still answers, uploads may finish (up to
``EXIT_CAP_FACTOR`` times the bound); once it does not, the process exits with the program's own
exit code, after saying what was not sent.

On SIGTERM, ClearML's own handler swallows the signal when the previous disposition was the
default, so the process kept running. The shim's handler runs the exit handlers (ClearML marks the
Task stopped), and the process then dies of SIGTERM, as it would without ClearML, within
``SIGTERM_GRACE`` seconds at most.

This module knows nothing of what it waits for. The layers above register into it: what the exit
waits for (:func:`on_exit`: the deliveries and the finishing threads), what the forced exit says was
not sent (:func:`on_forced_exit`), and whom to tell of a SIGTERM (:func:`on_terminate`: ClearML's
exit hook, so the Task ends stopped).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
import time
from typing import Any, Callable

from ..base import settings
from ..base.log import logger
from .server_probe import server_answers

SIGTERM_GRACE = 5.0  # seconds from SIGTERM to the end of the process, at most
PROBE_TIMEOUT = 2.0  # at the exit bound: does the server still answer (then uploads may go on)?
EXIT_CAP_FACTOR = 10  # a server that keeps answering may hold the exit this many bounds at most

_installed = False
_exit_code: Any = None
_exception: BaseException | None = None
_server_host: str | None = None
_terminating = False
_exiting = False  # the exit handler has started
_exit_waits: list[Callable[[float], Any]] = []  # each called with the deadline (time.monotonic), in order
_unsent: list[Callable[[], str]] = []  # each says what was not sent ("" for nothing)
_terminate_listeners: list[Callable[[int], Any]] = []  # each called with the signal number


def on_exit(wait: Callable[[float], Any]) -> None:
    """Register ``wait(deadline)``: the exit handler calls it, in registration order, within its bound."""
    if wait not in _exit_waits:
        _exit_waits.append(wait)


def on_forced_exit(unsent: Callable[[], str]) -> None:
    """Register ``unsent()``, which says what was not sent when the exit has to be forced."""
    if unsent not in _unsent:
        _unsent.append(unsent)


def on_terminate(listener: Callable[[int], Any]) -> None:
    """Register ``listener(signum)``, told of a SIGTERM before the exit handlers run."""
    if listener not in _terminate_listeners:
        _terminate_listeners.append(listener)


def record_exit(code: Any) -> None:
    """Remember the program's exit code (``sys.exit`` and the runner call this)."""
    global _exit_code
    _exit_code = code


def exiting() -> bool:
    """Whether the exit handler has started: an exit handler registered from now on does not run."""
    return _exiting


def ending() -> dict[str, Any]:
    """How the process ends, as ClearML's exit hook records it: ``exception``, ``exit_code``, ``signal``."""
    exception = None if isinstance(_exception, SystemExit) else _exception
    return {"exception": exception, "exit_code": _code(), "signal": signal.SIGTERM if _terminating else None}


def _code() -> int:
    """The exit status the program asked for: sys.exit's code, 1 after an uncaught exception, else 0."""
    if _exit_code is not None:
        return _exit_code if isinstance(_exit_code, int) else 1
    if _exception is not None and not isinstance(_exception, SystemExit):
        return 1
    return 0


def watch_sigterm() -> None:
    """Install the SIGTERM handler, on the main thread (signals can be set there only): a training
    calls this when it starts, since its Task is created on another thread."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) != _on_sigterm:
        signal.signal(signal.SIGTERM, _on_sigterm)


def install(server_host: str | None) -> None:
    """Arm the exit handler and the SIGTERM handler, once per process (signals: main thread only).

    ``server_host`` is the API server of an online Task (None offline): the watchdog asks it whether
    it still answers before ending a slow exit.
    """
    global _installed, _server_host
    if _exiting:  # a thread that finishes during the exit must not re-register the handler now running
        return
    if server_host:
        _server_host = server_host
    watch_sigterm()  # again after each Task.init, which installs ClearML's own handlers
    atexit.unregister(_at_exit)
    atexit.register(_at_exit)  # registered after ClearML's, so it runs before ClearML's
    if _installed:
        return
    _installed = True
    _wrap_exit_and_excepthook()


def _wrap_exit_and_excepthook() -> None:
    exit_, excepthook = sys.exit, sys.excepthook

    def tracking_exit(code: Any = None) -> None:
        record_exit(0 if code is None else code)
        exit_(code)

    def tracking_excepthook(kind: type, value: BaseException, tb: Any) -> None:
        global _exception
        _exception = value
        excepthook(kind, value, tb)

    sys.exit, sys.excepthook = tracking_exit, tracking_excepthook


# ---- exit ------------------------------------------------------------------------------------------


def _at_exit() -> None:
    global _exiting
    _exiting = True
    bound = SIGTERM_GRACE if _terminating else settings.flush_timeout()
    deadline = time.monotonic() + bound
    if _server_host and not _terminating:  # offline, nothing waits on a server
        _start_watchdog(deadline, bound)
    for wait in list(_exit_waits):
        wait(deadline)


def _start_watchdog(deadline: float, bound: float) -> None:
    def watch() -> None:
        cap = time.monotonic() + bound * EXIT_CAP_FACTOR
        end = deadline
        while True:
            time.sleep(max(0.0, end - time.monotonic()))
            if time.monotonic() < cap and _server_still_answers(min(bound, PROBE_TIMEOUT)):
                end = time.monotonic() + bound  # uploads are still moving: give them another bound
                continue
            _exit_now(f"ClearML did not finish within {bound:g} s at exit", _code())

    threading.Thread(target=watch, name="yolo_clearml_patch-exit-watchdog", daemon=True).start()


def _server_still_answers(timeout: float) -> bool:
    if not _server_host:
        return False
    return server_answers(_server_host, timeout)[0]


def _exit_now(reason: str, code: int) -> None:
    """Say what was not sent, then end the process at once with ``code``."""
    detail = "; ".join(text for text in (_said(unsent) for unsent in _unsent) if text)
    logger().warning(f"{reason}; exiting with code {code}. {detail}".strip())
    _flush_streams()
    os._exit(code)


def _said(unsent: Callable[[], str]) -> str:
    try:
        return unsent()
    except Exception:
        return ""


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


# ---- SIGTERM ---------------------------------------------------------------------------------------


def _on_sigterm(signum: int, frame: Any) -> None:
    """Run the exit handlers (bounded), then die of the signal, as the default action would."""
    global _terminating
    _terminating = True
    signal.signal(signum, signal.SIG_DFL)
    threading.Thread(target=_die_later, args=(signum, SIGTERM_GRACE), daemon=True).start()
    _tell_clearml_about(signum)
    _run_exit_handlers()
    _flush_streams()
    os.kill(os.getpid(), signum)


def _tell_clearml_about(signum: int) -> None:
    """The listeners (ClearML's exit hook: it marks its Task stopped, not completed, when it saw the signal)."""
    for listener in list(_terminate_listeners):
        with contextlib.suppress(Exception):
            listener(signum)


def _run_exit_handlers() -> None:
    run: Callable[[], None] | None = getattr(atexit, "_run_exitfuncs", None)
    if run is not None:
        with contextlib.suppress(Exception):
            run()


def _die_later(signum: int, delay: float) -> None:
    """From a helper thread: end the process by ``signum`` after ``delay`` s if it is still alive."""
    time.sleep(delay)
    _flush_streams()
    try:  # signal.signal only works on the main thread, which may be blocked: reset through libc
        import ctypes

        ctypes.CDLL(None).signal(signum, 0)  # 0 is SIG_DFL
        os.kill(os.getpid(), signum)
        time.sleep(1.0)
    finally:
        os._exit(128 + signum)
