"""Fixtures: generated datasets, a clean environment per child process, and a training runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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


@pytest.fixture
def clearml_server():
    """The test ClearML server (API + files) on 127.0.0.1, up; stopped after the test."""
    from clearml_api.server import running_server

    with running_server() as server:
        yield server


@pytest.fixture(scope="module")
def server():
    """A test ClearML server shared by the tests of one module (the agent and search tests)."""
    from clearml_api.server import running_server

    with running_server() as server:
        yield server


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
    exited_at: float = 0.0  # time.time() when the process was seen to end (background trainings)

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


def _job(way: str, task: str, extra: tuple, run_env: dict, datasets: dict, out: Path) -> list[str]:
    """The child's arguments for ``train_job.py``, turned on one of the three ways (or not at all)."""
    job = [str(TRAIN_JOB), "--data", str(datasets[task]), "--out", str(out), "--task", task]
    if way == "runner":
        return ["-m", "yolo_clearml_patch", *job, *extra]
    if way == "import":
        return [*job, "--shim-import", "before", *extra]
    if way == "pth":
        run_env["YOLO_CLEARML_PATCH"] = "1"
        return [*job, *extra]
    if way == "none":
        return [*job, *extra]
    raise ValueError(way)


@pytest.fixture
def train(datasets, child_env, home, tmp_path):
    """Run ``tests/scripts/train_job.py`` in a subprocess, turned on one of the three ways (or not at all)."""

    def _train(way: str, task: str = "detect", *extra: str, env: dict | None = None) -> TrainingResult:
        run_env = {**child_env, **(env or {})}
        args = _job(way, task, extra, run_env, datasets, tmp_path / "runs")
        proc = run_python(args, run_env, cwd=tmp_path, timeout=TRAIN_TIMEOUT)
        return TrainingResult(proc, sessions_under(home), tmp_path / "runs" / task)

    return _train


@dataclass
class RunningTraining:
    """A training started in the background, so that a test can act while it runs."""

    popen: subprocess.Popen
    run_dir: Path
    home: Path
    logs: tuple[Path, Path]  # the child's stdout and stderr (files: a full pipe would block the child)

    def epochs_done(self) -> int:
        """Rows in results.csv: the epochs Ultralytics has finished."""
        results = self.run_dir / "results.csv"
        return max(0, len(results.read_text().strip().splitlines()) - 1) if results.exists() else 0

    def wait_for_epochs(self, n: int, timeout: float = TRAIN_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while self.epochs_done() < n:
            assert self.popen.poll() is None, f"the training ended before epoch {n}: {self.popen.returncode}"
            assert time.monotonic() < deadline, f"epoch {n} not reached within {timeout} s"
            time.sleep(0.05)

    def wait_for_reporting(self, server, epochs: int = 1, timeout: float = TRAIN_TIMEOUT) -> None:
        """Wait for ``epochs`` epochs and for the Task to be running on the test ``server`` (the shim
        creates it alongside the first epochs): a fault switched on after this hits a running Task."""
        self.wait_for_epochs(epochs, timeout)
        deadline = time.monotonic() + timeout
        while True:
            with server.state.lock:
                if any(t["status"] == "in_progress" and t["hyperparams"] for t in server.state.tasks.values()):
                    return
            assert self.popen.poll() is None, f"the training ended with no running Task: {self.popen.returncode}"
            assert time.monotonic() < deadline, f"no running Task within {timeout} s"
            time.sleep(0.05)

    def wait_for_output(self, text: str, timeout: float = TRAIN_TIMEOUT) -> None:
        """Wait until the child has printed ``text`` on its stdout."""
        deadline = time.monotonic() + timeout
        while text not in self.logs[0].read_text(errors="replace"):
            assert self.popen.poll() is None, f"the training ended without printing {text!r}: {self.popen.returncode}"
            assert time.monotonic() < deadline, f"{text!r} not printed within {timeout} s"
            time.sleep(0.05)

    def finish(self, timeout: float = TRAIN_TIMEOUT) -> TrainingResult:
        """Wait for the process to end (failing the test at ``timeout``); ``exited_at`` is when it ended."""
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        exited_at = time.time()
        out, err = (path.read_text(errors="replace") for path in self.logs)
        if self.popen.returncode == -signal.SIGKILL:
            pytest.fail(f"the training did not exit within {timeout} s\n{out[-3000:]}\n{err[-3000:]}")
        result = TrainingResult(
            subprocess.CompletedProcess(self.popen.args, self.popen.returncode, out, err),
            sessions_under(self.home),
            self.run_dir,
        )
        result.exited_at = exited_at
        return result


@pytest.fixture
def start_training(datasets, child_env, home, tmp_path):
    """Start ``train_job.py`` in the background; every process started is killed by PID at the end."""
    started: list[subprocess.Popen] = []

    def _start(way: str, task: str = "detect", *extra: str, env: dict | None = None) -> RunningTraining:
        run_env = {**child_env, **(env or {})}
        args = [sys.executable, *_job(way, task, extra, run_env, datasets, tmp_path / "runs")]
        logs = (tmp_path / f"stdout-{len(started)}.txt", tmp_path / f"stderr-{len(started)}.txt")
        with open(logs[0], "w") as out, open(logs[1], "w") as err:
            popen = subprocess.Popen(args, env=run_env, cwd=str(tmp_path), stdout=out, stderr=err)
        started.append(popen)
        return RunningTraining(popen, tmp_path / "runs" / task, home, logs)

    yield _start
    for popen in started:
        if popen.poll() is None:
            os.kill(popen.pid, signal.SIGKILL)
            popen.wait(10)


AGENT_VERSION = "3.0.3"  # clearml-agent from PyPI, in a venv of its own (it pins older requests)


@pytest.fixture(scope="session")
def clearml_agent(tmp_path_factory) -> Path:
    """The real clearml-agent, installed from the package registry into a throwaway venv."""
    venv = tmp_path_factory.mktemp("clearml-agent") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"clearml-agent=={AGENT_VERSION}"]
    subprocess.run(pip, check=True, timeout=600, capture_output=True)
    return venv / "bin" / "clearml-agent"
