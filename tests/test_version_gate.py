"""The version gate reads the supported ranges from the installed metadata and refuses others."""

from __future__ import annotations

import configparser
import json
from pathlib import Path

import pytest
from conftest import REPO, run_python

from yolo_clearml_patch.base import compat

CHECK = """
import json, yolo_clearml_patch
import ultralytics.engine.trainer as t
print(json.dumps(type(vars(t.BaseTrainer)["run_callbacks"]).__name__ == "FunctionWrapper"))
"""


def _fake_distribution(root: Path, name: str, version: str) -> Path:
    info = root / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return root


def test_ranges_are_the_ones_declared_in_setup_cfg():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    declared = [line.strip() for line in cfg["options"]["install_requires"].splitlines() if line.strip()]
    ranges = compat.supported_ranges()
    assert set(ranges) == {"ultralytics", "clearml", "wrapt"}
    for name, spec in ranges.items():
        (line,) = [d for d in declared if d.startswith(name)]
        assert sorted(line[len(name) :].split(",")) == sorted(spec.split(","))


@pytest.mark.parametrize(("name", "version"), [("ultralytics", "7.0.0"), ("wrapt", "0.9.0")])
def test_unsupported_version_warns_once_and_does_not_patch(name, version, child_env, tmp_path):
    env = {**child_env, "PYTHONPATH": str(_fake_distribution(tmp_path / "fake", name, version))}
    proc = run_python(["-c", CHECK], env, cwd=tmp_path)
    assert json.loads(proc.stdout.splitlines()[-1]) is False, proc.stderr
    assert proc.stderr.count(f"{name} {version} is outside the supported range") == 1
    assert "YOLO_CLEARML_PATCH_FORCE=1" in proc.stderr


def test_force_patches_anyway(child_env, tmp_path):
    fake = _fake_distribution(tmp_path / "fake", "ultralytics", "7.0.0")
    env = {**child_env, "PYTHONPATH": str(fake), "YOLO_CLEARML_PATCH_FORCE": "1"}
    proc = run_python(["-c", CHECK], env, cwd=tmp_path)
    assert json.loads(proc.stdout.splitlines()[-1]) is True, proc.stderr
    assert "patching anyway" in proc.stderr


def test_installed_versions_pass_the_gate():
    assert compat.check() == ([], [])
