"""The overhead per trial of ``yolo-clearml optimize``, against the test ClearML server with real
``clearml-agent daemon`` processes.

    python benchmarks/optimize_overhead.py                     # 4 trials, 1 agent, --poll 12 and 2
    python benchmarks/optimize_overhead.py --trials 6 --polls 12

For each search (one agent, one trial at a time, so the gaps are the optimizer's and the agent's, not
a wait for a free agent), from the server's timestamps of every trial Task:

- ``enqueue_to_start``: the trial's creation (it is cloned and enqueued at once) to the agent marking
  it started: the agent's queue poll and the start of the training process;
- ``end_to_next_start``: a trial's end to the next trial's start: the optimizer noticing the end (its
  poll period), cloning, enqueueing, and the agent picking the next one up;
- ``trial_s``: a trial's own run (started to completed), for scale.

Prints ``name: value`` lines (medians and maxima in seconds), as ``benchmarks/run.py`` does.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "examples"))

from agents import agent_daemon, task_ids, user_env  # noqa: E402
from clearml_api import ClearMLTestServer  # noqa: E402
from conftest import AGENT_VERSION, SCRIPTS  # noqa: E402
from synthetic_data import make_detect_dataset  # noqa: E402


def figure(name: str, value: object) -> None:
    print(f"{name}: {value}", flush=True)


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _install_agent(root: Path) -> Path:
    venv = root / "agent-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"clearml-agent=={AGENT_VERSION}"]
    subprocess.run(pip, check=True, timeout=600)
    return venv / "bin" / "clearml-agent"


def _run(args: list[str], env: dict, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    cmd = [sys.executable, *args]
    proc = subprocess.run(cmd, env=env, cwd=str(cwd), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[:4])} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--polls", default="12,2", help="the optimizer's --poll values to measure (seconds)")
    parser.add_argument("--agent", help="a clearml-agent executable (default: installed into a temporary venv)")
    opts = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="optimize-bench-"))
    server = ClearMLTestServer().start()
    try:
        agent = Path(opts.agent) if opts.agent else _install_agent(root)
        data = make_detect_dataset(root / "data")
        code = root / "code"
        code.mkdir()
        shutil.copy(SCRIPTS / "train_job.py", code / "train_job.py")
        env = user_env(server, root / "home")
        before = task_ids(server)
        _run(["-m", "yolo_clearml_patch", "train_job.py", "--data", str(data), "--out", str(root / "runs"),
              "--epochs", "1"], env, code, 600)  # fmt: skip
        (base,) = task_ids(server) - before
        server.state.handle_as_ui("queues.create", {"name": "bench"})
        with agent_daemon(agent, server, root, "bench-agent", "bench"):
            for poll in [float(p) for p in opts.polls.split(",")]:
                before = task_ids(server)
                _run(["-m", "yolo_clearml_patch", "optimize", "--task", base, "--queue", "bench", "--trials",
                      str(opts.trials), "--concurrent", "1", "--epochs", "1", "--strategy", "random", "--poll",
                      f"{poll:g}", "--out", str(root / "best.yaml")], env, root, 600 + 120 * opts.trials)  # fmt: skip
                with server.state.lock:
                    new = [server.state.tasks[i] for i in task_ids(server) - before]
                    (optimizer,) = [t["id"] for t in new if t["type"] == "optimizer"]
                    trials = sorted((t for t in new if t.get("parent") == optimizer), key=lambda t: t["created"])
                    spans = [(_stamp(t["created"]), _stamp(t["started"]), _stamp(t["completed"])) for t in trials]
                waits = [started - created for created, started, _ in spans]
                gaps = [nxt[1] - prev[2] for prev, nxt in zip(spans, spans[1:])]
                runs = [done - started for _, started, done in spans]
                tag = f"poll_{poll:g}s"
                figure(f"{tag}_trials", len(spans))
                figure(f"{tag}_enqueue_to_start_median_s", f"{statistics.median(waits):.1f}")
                figure(f"{tag}_enqueue_to_start_max_s", f"{max(waits):.1f}")
                if gaps:
                    figure(f"{tag}_end_to_next_start_median_s", f"{statistics.median(gaps):.1f}")
                    figure(f"{tag}_end_to_next_start_max_s", f"{max(gaps):.1f}")
                figure(f"{tag}_trial_run_median_s", f"{statistics.median(runs):.1f}")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
