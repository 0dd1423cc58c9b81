"""Benchmark figures for yolo_clearml_patch, each measured side by side in the same run.

    python benchmarks/run.py --quick                 # under 4 minutes on 2 cores
    python benchmarks/run.py                         # more repeats
    python benchmarks/run.py --only start,classes    # some figures again

Prints one ``name: value`` line per figure, as it is measured. The figures (``--only`` names):

- ``start``: process start with YOLO_CLEARML_PATCH=1 vs unset (ratio of medians, interleaved
  ``python -c pass``), and the in-process import cost of yolo_clearml_patch (``-X importtime``);
- ``train``: trainings, interleaved, offline (shim, upstream callback, no tracker; the full run adds
  the shim with ClearML's forked reporting process) and online against the test ClearML server
  (``shim_online``: up; ``shim_slow``: every request 200 ms late): wall time ratios to no tracker, the
  shim's CPU per epoch on the training thread, on_train_end latency, and the time from ``train()``
  returning to the process exit;
- ``server``: the wait a dead (closed port) or hanging ClearML server adds, shim vs upstream's
  Task.init, each against the same call with no server at all;
- ``classes``: train-end reporting of a validation with 80, 365 and 1000 classes (Ultralytics' own
  validator classes filled in memory, a real offline Task): its time on the training thread and the
  largest plot event;
- ``epochs``: the shim's CPU per epoch at epochs 3-12 and 291-300 of a simulated 300-epoch run (a
  real trainer whose epoch callbacks are run without training);
- ``runs``: 20 trainings in one process: trainers, Tasks and loggers still alive after them, and the
  process's memory after each.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "examples"))
sys.path.insert(0, str(HERE.parent / "tests"))


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    drop = ("CLEARML_", "TRAINS_", "YOLO_CLEARML_", "PYTEST_", "GITHUB_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) and k != "PYTHONPATH"}
    env.update(HOME=str(home), MPLBACKEND="Agg", **extra)
    return env


def figure(name: str, value: object) -> None:
    print(f"{name}: {value}", flush=True)


def startup_ratio(home: Path, repeats: int) -> None:
    on, off = [], []
    for _ in range(repeats):  # interleaved, so drifts in machine load hit both alike
        for env_extra, sink in (({"YOLO_CLEARML_PATCH": "1"}, on), ({}, off)):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], env=clean_env(home, **env_extra), check=True)
            sink.append(time.perf_counter() - start)
    figure("startup_median_ms_switch_on", f"{statistics.median(on) * 1e3:.1f}")
    figure("startup_median_ms_switch_off", f"{statistics.median(off) * 1e3:.1f}")
    figure("startup_ratio_on_vs_off", f"{statistics.median(on) / statistics.median(off):.3f}")


def import_cost(home: Path, repeats: int) -> None:
    costs = []
    for _ in range(repeats):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import yolo_clearml_patch"],
            env=clean_env(home),
            cwd=home.parent,  # not the repository: measure the installed package
            capture_output=True,
            text=True,
            check=True,
        )
        (line,) = [ln for ln in proc.stderr.splitlines() if re.search(r"\|\s*yolo_clearml_patch$", ln)]
        costs.append(int(line.split("|")[1]))
    figure("import_cost_us", statistics.median(costs))


def _run_child(args: list[str], env: dict[str, str], exit_bound: float = 300.0) -> tuple[str, str, bool, float]:
    """A child's stdout and stderr, whether it was killed after ``exit_bound`` seconds (a ClearML
    forked reporting process can deadlock at exit after the figures are printed; a server can hang),
    and when it ended (time.time())."""
    try:
        proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=exit_bound)
        return proc.stdout, proc.stderr, False, time.time()
    except subprocess.TimeoutExpired as exc:
        text = [x.decode(errors="replace") if isinstance(x, bytes) else (x or "") for x in (exc.stdout, exc.stderr)]
        return text[0], text[1], True, time.time()


def _marker(stdout: str, name: str) -> str:
    return next(line.split("=", 1)[1] for line in stdout.splitlines() if line.startswith(f"{name}="))


ONCE = ("on_pretrain_routine_start", "on_train_end")
STEADY_FROM = 2  # epoch 0 has the model info (GFLOPs), epoch 1 the Mosaic images: one-time work


def _hook_cpu(run: dict) -> dict[str, list[float]]:
    """A run's reporting-hook CPU seconds: at each one-time event, and per epoch (all other events)."""
    split: dict[str, list[float]] = {event: [0.0] for event in ONCE}
    per_epoch: dict[int, float] = {}
    for key, seconds in run["hook_cpu_s"].items():
        event, epoch = key.rsplit("@", 1)
        if event in ONCE:
            split[event][0] += seconds
        else:
            per_epoch[int(epoch)] = per_epoch.get(int(epoch), 0.0) + seconds
    split["steady"] = [s for e, s in per_epoch.items() if e >= STEADY_FROM]
    split["first"] = [sum(s for e, s in per_epoch.items() if e < STEADY_FROM)]
    return split


SLOW_SERVER_S = 0.2  # the slow server's delay per request


def trainings(home: Path, data: Path, out: Path, repeats: int, epochs: int, forked: bool) -> None:
    from clearml_api import ClearMLTestServer

    modes = ["none", "shim", "upstream", *(["shim_forked"] if forked else []), "shim_online", "shim_slow"]
    results: dict[str, list[dict]] = {mode: [] for mode in modes}
    up, slow = ClearMLTestServer().start(), ClearMLTestServer().start()
    slow.slow(SLOW_SERVER_S)
    servers = {"shim_online": up.env(), "shim_slow": slow.env()}
    try:
        for _ in range(repeats):  # interleaved, so drifts in machine load hit every mode alike
            for mode, sink in results.items():
                stdout, stderr, hung, ended = _run_child(
                    [sys.executable, str(HERE / "bench_child.py"), mode, str(data), str(out), str(epochs)],
                    clean_env(home, YOLO_CONFIG_DIR=str(home / "ultralytics" / mode), **servers.get(mode, {})),
                )
                line = next((ln for ln in stdout.splitlines() if ln.startswith("BENCH=")), None)
                if line is None:
                    raise RuntimeError(f"{mode} run failed:\n{stderr[-3000:]}")
                run = json.loads(line[6:])
                sink.append({**run, "hung_at_exit": hung, "exit_after_return_s": ended - run["returned_at"]})
                print(f"  ({mode}: {run['wall_s']:.1f} s)", flush=True)
    finally:
        up.stop()
        slow.stop()
    wall = {mode: statistics.median(r["wall_s"] for r in runs) for mode, runs in results.items()}
    for mode, seconds in wall.items():
        figure(f"train_wall_median_s_{mode}", f"{seconds:.2f}")
    figure("train_wall_ratio_shim_vs_upstream", f"{wall['shim'] / wall['upstream']:.3f}")
    for mode in ("shim", "shim_online", "shim_slow"):
        figure(f"train_wall_ratio_{mode}_vs_none", f"{wall[mode] / wall['none']:.3f}")
    if forked:
        figure("train_wall_ratio_shim_threads_vs_clearml_forked_process", f"{wall['shim'] / wall['shim_forked']:.3f}")
    for mode in [m for m in modes if m != "none"]:
        cpu = [_hook_cpu(r) for r in results[mode]]

        def ms(part: str, cpu: list = cpu) -> str:
            return f"{statistics.median(s for c in cpu for s in c[part]) * 1e3:.2f}"

        figure(f"hook_cpu_ms_per_epoch_{mode}", ms("steady"))
        figure(f"hook_cpu_ms_epochs_0_1_once_{mode}", ms("first"))
        figure(f"hook_cpu_ms_pretrain_start_once_{mode}", ms("on_pretrain_routine_start"))
        figure(f"hook_cpu_ms_train_end_once_{mode}", ms("on_train_end"))
    for mode in [m for m in modes if m != "none"]:
        figure(f"on_train_end_median_s_{mode}", f"{statistics.median(r['train_end_s'] for r in results[mode]):.3f}")
    for mode in modes:
        exits = [r["exit_after_return_s"] for r in results[mode]]
        figure(f"exit_after_train_returned_median_s_{mode}", f"{statistics.median(exits):.2f}")
    for mode in ("shim", "upstream"):
        figure(f"open_figures_after_training_{mode}", max(r["open_figures"] for r in results[mode]))
    figure("upstream_crashed_runs", sum(bool(r["crashed"]) for r in results["upstream"]))
    for mode, runs in results.items():
        figure(f"runs_hung_at_exit_{mode}", f"{sum(r['hung_at_exit'] for r in runs)}/{len(runs)}")


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def server_wait(home: Path, upstream_cap: float, shim_repeats: int) -> None:
    from servers import configured_env, hanging_server

    shim_code = (
        "import time; from yolo_clearml_patch.clearml_side.task_choice import task_for; s = time.perf_counter();"
        "task_for('bench', 'wait'); print('WAIT=%.2f' % (time.perf_counter() - s))"
    )
    upstream_code = (
        "import time; from clearml import Task; s = time.perf_counter();"
        "Task.init(project_name='bench', task_name='wait'); print('WAIT=%.2f' % (time.perf_counter() - s))"
    )

    def wait(code: str, extra_env: dict[str, str]) -> float | str:
        stdout, stderr, killed, _ = _run_child([sys.executable, "-c", code], clean_env(home, **extra_env), upstream_cap)
        if killed:
            return f">{upstream_cap:g} (killed)"
        match = re.search(r"WAIT=([\d.]+)", stdout)
        return float(match.group(1)) if match else f"failed: {stderr.strip().splitlines()[-1:]}"

    def median_wait(code: str, extra_env: dict[str, str], repeats: int = 3) -> float | str:
        waits = [wait(code, extra_env) for _ in range(repeats)]
        numbers = [w for w in waits if isinstance(w, float)]
        return statistics.median(numbers) if len(numbers) == len(waits) else waits[0]

    def shown(seconds: float | str) -> str:
        return f"{seconds:.2f}" if isinstance(seconds, float) else seconds

    def added(seconds: float | str, baseline: float | str) -> str:
        both = isinstance(seconds, float) and isinstance(baseline, float)
        return f"{seconds - baseline:.2f}" if both else str(seconds)

    # the same call with no server to wait for (offline from the start) is the baseline: the wait a
    # server adds is what goes beyond it (importing clearml and creating the Task are not waits)
    offline = {"shim": {}, "upstream": {"CLEARML_OFFLINE_MODE": "1"}}
    for who, code in (("shim", shim_code), ("upstream", upstream_code)):
        baseline = median_wait(code, offline[who], repeats=shim_repeats if who == "shim" else 1)
        figure(f"server_wait_s_no_server_baseline_{who}", shown(baseline))
        closed = median_wait(
            code, configured_env(_closed_port_url(), "bench-secret"), repeats=shim_repeats if who == "shim" else 1
        )
        figure(f"server_wait_s_closed_port_{who}", shown(closed))
        figure(f"server_wait_added_s_closed_port_{who}", added(closed, baseline))
        with hanging_server() as url:
            hanging = wait(code, configured_env(url, "bench-secret"))
        figure(f"server_wait_s_hanging_{who}", shown(hanging))
        figure(f"server_wait_added_s_hanging_{who}", added(hanging, baseline))


def classes(home: Path, counts: tuple[int, ...] = (80, 365, 1000)) -> None:
    job = HERE.parent / "tests" / "scripts" / "classes_job.py"
    for nc in counts:
        stdout, stderr, _, _ = _run_child(
            [sys.executable, str(job), str(nc)], clean_env(home, CLEARML_OFFLINE_MODE="1")
        )
        try:
            cpu, session = float(_marker(stdout, "TRAIN_END_CPU_S")), Path(_marker(stdout, "SESSION"))
        except StopIteration:
            raise RuntimeError(f"classes_job {nc} failed:\n{stderr[-3000:]}") from None
        from offline_session import OfflineSession

        plots = [e for e in OfflineSession.load(session).events if e.get("type") == "plot"]
        figure(f"classes_{nc}_train_end_s_training_thread", f"{cpu:.3f}")
        figure(f"classes_{nc}_largest_plot_event_kb", f"{max(len(json.dumps(e)) for e in plots) / 1e3:.0f}")


def epochs(home: Path, data: Path, out: Path) -> None:
    stdout, stderr, _, _ = _run_child(
        [sys.executable, str(HERE / "long_run_child.py"), str(data), str(out), "300"], clean_env(home)
    )
    try:
        early, late = float(_marker(stdout, "EARLY_MS")), float(_marker(stdout, "LATE_MS"))
    except StopIteration:
        raise RuntimeError(f"long_run_child failed:\n{stderr[-3000:]}") from None
    figure("hook_cpu_ms_per_epoch_at_epochs_3_12", f"{early:.2f}")
    figure("hook_cpu_ms_per_epoch_at_epochs_291_300", f"{late:.2f}")
    figure("hook_cpu_ratio_epoch_300_vs_3", f"{late / early:.2f}")


def many_runs(home: Path, data: Path, out: Path, count: int = 20) -> None:
    rss = {}
    for mode in ("shim", "none"):
        stdout, stderr, _, _ = _run_child(
            [sys.executable, str(HERE / "many_runs_child.py"), str(data), str(out), str(count), mode],
            clean_env(home, YOLO_CONFIG_DIR=str(home / "ultralytics" / f"runs_{mode}")),
            exit_bound=600.0,
        )
        try:
            runs = json.loads(_marker(stdout, "RUNS"))
        except StopIteration:
            raise RuntimeError(f"many_runs_child {mode} failed:\n{stderr[-3000:]}") from None
        rss[mode] = [r["rss_mb"] for r in runs]
        if mode == "shim":
            alive = "/".join(str(runs[-1][k]) for k in ("trainers", "tasks", "loggers"))
            figure("runs_in_one_process", len(runs))
            figure("runs_alive_after_last_trainers_tasks_loggers", alive)
        figure(f"runs_rss_mb_after_5_10_20_{mode}", "/".join(f"{rss[mode][i - 1]:.0f}" for i in (5, 10, count)))
        figure(f"runs_rss_growth_mb_per_run_5_to_20_{mode}", f"{(rss[mode][-1] - rss[mode][4]) / (count - 5):.1f}")


FIGURES = ("start", "train", "server", "classes", "epochs", "runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats: under 4 minutes on 2 cores")
    parser.add_argument("--only", default=",".join(FIGURES), help=f"comma-separated, of: {', '.join(FIGURES)}")
    args = parser.parse_args()
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(FIGURES))
    if unknown:
        parser.error(f"--only: unknown {', '.join(unknown)} (known: {', '.join(FIGURES)})")
    starts, imports, trains, train_epochs, cap, shim_waits = (
        (10, 3, 2, 4, 10.0, 1) if args.quick else (60, 15, 5, 6, 320.0, 3)
    )
    began = time.perf_counter()
    figure("python", sys.version.split()[0])
    figure("machine", f"{os.cpu_count()} CPUs, {sys.platform}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        home, runs = tmp_path / "home", tmp_path / "runs"
        from synthetic_data import make_detect_dataset

        data = make_detect_dataset(tmp_path / "data")
        if "start" in only:
            startup_ratio(home, starts)
            import_cost(home, imports)
        if "train" in only:
            trainings(home, data, runs, trains, train_epochs, forked=not args.quick)
        if "server" in only:
            server_wait(home, cap, shim_waits)
        if "classes" in only:
            classes(home)
        if "epochs" in only:
            epochs(home, data, runs)
        if "runs" in only:
            many_runs(home, data, runs)
    figure("benchmark_wall_s", f"{time.perf_counter() - began:.0f}")


if __name__ == "__main__":
    main()
