"""``python -m yolo_clearml_patch --check``: is this environment set up to report, and how?

Prints one line per fact and exits non-zero when a training would not be reported (or its
reporting would be lost): clearml missing, versions out of range, the kill switch, a malformed
setting, no way to reach a server while offline recording is forbidden, or a queue to send
trainings to that cannot be used.
"""

from __future__ import annotations

import importlib
import os
import platform
import sysconfig
from pathlib import Path

from .._version import __version__
from ..base import compat, settings
from ..clearml_side.server_probe import server_answers


class Report:
    """Collects the doctor's lines and its problems."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def line(self, label: str, text: str) -> None:
        print(f"{label:<22} {text}")

    def problem(self, label: str, text: str) -> None:
        self.problems.append(f"{label}: {text}")
        self.line(label, f"PROBLEM: {text}")


def _versions(report: Report) -> bool:
    """Versions against the supported ranges; True when the shim would patch."""
    report.line("python", platform.python_version())
    ok = True
    try:
        ranges = compat.supported_ranges()
    except Exception:  # run from a source tree: no metadata
        ranges = {}
    for name in compat.REQUIRED:
        found, spec = compat.installed_version(name), ranges.get(name, "")
        if found is None:
            report.problem(name, "not installed")
            ok = False
        elif spec and not compat.in_range(found, spec):
            if settings.force():
                report.line(name, f"{found} (outside {spec}; patched anyway: {settings.FORCE_VAR}=1)")
            else:
                report.problem(name, f"{found} is outside the supported range {spec}")
                ok = False
        else:
            report.line(name, f"{found} (supported: {spec or 'unknown'})")
    return ok


def _switch(report: Report) -> bool:
    """The environment switch and the .pth; True unless the kill switch is on."""
    pth = Path(sysconfig.get_paths()["purelib"]) / "yolo_clearml_patch.pth"
    report.line(".pth", f"installed at {pth}" if pth.exists() else "not installed (editable or source install)")
    try:
        state = settings.switch_state()
    except settings.ConfigurationError as exc:
        report.problem(settings.SWITCH_VAR, str(exc))
        return False
    if state is False:
        report.problem(settings.SWITCH_VAR, "0: the kill switch is on, nothing is patched or reported")
        return False
    active = "on in every Python process (via the .pth)" if state else "unset: on by import or the runner only"
    report.line(settings.SWITCH_VAR, active)
    return True


def _clearml(report: Report) -> None:
    """Configuration, server, and what happens to a run."""
    try:
        policy, timeout = settings.offline(), settings.server_timeout()
    except settings.ConfigurationError as exc:
        report.problem("settings", str(exc))
        return
    from clearml import Task

    from ..clearml_side.offline_policy import clearml_configured, server_host

    if Task.is_offline() or policy == "1":
        report.line("clearml", "offline mode: runs are recorded in the offline session")
        return
    if not clearml_configured():
        where = "recorded offline (then import them)" if policy == "auto" else "NOT reported (YOLO_CLEARML_OFFLINE=0)"
        text = f"not configured (no clearml.conf, no CLEARML_API_* keys): runs are {where}"
        if policy == "auto":
            report.line("clearml", text)
        else:
            report.problem("clearml", text)
        return
    host = server_host()
    answered, waited = server_answers(host, timeout)
    if answered:
        report.line("clearml server", f"{host} answers ({waited:.1f} s)")
    elif policy == "auto":
        report.line("clearml server", f"{host} does not answer within {timeout:g} s: runs are recorded offline")
    else:
        report.problem("clearml server", f"{host} does not answer within {timeout:g} s and YOLO_CLEARML_OFFLINE=0")


def _queue(report: Report) -> None:
    """The queue trainings are sent to: set, existing, and how many agents listen on it."""
    try:
        name = settings.queue()
    except settings.ConfigurationError as exc:
        report.problem(settings.QUEUE_VAR, str(exc))
        return
    if name is None:
        report.line("queue", f"none: trainings run here ({settings.QUEUE_VAR} or --queue sends them to an agent)")
        return
    from ..clearml_side.remote_launch import queue_ready, running_on_an_agent

    if running_on_an_agent():
        report.line("queue", f"{name!r} ignored: this process runs on a clearml-agent")
        return
    try:
        state = queue_ready(name)
    except settings.ConfigurationError as exc:
        report.problem("queue", str(exc))
        return
    except Exception as exc:
        report.problem("queue", f"cannot read queue {name!r} from the server: {type(exc).__name__}: {exc}")
        return
    report.line("queue", f"trainings are sent to {state.describe()}")


def _ultralytics(report: Report) -> None:
    """The built-in callback and the methods that will be patched."""
    from ultralytics.utils import SETTINGS

    from ..ultralytics_side.patching import TARGETS, owner

    if SETTINGS.get("clearml"):
        state = "enabled in Ultralytics settings; suppressed for trainings the shim handles (settings untouched)"
    else:
        state = "disabled in Ultralytics settings; nothing to suppress"
    report.line("built-in callback", state)

    for module_name, targets in TARGETS.items():
        module = importlib.import_module(module_name)
        for class_name, method, _ in targets:
            found = callable(getattr(owner(module, class_name), method, None))
            status = "will be patched" if found else "missing in this version: that part is not reported"
            where = ".".join(part for part in (module_name, class_name, method) if part)
            report.line("patch", f"{where}: {status}")


def main() -> int:
    """Run every check; return the exit code (0 healthy, 1 a run would not be reported)."""
    report = Report()
    report.line("yolo_clearml_patch", f"{__version__} ({Path(__file__).parent})")
    versions_ok = _versions(report)
    _switch(report)
    if compat.installed_version("clearml") is not None:
        _clearml(report)
        _queue(report)
    if versions_ok:
        _ultralytics(report)
    if os.environ.get(settings.STRICT_VAR):
        report.line(settings.STRICT_VAR, os.environ[settings.STRICT_VAR])
    if report.problems:
        print("NOT OK: " + "; ".join(report.problems))
        return 1
    print("OK: trainings will be reported")
    return 0
