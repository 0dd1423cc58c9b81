"""Settings from the environment and from :func:`yolo_clearml_patch.configure`.

Environment variables are read when needed, not at import, so a process can change them late.
Values given to ``configure()`` win over the environment.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs ~10 ms to import, and this module is on the cheap activation path
if TYPE_CHECKING:
    from typing import Any

SWITCH_VAR = "YOLO_CLEARML_PATCH"
STRICT_VAR = "YOLO_CLEARML_PATCH_STRICT"
OFFLINE_VAR = "YOLO_CLEARML_OFFLINE"
TIMEOUT_VAR = "YOLO_CLEARML_SERVER_TIMEOUT"
FLUSH_VAR = "YOLO_CLEARML_FLUSH_TIMEOUT"
FORCE_VAR = "YOLO_CLEARML_PATCH_FORCE"
REMOTE_VAR = "YOLO_CLEARML_REMOTE_OVERRIDES"
QUEUE_VAR = "YOLO_CLEARML_QUEUE"
WORST_VAR = "YOLO_CLEARML_WORST_IMAGES"
DEFAULT_WORST_IMAGES = 8
DEFAULT_SERVER_TIMEOUT = 10.0
DEFAULT_FLUSH_TIMEOUT = 30.0

_TRUE = frozenset({"1", "true", "on", "yes"})
_FALSE = frozenset({"0", "false", "off", "no"})
OFFLINE_CHOICES = ("auto", "1", "0")


class ConfigurationError(ValueError):
    """A setting or environment variable has a value the shim cannot use."""


_overrides: dict[str, object] = {}


def parse_flag(name: str, raw: str) -> bool:
    """Parse a boolean flag, raising ConfigurationError that names ``name`` and the accepted forms."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{name}={raw!r} is not understood; expected one of 1/true/on/yes or 0/false/off/no")


def env_flag(name: str, default: bool) -> bool:
    """Read a boolean environment variable; unset or empty gives ``default``."""
    raw = os.environ.get(name, "")
    return default if not raw.strip() else parse_flag(name, raw)


def parse_offline(name: str, raw: object) -> str:
    """Normalise an offline setting to ``auto``, ``1`` or ``0``."""
    if isinstance(raw, bool):
        return "1" if raw else "0"
    value = str(raw).strip().lower()
    if value == "auto":
        return value
    try:
        return "1" if parse_flag(name, value) else "0"
    except ConfigurationError:
        raise ConfigurationError(f"{name}={raw!r} is not understood; expected auto, 1 or 0") from None


def switch_state() -> bool | None:
    """The ``YOLO_CLEARML_PATCH`` switch: True/False when set, None when unset or empty."""
    raw = os.environ.get(SWITCH_VAR, "")
    return parse_flag(SWITCH_VAR, raw) if raw.strip() else None


def strict() -> bool:
    """Whether the shim re-raises its own errors (test mode)."""
    if "strict" in _overrides:
        return bool(_overrides["strict"])
    try:
        return env_flag(STRICT_VAR, False)
    except ConfigurationError:
        return False


def offline() -> str:
    """The offline policy: ``auto`` (fall back when unconfigured), ``1`` (always) or ``0`` (never)."""
    if "offline" in _overrides:
        return str(_overrides["offline"])
    raw = os.environ.get(OFFLINE_VAR, "")
    return parse_offline(OFFLINE_VAR, raw) if raw.strip() else "auto"


def _parse_number(name: str, raw: object, convert: Any, valid: Any, expected: str) -> Any:
    try:
        value = convert(raw)
    except (TypeError, ValueError):
        value = None
    if value is None or not valid(value):
        raise ConfigurationError(f"{name}={raw!r} is not understood; expected {expected}")
    return value


def parse_timeout(name: str, raw: object) -> float:
    """A positive number of seconds."""
    return _parse_number(name, raw, float, lambda v: 0 < v < float("inf"), "a positive number of seconds, e.g. 10")


def _whole(raw: object) -> int:
    if isinstance(raw, (bool, float)):
        raise ValueError(raw)
    return int(str(raw).strip())


def parse_count(name: str, raw: object) -> int:
    """A whole number, 0 or more."""
    return _parse_number(name, raw, _whole, lambda v: v >= 0, "a whole number, 0 or more (0: off)")


def _from_env(key: str, var: str, parse: Any, default: Any) -> Any:
    """A setting: from ``configure()``, else the environment variable ``var``, else ``default``."""
    if key in _overrides:
        return _overrides[key]
    raw = os.environ.get(var, "")
    return parse(var, raw) if raw.strip() else default


def server_timeout() -> float:
    """Seconds the shim waits for a ClearML server to answer before recording offline."""
    return float(_from_env("server_timeout", TIMEOUT_VAR, parse_timeout, DEFAULT_SERVER_TIMEOUT))


def flush_timeout() -> float:
    """Seconds train end, and the process exit, wait for reports to reach a ClearML server."""
    return float(_from_env("flush_timeout", FLUSH_VAR, parse_timeout, DEFAULT_FLUSH_TIMEOUT))


def force() -> bool:
    """Whether to patch even outside the supported version ranges."""
    return env_flag(FORCE_VAR, False)


def remote_overrides() -> bool:
    """Whether edits made in ClearML apply to the trainer even when running locally."""
    return env_flag(REMOTE_VAR, False)


def parse_queue(name: str, raw: object) -> str | None:
    """A ClearML queue name; empty or None means "train here"."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ConfigurationError(f"{name}={raw!r} is not understood; expected a queue name, e.g. gpu")
    value = raw.strip()
    if any(ch in value for ch in "\n\r\t"):
        raise ConfigurationError(f"{name}={raw!r} is not understood; a queue name is one line")
    return value or None


def queue() -> str | None:
    """The ClearML queue a training is sent to instead of training here (None: train here)."""
    if "queue" in _overrides:
        return _overrides["queue"]  # type: ignore[return-value]
    return parse_queue(QUEUE_VAR, os.environ.get(QUEUE_VAR, ""))


def worst_images() -> int:
    """How many worst validation images each validation during training reports (0: none)."""
    return int(_from_env("worst_images", WORST_VAR, parse_count, DEFAULT_WORST_IMAGES))


def project() -> str | None:
    """A ClearML project name that overrides the one derived from the trainer's ``project`` arg."""
    value = _overrides.get("project")
    return str(value) if value else None


def tags() -> list[str]:
    """Tags for Tasks the shim creates."""
    return list(_overrides.get("tags", ["Ultralytics"]))  # type: ignore[arg-type]


def _check_tags(value: object) -> list[str]:
    if isinstance(value, str) or not all(isinstance(t, str) for t in value):  # type: ignore[union-attr]
        raise ConfigurationError("configure(tags=...) takes a list of strings")
    return list(value)  # type: ignore[arg-type]


_VALIDATORS = {
    "strict": lambda v: v if isinstance(v, bool) else parse_flag("configure(strict=...)", str(v)),
    "offline": lambda v: parse_offline("configure(offline=...)", v),
    "server_timeout": lambda v: parse_timeout("configure(server_timeout=...)", v),
    "flush_timeout": lambda v: parse_timeout("configure(flush_timeout=...)", v),
    "project": lambda v: None if v is None else str(v),
    "tags": _check_tags,
    "queue": lambda v: parse_queue("configure(queue=...)", v),
    "worst_images": lambda v: parse_count("configure(worst_images=...)", v),
}


def configure(**settings: object) -> None:
    """Set shim settings in this process: ``strict``, ``offline``, ``server_timeout``, ``flush_timeout``,
    ``worst_images``,
    ``project``, ``tags``, ``queue``."""
    unknown = sorted(set(settings) - set(_VALIDATORS))
    if unknown:
        raise TypeError(f"configure() got unknown setting(s) {unknown}; valid: {sorted(_VALIDATORS)}")
    checked = {key: _VALIDATORS[key](value) for key, value in settings.items()}
    _overrides.update(checked)


def reset() -> None:
    """Forget every ``configure()`` value."""
    _overrides.clear()
