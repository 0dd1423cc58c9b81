"""Repeat a short training under the shim and measure how long each process takes to exit after
its last line (``TRAIN_DONE``). A process still alive ``--bound`` seconds after that counts as hung
and is killed.

    python benchmarks/exit_soak.py --runs 20
    python benchmarks/exit_soak.py --runs 20 --clearml-subprocess   # ClearML's forked reporting, for comparison
    python benchmarks/exit_soak.py --runs 20 --online               # against the test ClearML server

Prints one ``name: value`` line per figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRAIN_JOB = REPO / "tests" / "scripts" / "train_job.py"


def run_once(data: Path, out: Path, env: dict, bound: float, extra: list[str]) -> float | None:
    """Exit delay in seconds after TRAIN_DONE, or None if the process hung (it is then killed)."""
    cmd = [sys.executable, "-m", "yolo_clearml_patch", str(TRAIN_JOB), "--data", str(data), "--out", str(out)]
    proc = subprocess.Popen(
        [*cmd, "--epochs", "1", *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    done_at: list[float] = []
    done = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            if line.startswith("TRAIN_DONE"):
                done_at.append(time.monotonic())
                done.set()
        done.set()  # end of output: the process exited (or closed stdout) without the line

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    done.wait(timeout=600)  # the training itself, generously
    if not done_at:
        proc.kill()
        proc.wait()
        raise RuntimeError("training did not finish")
    remaining = bound - (time.monotonic() - done_at[0])
    try:
        proc.wait(timeout=max(remaining, 0))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None
    reader.join(5)
    if proc.returncode != 0:
        raise RuntimeError(f"exit code {proc.returncode}")
    return time.monotonic() - done_at[0]


def soak(runs: int, bound: float, clearml_subprocess: bool = False, online: bool = False) -> list[float | None]:
    """Run ``runs`` trainings; return each one's exit delay (None for a hang).

    ``online``: against the project's test ClearML server (tests/clearml_api) on 127.0.0.1, up
    throughout; otherwise into ClearML's offline session.
    """
    sys.path.insert(0, str(REPO / "examples"))
    sys.path.insert(0, str(REPO / "tests"))
    from clearml_api import running_server
    from synthetic_data import make_detect_dataset

    with tempfile.TemporaryDirectory() as tmp, running_server() as server:
        tmp_path = Path(tmp)
        data = make_detect_dataset(tmp_path / "data")
        drop = ("CLEARML_", "YOLO_CLEARML_", "PYTEST_", "GITHUB_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
        env.update(HOME=str(tmp_path / "home"), MPLBACKEND="Agg", YOLO_CLEARML_PATCH_STRICT="1")
        if online:
            env.update(server.env())
        extra = ["--clearml-subprocess"] if clearml_subprocess else []
        return [run_once(data, tmp_path / "runs", env, bound, extra) for _ in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--bound", type=float, default=60.0, help="seconds after the last line")
    parser.add_argument("--clearml-subprocess", action="store_true", help="restore ClearML's forked reporting")
    parser.add_argument("--online", action="store_true", help="against the test ClearML server, not offline")
    args = parser.parse_args()
    delays = soak(args.runs, args.bound, args.clearml_subprocess, args.online)
    exited = [d for d in delays if d is not None]
    label = ("clearml_subprocess" if args.clearml_subprocess else "shim") + ("_online" if args.online else "")
    print(f"{label}_runs: {len(delays)}")
    print(f"{label}_hung: {len(delays) - len(exited)}")
    if exited:
        print(f"{label}_exit_delay_median_s: {statistics.median(exited):.2f}")
        print(f"{label}_exit_delay_max_s: {max(exited):.2f}")


if __name__ == "__main__":
    main()
