"""Benchmark figures for yolo_clearml_patch, each measured side by side in the same run.

    python benchmarks/run.py --quick                 # under 4 minutes on 2 cores (225 s)
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
- ``server``: the wait a dead (closed port) or hanging ClearML server adds, shim (with a 3 s
  YOLO_CLEARML_SERVER_TIMEOUT, below the kill cap) vs upstream's Task.init, each against the same
  call with no server at all;
- ``sigterm``: SIGTERM at epoch 1 of a training against the test server, up or hanging: the time
  until the process has ended;
- ``classes``: train-end reporting of a validation with 80, 365 and 1000 classes (Ultralytics' own
  validator classes filled in memory, a real offline Task): its time on the training thread and the
  largest plot event;
- ``epochs``: the shim's CPU per epoch at epochs 3-12 and 291-300 of a simulated 300-epoch run (a
  real trainer whose epoch callbacks are run without training);
- ``runs``: 20 trainings in one process (``--quick``: 8): trainers, Tasks and loggers still alive after them, and the
  process's memory after each;
- ``realistic`` (only with ``--only``): a training of about 2 minutes (256 images at imgsz 160, 12
  epochs), shim offline and online vs no tracker and upstream: wall ratio, the shim's hooks' total
  time on the training thread, the fixed cost in seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

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


def _first_line_with(args: list[str], env: dict[str, str], prefix: str, cap: float) -> str | None:
    """The first line of the child's stdout that starts with ``prefix`` (None if none within ``cap``
    seconds); then the child and anything it started are killed."""
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True
    )
    found: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            if line.startswith(prefix):
                found.append(line.strip())
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(cap)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    return found[0] if found else None


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


def trainings(home: Path, data: Path, out: Path, repeats: int, epochs: int, forked: bool, quick: bool) -> None:
    """``quick``: upstream's callback, the reference, is run once (its exit alone takes about 15 s)."""
    from clearml_api import ClearMLTestServer

    modes = ["none", "shim", "upstream", *(["shim_forked"] if forked else []), "shim_online", "shim_slow"]
    results: dict[str, list[dict]] = {mode: [] for mode in modes}
    up, slow = ClearMLTestServer().start(), ClearMLTestServer().start()
    slow.slow(SLOW_SERVER_S)
    servers = {"shim_online": up.env(), "shim_slow": slow.env()}
    try:
        for repeat in range(repeats):  # interleaved, so drifts in machine load hit every mode alike
            for mode, sink in results.items():
                if quick and mode == "upstream" and repeat:
                    continue
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


SHIM_SERVER_TIMEOUT = 3.0  # the shim's bound in the server figures: well below the kill cap, so it shows


def server_wait(home: Path, upstream_cap: float, shim_repeats: int) -> None:
    from servers import configured_env, hanging_server

    shim_code = (
        "import os, time; from yolo_clearml_patch.clearml_side.task_choice import task_for; s = time.perf_counter();"
        "task_for('bench', 'wait'); print('WAIT=%.2f' % (time.perf_counter() - s), flush=True); os._exit(0)"
    )
    upstream_code = (
        "import os, time; from clearml import Task; s = time.perf_counter();"
        "Task.init(project_name='bench', task_name='wait'); print('WAIT=%.2f' % (time.perf_counter() - s), flush=True);"
        "os._exit(0)"
    )

    def wait(code: str, extra_env: dict[str, str]) -> float | str:
        # read as printed: ClearML's forked reporting process keeps the pipe open after the child ends
        line = _first_line_with([sys.executable, "-c", code], clean_env(home, **extra_env), "WAIT=", upstream_cap)
        return float(line[5:]) if line else f">{upstream_cap:g} (killed)"

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
    bound = {"shim": {"YOLO_CLEARML_SERVER_TIMEOUT": f"{SHIM_SERVER_TIMEOUT:g}"}, "upstream": {}}
    figure("server_wait_bound_s_shim", f"{SHIM_SERVER_TIMEOUT:g} (the kill cap: {upstream_cap:g})")
    for who, code in (("shim", shim_code), ("upstream", upstream_code)):
        baseline = median_wait(code, offline[who], repeats=shim_repeats if who == "shim" else 1)
        figure(f"server_wait_s_no_server_baseline_{who}", shown(baseline))
        closed = median_wait(
            code,
            {**configured_env(_closed_port_url(), "bench-secret"), **bound[who]},
            repeats=shim_repeats if who == "shim" else 1,
        )
        figure(f"server_wait_s_closed_port_{who}", shown(closed))
        figure(f"server_wait_added_s_closed_port_{who}", added(closed, baseline))
        with hanging_server() as url:
            hanging = wait(code, {**configured_env(url, "bench-secret"), **bound[who]})
        figure(f"server_wait_s_hanging_{who}", shown(hanging))
        figure(f"server_wait_added_s_hanging_{who}", added(hanging, baseline))


def sigterm_exit(home: Path, data: Path, out: Path, cap: float = 30.0) -> None:
    """SIGTERM at the start of epoch 1 of a training against the test server, up or hanging from
    that moment: the time until the process has ended (the bound: ``SIGTERM_GRACE``, 5 s)."""
    from clearml_api import ClearMLTestServer

    for case in ("online", "hanging"):
        server = ClearMLTestServer().start()
        try:
            env = clean_env(home, BENCH_MARK_EPOCHS="1", YOLO_CONFIG_DIR=str(home / "ultralytics" / "sigterm"))
            args = [sys.executable, str(HERE / "bench_child.py"), "shim_online", str(data), str(out), "20"]
            env.update(server.env())
            proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            at_epoch_1 = threading.Event()

            def read(stream: Any = proc.stdout, seen: threading.Event = at_epoch_1) -> None:
                for line in stream:  # drained to the end: a full pipe would block the child
                    if line.startswith("EPOCH_START=1"):
                        seen.set()

            threading.Thread(target=read, daemon=True).start()
            try:
                at_epoch_1.wait(300)
                if case == "hanging":
                    server.hang()
                sent = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(cap)
                    took = time.monotonic() - sent
                    figure(f"sigterm_to_exit_s_{case}", f"{took:.2f} (exit status {proc.returncode})")
                except subprocess.TimeoutExpired:
                    figure(f"sigterm_to_exit_s_{case}", f">{cap:g} (killed)")
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
        finally:
            server.stop()


def realistic(home: Path, tmp_path: Path, epochs: int = 12) -> None:
    """A training of about 2 minutes (256 images at imgsz 160, 12 epochs): the shim offline and online
    against no tracker and the upstream callback; the wall ratio, the training thread's total time in
    the shim's hooks, and the fixed cost (shim minus no tracker) in seconds."""
    from clearml_api import ClearMLTestServer
    from synthetic_data import make_detect_dataset

    data = make_detect_dataset(tmp_path / "realistic_data", n_train=256, n_val=64, size=160)
    server = ClearMLTestServer().start()
    results: dict[str, dict] = {}
    try:
        # a 1-epoch run first, not counted: it writes Ultralytics' label cache and warms the file
        # cache, which the first measured run would otherwise pay alone
        for mode, run_epochs in (("warm-up", 1), ("none", epochs), ("shim", epochs), ("shim_online", epochs),
                                 ("upstream", epochs)):  # fmt: skip
            stdout, stderr, hung, ended = _run_child(
                [
                    sys.executable,
                    str(HERE / "bench_child.py"),
                    "none" if mode == "warm-up" else mode,
                    str(data),
                    str(tmp_path / "realistic"),
                    str(run_epochs),
                    "160",
                    "16",
                ],  # fmt: skip
                {
                    **clean_env(home, YOLO_CONFIG_DIR=str(home / "ultralytics" / f"real_{mode}")),
                    **(server.env() if mode == "shim_online" else {}),
                },  # fmt: skip
                exit_bound=900.0,
            )
            line = next((ln for ln in stdout.splitlines() if ln.startswith("BENCH=")), None)
            if line is None:
                raise RuntimeError(f"realistic {mode} run failed:\n{stderr[-3000:]}")
            results[mode] = json.loads(line[6:])
            print(f"  (realistic {mode}: {results[mode]['wall_s']:.1f} s)", flush=True)
        del results["warm-up"]
    finally:
        server.stop()
    none = results["none"]["wall_s"]
    figure("realistic_wall_s_none", f"{none:.1f}")
    for mode in ("shim", "shim_online", "upstream"):
        wall = results[mode]["wall_s"]
        figure(f"realistic_wall_ratio_{mode}_vs_none", f"{wall / none:.3f}")
        figure(f"realistic_fixed_cost_s_{mode}", f"{wall - none:.1f}")
        figure(f"realistic_hook_s_training_thread_{mode}", f"{sum(results[mode]['hook_cpu_s'].values()):.2f}")


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
        marks = sorted({5, min(10, count), count})
        figure(
            f"runs_rss_mb_after_{'_'.join(map(str, marks))}_{mode}", "/".join(f"{rss[mode][i - 1]:.0f}" for i in marks)
        )
        figure(f"runs_rss_growth_mb_per_run_5_to_{count}_{mode}", f"{(rss[mode][-1] - rss[mode][4]) / (count - 5):.1f}")


FIGURES = ("start", "train", "server", "sigterm", "classes", "epochs", "runs")
NOT_BY_DEFAULT = ("realistic",)  # --only realistic: about 8 minutes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats: under 4 minutes on 2 cores")
    known = (*FIGURES, *NOT_BY_DEFAULT)
    parser.add_argument("--only", default=",".join(FIGURES), help=f"comma-separated, of: {', '.join(known)}")
    args = parser.parse_args()
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(known))
    if unknown:
        parser.error(f"--only: unknown {', '.join(unknown)} (known: {', '.join(known)})")
    starts, imports, trains, train_epochs, cap, shim_waits, run_count = (
        (10, 3, 2, 3, 10.0, 1, 8) if args.quick else (60, 15, 5, 6, 320.0, 3, 20)
    )
    began = time.perf_counter()
    figure("python", sys.version.split()[0])
    figure("machine", f"{os.cpu_count()} CPUs, {sys.platform}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        home, runs = tmp_path / "home", tmp_path / "runs"
        from synthetic_data import make_detect_dataset

        data = make_detect_dataset(tmp_path / "data")
        sections = {
            "start": lambda: (startup_ratio(home, starts), import_cost(home, imports)),
            "train": lambda: trainings(home, data, runs, trains, train_epochs, forked=not args.quick, quick=args.quick),
            "server": lambda: server_wait(home, cap, shim_waits),
            "sigterm": lambda: sigterm_exit(home, data, runs),
            "classes": lambda: classes(home),
            "epochs": lambda: epochs(home, data, runs),
            "runs": lambda: many_runs(home, data, runs, run_count),
            "realistic": lambda: realistic(home, tmp_path),
        }
        for name, measure in sections.items():
            if name in only:
                section_began = time.perf_counter()
                measure()
                figure(f"section_wall_s_{name}", f"{time.perf_counter() - section_began:.0f}")
    figure("benchmark_wall_s", f"{time.perf_counter() - began:.0f}")


if __name__ == "__main__":
    main()
