"""Turning the shim on and off: laziness, import order, idempotence, kill switch, the .pth gate."""

from __future__ import annotations

import json
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import run_python

HEAVY = ("ultralytics", "torch", "clearml", "wrapt")
LOADED_HEAVY = f"[m for m in {HEAVY!r} if m in sys.modules]"


def _py(code: str, child_env: dict, tmp_path: Path, **env: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line, which is returned."""
    proc = run_python(["-c", code], {**child_env, **env}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


WRAPPED = """
import json, sys
{before}
import ultralytics.engine.trainer as t, ultralytics.engine.validator as v
{after}
def wrapped(cls):
    return type(vars(cls)["run_callbacks"]).__name__ == "FunctionWrapper"
import yolo_clearml_patch as y
print(json.dumps({{"trainer": wrapped(t.BaseTrainer), "validator": wrapped(v.BaseValidator), "on": y.is_patched()}}))
"""


def test_import_costs_nothing_heavy(child_env, tmp_path):
    code = f"import json, sys, yolo_clearml_patch as y; print(json.dumps([y.is_patched(), {LOADED_HEAVY}]))"
    assert _py(code, child_env, tmp_path) == [True, []]


@pytest.mark.parametrize("order", ["before", "after"])
def test_import_order_does_not_matter(order, child_env, tmp_path):
    shim = "import yolo_clearml_patch"
    code = WRAPPED.format(before=shim if order == "before" else "", after=shim if order == "after" else "")
    assert _py(code, child_env, tmp_path) == {"trainer": True, "validator": True, "on": True}


def test_patch_unpatch_patch(child_env, tmp_path):
    code = """
import json, yolo_clearml_patch as y
import ultralytics.engine.trainer as t
def attr(): return vars(t.BaseTrainer)["run_callbacks"]
original = attr().__wrapped__
y.patch()
twice = attr().__wrapped__ is original          # a second patch() adds no second wrapper
y.unpatch()
restored = attr() is original and not y.is_patched()
y.patch()
again = type(attr()).__name__ == "FunctionWrapper" and attr().__wrapped__ is original and y.is_patched()
print(json.dumps([twice, restored, again]))
"""
    assert _py(code, child_env, tmp_path) == [True, True, True]


@pytest.mark.parametrize("value", ["0", "false", "off"])
def test_kill_switch_means_nothing_is_patched(value, child_env, tmp_path):
    code = WRAPPED.format(before="import yolo_clearml_patch", after="")
    result = _py(code, child_env, tmp_path, YOLO_CLEARML_PATCH=value)
    assert result == {"trainer": False, "validator": False, "on": False}


def test_malformed_switch_is_named_and_leaves_shim_off(child_env, tmp_path):
    proc = run_python(
        ["-c", "import yolo_clearml_patch as y; print(y.is_patched())"],
        {**child_env, "YOLO_CLEARML_PATCH": "maybe"},
        cwd=tmp_path,
    )
    assert proc.stdout.strip() == "False"
    assert "YOLO_CLEARML_PATCH='maybe'" in proc.stderr and "0/false/off/no" in proc.stderr


def _installed_pth() -> Path:
    return Path(sysconfig.get_paths()["purelib"]) / "yolo_clearml_patch.pth"


def test_pth_is_installed_with_the_package():
    assert _installed_pth().exists(), "install the package (not editable) so its .pth lands in site-packages"


@pytest.mark.parametrize(("value", "expect"), [(None, False), ("", False), ("0", False), ("1", True), ("true", True)])
def test_pth_turns_shim_on_only_when_asked(value, expect, child_env, tmp_path):
    env = dict(child_env)
    if value is not None:
        env["YOLO_CLEARML_PATCH"] = value
    code = f"import json, sys; print(json.dumps(['yolo_clearml_patch' in sys.modules, {LOADED_HEAVY}]))"
    proc = run_python(["-c", code], env, cwd=tmp_path)
    assert json.loads(proc.stdout) == [expect, []]


def test_importing_the_shim_loads_only_its_own_small_modules(child_env, tmp_path):
    # typing, re, dataclasses and the like cost 10 ms or more to import, which every process with
    # YOLO_CLEARML_PATCH=1 would pay before it knows whether it trains at all
    code = (
        "import json, sys; before = set(sys.modules); import yolo_clearml_patch; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    loaded = _py(code, child_env, tmp_path)
    assert [m for m in loaded if m != "__future__" and not m.startswith("yolo_clearml_patch")] == [], loaded


def test_pth_does_nothing_without_site(child_env, tmp_path):
    proc = run_python(
        ["-S", "-c", "import sys; print('yolo_clearml_patch' in sys.modules)"],
        {**child_env, "YOLO_CLEARML_PATCH": "1"},
        cwd=tmp_path,
    )
    assert proc.stdout.strip() == "False"


def test_failing_hook_does_not_break_the_users_import(child_env, tmp_path):
    code = """
import json, sys, yolo_clearml_patch
from yolo_clearml_patch.ultralytics_side import patching
def broken(module): raise RuntimeError("hook bug")
patching.apply = broken
import ultralytics.engine.trainer as t
print(json.dumps("ultralytics.engine.trainer" in sys.modules))
"""
    env = {k: v for k, v in child_env.items() if k != "YOLO_CLEARML_PATCH_STRICT"}
    proc = run_python(["-c", code], env, cwd=tmp_path)
    assert proc.returncode == 0 and json.loads(proc.stdout.splitlines()[-1]) is True, proc.stderr
    assert "could not patch Ultralytics" in proc.stderr and "hook bug" in proc.stderr


def test_public_api():
    import yolo_clearml_patch as y

    assert isinstance(y.__version__, str) and y.__version__
    assert callable(y.patch) and callable(y.unpatch) and isinstance(y.is_patched(), bool)
    assert sys.modules["yolo_clearml_patch"] is y


def test_missing_method_is_skipped_with_a_warning(child_env, tmp_path):
    code = """
import json, types, yolo_clearml_patch
from yolo_clearml_patch.ultralytics_side import patching
module = types.ModuleType("ultralytics.engine.trainer")  # a version without BaseTrainer.train
class BaseTrainer:
    callbacks = {}
    def run_callbacks(self, event):
        return "ran " + event
module.BaseTrainer = BaseTrainer
patching.apply(module)
kind = type(vars(BaseTrainer)["run_callbacks"]).__name__
print(json.dumps([kind, BaseTrainer().run_callbacks("on_custom")]))
"""
    env = {k: v for k, v in child_env.items() if k != "YOLO_CLEARML_PATCH_STRICT"}
    proc = run_python(["-c", code], env, cwd=tmp_path)
    assert json.loads(proc.stdout.splitlines()[-1]) == ["FunctionWrapper", "ran on_custom"], proc.stderr
    assert proc.stderr.count("BaseTrainer.train not found") == 1


def test_every_patched_module_arms_a_hook(child_env, tmp_path):
    """Importing each module patching.TARGETS names, with the shim on, wraps every target it lists
    (the hooks are armed from that one list)."""
    code = """
import importlib, json, yolo_clearml_patch
from yolo_clearml_patch.ultralytics_side.patching import TARGETS, owner
kinds = {}
for name, targets in TARGETS.items():
    module = importlib.import_module(name)
    for class_name, method, _ in targets:
        if method in vars(owner(module, class_name)):  # else inherited: the defining class's wrapper runs
            kinds[f"{name}.{class_name}.{method}"] = type(vars(owner(module, class_name))[method]).__name__
print(json.dumps(kinds))
"""
    proc = run_python(["-c", code], child_env, cwd=tmp_path)
    kinds = json.loads(proc.stdout.splitlines()[-1])
    assert len(kinds) >= 7 and set(kinds.values()) == {"FunctionWrapper"}, (kinds, proc.stderr)
