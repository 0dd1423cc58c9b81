"""What a search over Ultralytics args may search, in Ultralytics' own terms.

- The default space is the one Ultralytics' ``Tuner`` uses, read from the installed Ultralytics.
- ``--space`` files take ``model.tune(space=...)``'s format: ``key: [min, max]`` or ``[min, max, gain]``
  (the gain, the Tuner's mutation scale, means nothing to ClearML's strategies and is ignored).
- Keys Ultralytics does not know, non-numeric keys and empty ranges are refused.
- ``optimizer=auto`` ignores ``lr0`` and ``momentum``: when either is searched, the optimizer
  Ultralytics picked is pinned, with the other values ``auto`` sets.
"""

from __future__ import annotations

import ast
import inspect
import math
from pathlib import Path
from typing import Any

from ..base.settings import ConfigurationError
from ..clearml_side.search import Range

AUTO_IGNORES = ("lr0", "momentum")
LOG_SCALE_DECADES = 2  # a range of min > 0 spanning this many powers of ten is sampled log-uniformly


def default_space() -> dict[str, tuple]:
    """``Tuner``'s default space ``{key: (min, max[, gain])}``, from the installed Ultralytics' source."""
    from ultralytics.engine import tuner

    tree = ast.parse(inspect.getsource(tuner.Tuner.__init__).lstrip())
    for node in ast.walk(tree):
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and isinstance(node.values[-1], ast.Dict):
            return {k: tuple(v) for k, v in ast.literal_eval(node.values[-1]).items()}
    raise ConfigurationError("cannot read Ultralytics' default tuning space from this version: pass --space")


def load_space(path: str) -> dict[str, Any]:
    """A ``--space`` YAML file, as a dict."""
    import yaml

    file = Path(path)
    if not file.is_file():
        raise ConfigurationError(f"--space {path}: no such file")
    try:
        space = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"--space {path} is not valid YAML: {exc}") from None
    if not isinstance(space, dict) or not space:
        raise ConfigurationError(f"--space {path} must map Ultralytics args to [min, max] ranges")
    return space


def ranges(space: dict[str, Any]) -> list[Range]:
    """The space as checked :class:`Range` values; ConfigurationError for a key Ultralytics does not
    know or does not take a number for, a malformed range, or an empty one."""
    from ultralytics.cfg import CFG_FLOAT_KEYS, CFG_FRACTION_KEYS, CFG_INT_KEYS, DEFAULT_CFG_DICT

    numeric = set(CFG_FLOAT_KEYS) | set(CFG_FRACTION_KEYS) | set(CFG_INT_KEYS)
    numeric |= {k for k, v in DEFAULT_CFG_DICT.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    out = []
    for key, bounds in space.items():
        if key not in DEFAULT_CFG_DICT:
            raise ConfigurationError(f"search space: {key!r} is not an Ultralytics arg")
        if key not in numeric:
            raise ConfigurationError(f"search space: {key!r} does not take a number; only numeric args are searched")
        if (
            not isinstance(bounds, (list, tuple))
            or len(bounds) not in (2, 3)
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b) for b in bounds)
        ):
            raise ConfigurationError(f"search space: {key}: {bounds!r} is not [min, max] or [min, max, gain]")
        low, high = float(bounds[0]), float(bounds[1])
        integer = key in CFG_INT_KEYS
        if integer:
            low, high = float(math.ceil(low)), float(math.floor(high))
        if low > high:
            raise ConfigurationError(
                f"search space: {key}: the range {list(bounds[:2])} is empty"
                + (" (it holds no integer)" if integer else " (min is above max)")
            )
        log = not integer and low > 0 and high / low >= 10**LOG_SCALE_DECADES
        out.append(Range(key, low, high, integer, log))
    return out


def auto_optimizer_pins(
    general: dict[str, str], resolved: dict[str, str], searched: set[str], optimizer: str | None
) -> tuple[dict[str, Any], str | None]:
    """The values to pin in every trial, and what to tell the user (or None).

    ``--optimizer`` pins that optimizer. Otherwise, with ``optimizer=auto`` in the base Task and
    ``lr0`` or ``momentum`` searched, the optimizer ``auto`` picked (the base Task's "Resolved"
    section: Ultralytics >= 8.4 writes it back) is pinned with what ``auto`` also set (``lr0``,
    ``momentum`` 0.9, ``warmup_bias_lr`` 0.0) for the keys not searched.
    """
    if optimizer:
        return {"optimizer": optimizer}, None
    asked = general.get("optimizer", "auto").strip()
    hit = sorted(searched & set(AUTO_IGNORES))
    if asked.lower() != "auto" or not hit:
        return {}, None
    picked = resolved.get("optimizer", "").strip()
    if not picked or picked.lower() == "auto":
        raise ConfigurationError(
            f"the base Task trains with optimizer=auto, which ignores {' and '.join(hit)}, and it does not say which "
            "optimizer auto picked (Ultralytics < 8.4 does not record it): pass --optimizer (e.g. --optimizer AdamW)"
        )
    pins: dict[str, Any] = {"optimizer": picked, "momentum": 0.9, "warmup_bias_lr": 0.0}
    if resolved.get("lr0"):
        pins["lr0"] = float(resolved["lr0"])
    pins = {k: v for k, v in pins.items() if k not in searched}
    said = ", ".join(f"{k}={v}" for k, v in pins.items())
    return pins, (
        f"the base Task trains with optimizer=auto, which ignores {' and '.join(hit)}; every trial pins what auto "
        f"picked: {said}"
    )
