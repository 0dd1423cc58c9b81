"""Fixtures: generated datasets, a clean environment per child process, and a training runner."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from offline_session import OfflineSession, sessions_under

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).resolve().parent / "scripts"
TRAIN_JOB = SCRIPTS / "train_job.py"
TRAIN_TIMEOUT = 300  # seconds; a tiny training takes ~20 s, so reaching this means a hang

sys.path.insert(0, str(REPO / "examples"))


def _strip_env() -> dict[str, str]:
    """The parent's environment without anything that would change the child's behaviour."""
    drop_prefixes = ("CLEARML_", "TRAINS_", "YOLO_CLEARML_", "PYTEST_", "GITHUB_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes)}
    env.pop("PYTHONPATH", None)
    env.pop("RANK", None)
    env.pop("LOCAL_RANK", None)
    env.pop("WORLD_SIZE", None)
    return env


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def child_env(home: Path) -> dict[str, str]:
    """A child environment with a tmp HOME (so a fresh ClearML cache and Ultralytics settings)."""
    env = _strip_env()
    env.update(HOME=str(home), MPLBACKEND="Agg", YOLO_CLEARML_PATCH_STRICT="1", PYTHONUNBUFFERED="1")
    env["YOLO_CONFIG_DIR"] = str(home / ".config" / "Ultralytics")
    return env


def run_python(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python args...``; a process that outlives ``timeout`` fails the test instead of stalling it."""
    try:
        return subprocess.run(
            [sys.executable, *args], env=env, cwd=str(cwd), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = (exc.stderr or b"").decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        pytest.fail(f"python {' '.join(args)} did not exit within {timeout} s\n{out[-3000:]}\n{err[-3000:]}")


@pytest.fixture(scope="session")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from synthetic_data import make_classify_dataset, make_detect_dataset

    root = tmp_path_factory.mktemp("datasets")
    return {"detect": make_detect_dataset(root / "detect"), "classify": make_classify_dataset(root / "classify")}


@dataclass
class TrainingResult:
    proc: subprocess.CompletedProcess
    sessions: list[OfflineSession]
    run_dir: Path

    @property
    def output(self) -> str:
        return self.proc.stdout + self.proc.stderr

    @property
    def session(self) -> OfflineSession:
        assert len(self.sessions) == 1, f"expected one offline session, found {len(self.sessions)}\n{self.output}"
        return self.sessions[0]

    def marker(self, name: str) -> str:
        """The value the child printed as ``NAME=value``."""
        prefix = f"{name}="
        return next(line[len(prefix) :] for line in self.proc.stdout.splitlines() if line.startswith(prefix))

    def assert_finished(self) -> None:
        assert self.proc.returncode == 0, self.output[-5000:]
        assert "TRAIN_DONE" in self.proc.stdout, self.output[-5000:]


@pytest.fixture
def train(datasets, child_env, home, tmp_path):
    """Run ``tests/scripts/train_job.py`` in a subprocess, turned on one of the three ways (or not at all)."""

    def _train(way: str, task: str = "detect", *extra: str, env: dict | None = None) -> TrainingResult:
        run_env = {**child_env, **(env or {})}
        job = [str(TRAIN_JOB), "--data", str(datasets[task]), "--out", str(tmp_path / "runs"), "--task", task]
        if way == "runner":
            args = ["-m", "yolo_clearml_patch", *job]
        elif way == "import":
            args = [*job, "--shim-import", "before"]
        elif way == "pth":
            args, run_env["YOLO_CLEARML_PATCH"] = job, "1"
        elif way == "none":
            args = job
        else:
            raise ValueError(way)
        proc = run_python([*args, *extra], run_env, cwd=tmp_path, timeout=TRAIN_TIMEOUT)
        return TrainingResult(proc, sessions_under(home), tmp_path / "runs" / task)

    return _train
