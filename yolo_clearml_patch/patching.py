"""wrapt patches on ``BaseTrainer.run_callbacks`` and ``BaseValidator.run_callbacks``.

Wrapping the base classes covers every task (detect, segment, classify, pose, obb). The original
always runs and its exceptions pass unchanged; the shim's reporting runs after it, guarded.
"""

from __future__ import annotations

from typing import Any

import wrapt

from . import activation, runs
from .upstream_callback import drop_upstream

# (module, class, method) -> the FunctionWrapper installed on the class
_applied: dict[tuple[str, str, str], Any] = {}


def _event(args: tuple, kwargs: dict) -> str | None:
    return args[0] if args else kwargs.get("event")


def _trainer_run_callbacks(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    if not activation.is_patched() or instance is None:
        return wrapped(*args, **kwargs)
    event = _event(args, kwargs)
    drop_upstream(getattr(instance, "callbacks", None), event)
    result = wrapped(*args, **kwargs)
    runs.on_trainer_event(instance, event)
    return result


def _validator_run_callbacks(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    if not activation.is_patched() or instance is None:
        return wrapped(*args, **kwargs)
    event = _event(args, kwargs)
    drop_upstream(getattr(instance, "callbacks", None), event)
    result = wrapped(*args, **kwargs)
    runs.on_validator_event(instance, event)
    return result


TARGETS = {
    "ultralytics.engine.trainer": ("BaseTrainer", "run_callbacks", _trainer_run_callbacks),
    "ultralytics.engine.validator": ("BaseValidator", "run_callbacks", _validator_run_callbacks),
}


def apply(module: Any) -> None:
    """Wrap the target method of ``module`` once; a missing method is skipped with a warning."""
    name = module.__name__
    if name not in TARGETS:
        return
    class_name, method, wrapper = TARGETS[name]
    key = (name, class_name, method)
    cls = getattr(module, class_name, None)
    if key in _applied and cls is not None and _in_chain(vars(cls).get(method), _applied[key]):
        return
    if cls is None or not callable(getattr(cls, method, None)):
        from .guard import warn_once

        warn_once(f"missing {key}", f"{name}.{class_name}.{method} not found; that part is not reported")
        return
    wrapt.wrap_function_wrapper(module, f"{class_name}.{method}", wrapper)
    _applied[key] = vars(cls)[method]


def _in_chain(attribute: Any, wrapper: Any) -> bool:
    """Whether ``wrapper`` is ``attribute`` or lies under it in a chain of ``__wrapped__`` links."""
    seen = 0
    while attribute is not None and seen < 50:
        if attribute is wrapper:
            return True
        attribute, seen = getattr(attribute, "__wrapped__", None), seen + 1
    return False


def remove() -> None:
    """Restore the originals where the shim's wrapper is the outermost one.

    A wrapper that someone else wrapped again stays in place and passes straight through while the
    shim is off; it is remembered, so a later ``patch()`` does not wrap a second time.
    """
    import sys

    for key, wrapper in list(_applied.items()):
        name, class_name, method = key
        cls = getattr(sys.modules.get(name), class_name, None)
        if cls is None:
            del _applied[key]
        elif vars(cls).get(method) is wrapper:
            setattr(cls, method, wrapper.__wrapped__)
            del _applied[key]
