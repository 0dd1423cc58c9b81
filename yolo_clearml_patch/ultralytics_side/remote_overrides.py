"""Remote execution and HPO: edits made in ClearML reach the trainer before it reads its args.

Upstream connects the trainer's args after the trainer has read them (and since Ultralytics 8.4
ignores remote edits on purpose). The shim wraps ``BaseTrainer.__init__`` instead: under
clearml-agent, or with ``YOLO_CLEARML_REMOTE_OVERRIDES=1``, it connects the full configuration to
the Task first and passes the values the Task holds on to the trainer as overrides. Values come
back typed as Ultralytics' own command line types them (``None`` stays None, ``"false"`` becomes
False, numbers become numbers) and pass Ultralytics' own cfg validation, or fail fast naming the
parameter.
"""

from __future__ import annotations

import ast
from typing import Any

from ..base import settings
from ..base.settings import ConfigurationError
from ..clearml_side.remote_launch import running_on_an_agent
from ..clearml_side.task_choice import task_for


class InvalidRemoteValue(ConfigurationError):
    """A value edited in ClearML that Ultralytics does not accept; training stops before it starts."""


def wanted() -> bool:
    """Whether remote edits apply: under clearml-agent, or when asked for."""
    return settings.remote_overrides() or running_on_an_agent()


def remote_task(project: Any, name: str) -> Any:
    """The Task whose "General" section holds the edited values (under an agent: the agent's Task)."""
    return task_for(project, name)


_WORDS = {"none": None, "true": True, "false": False}


def parse_value(text: str) -> Any:
    """A value edited in ClearML, typed as Ultralytics' command line types it, but never evaluated.

    ``None``/``true``/``false`` (any case) and Python literals (numbers, strings, lists, ...) are
    parsed with ``ast.literal_eval``; anything else stays the string it is. Ultralytics'
    ``smart_value`` is ``eval(v)`` on 8.3.0, which would run a string edited in the UI as code.
    """
    stripped = text.strip()
    if stripped.lower() in _WORDS:
        return _WORDS[stripped.lower()]
    try:
        return ast.literal_eval(stripped)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text


def typed(value: Any, local: Any) -> Any:
    """``value`` from the Task, typed like the local value (strings stay strings where the arg is one)."""
    if not isinstance(value, str) or (isinstance(local, str) and value not in {"None", ""}):
        return value
    return None if value == "" else parse_value(value)


def _stored_strings(task: Any, section: str) -> dict[str, str]:
    """The section's values as the server stores them (strings), before ClearML casts them.

    ClearML casts a value to the type of the local default and, when that fails, keeps the local
    default with only a warning in the Task's log: an edited ``epochs=many`` would silently train
    with the default. Typing the stored strings here makes such an edit fail fast instead.
    """
    get = getattr(task, "get_parameters_as_dict", None)
    stored = (get() or {}).get(section) if get is not None else None
    return {k: v for k, v in (stored or {}).items() if isinstance(v, str)}


def connect_before_init(task: Any, cfg: Any, overrides: dict | None) -> dict:
    """Connect the configuration the trainer would build to ``task``; return the overrides to build it with."""
    from ultralytics.cfg import get_cfg

    local = vars(get_cfg(cfg, overrides))
    connected = {**task.connect(dict(local), name="General"), **_stored_strings(task, "General")}
    edited = {k: typed(v, local[k]) for k, v in connected.items() if k in local}
    changed = {k: v for k, v in edited.items() if v != local[k]}
    merged = {**(overrides or {}), **changed}
    try:
        get_cfg(cfg, merged)  # Ultralytics' own validation of every value
    except (TypeError, ValueError, SyntaxError) as exc:
        bad = [k for k in changed if f"'{k}" in str(exc) or f"{k}=" in str(exc)] or sorted(changed)
        raise InvalidRemoteValue(f"ClearML parameter General/{bad[0]} has an invalid value: {exc}") from exc
    return merged
