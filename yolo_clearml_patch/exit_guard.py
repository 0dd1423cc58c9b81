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

SIGTERM_GRACE = 5.0  # seconds from SIGTERM to the end of the process, at most
PROBE_TIMEOUT = 2.0  # at the exit bound: does the server still answer (then uploads may go on)?
EXIT_CAP_FACTOR = 10  # a server that keeps answering may hold the exit this many bounds at most

_installed = False
_exit_code: Any = None
_exception: BaseException | None = None
_server_host: str | None = None
_terminating = False


def record_exit(code: Any) -> None:
    """Remember the program's exit code (``sys.exit`` and the runner call this)."""
    global _exit_code
    _exit_code = code


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
    from . import delivery, settings

    bound = SIGTERM_GRACE if _terminating else settings.flush_timeout()
    deadline = time.monotonic() + bound
    if _server_host and not _terminating:  # offline, nothing waits on a server
        _start_watchdog(deadline, bound)
    delivery.wait_all(deadline)
    delivery.join_finishers(deadline)  # their summary lines


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
    from .server_probe import server_answers

    return server_answers(_server_host, timeout)[0]


def _exit_now(reason: str, code: int) -> None:
    """Say what was not sent, then end the process at once with ``code``."""
    from . import delivery
    from .log import logger

    missing = delivery.unfinished()
    detail = "; ".join(f"Task {d.task.id}: not confirmed sent: {delivery.describe(d.missing())}" for d in missing)
    logger().warning(f"{reason}; exiting with code {code}. {detail}".strip())
    _flush_streams()
    os._exit(code)


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
    """ClearML marks its Task stopped (not completed) when its exit hook saw the signal."""
    from .clearml_task import tell_clearml_at_exit

    with contextlib.suppress(Exception):
        tell_clearml_at_exit(signal=signum)


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
