"""``yolo-clearml optimize --task ID --queue Q``: a hyperparameter search over ClearML agents.

ClearML's own ``HyperParameterOptimizer`` (Optuna when installed, else random or grid search) clones
the base training into trials, each a child of an ``optimizer`` Task, run on the queue by agents with
the shim on. Everything is checked before anything is created. While it runs: a progress bar over
the trials with the best so far. At the end: the best trial, ``best_hyperparameters.yaml`` (usable as
``model.train(cfg=...)`` / ``yolo train cfg=...``) and a table of all trials on the optimizer Task.
Ctrl-C stops the search: queued trials are dequeued, running ones aborted as from the UI, and the
optimizer Task is left ``stopped`` with what it has.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any

from ..base.files import write_atomically
from ..base.log import logger
from ..base.settings import ConfigurationError

STOP_GRACE_S = 180.0  # how long Ctrl-C waits for aborted trials to report and end
NOT_IN_YAML = ("epochs", "exist_ok")  # pinned to run the trials, not part of the result


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="yolo-clearml optimize",
        description="Hyperparameter search over ClearML agents: each trial a clone of the base Task, run on the queue.",
    )
    p.add_argument("--task", required=True, help="the base Task: a YOLO training reported by the shim")
    p.add_argument("--queue", required=True, help="the ClearML queue the trials run from")
    p.add_argument("--space", help="YAML {arg: [min, max]} (model.tune's space format); default: Ultralytics' own")
    p.add_argument("--objective", help="title/series[:min|max] (default fitness/fitness:max), e.g. metrics/mAP50-95(B)")
    p.add_argument("--trials", type=int, default=10, help="how many trials (default 10)")
    p.add_argument("--concurrent", type=int, default=2, help="trials queued or running at once (default 2)")
    p.add_argument("--time-limit", type=float, help="minutes for the whole search")
    p.add_argument("--epochs", type=int, help="epochs per trial (default: the base Task's)")
    p.add_argument("--strategy", choices=("auto", "optuna", "random", "grid"), default="auto")
    p.add_argument("--optimizer", help="pin this Ultralytics optimizer in every trial (e.g. AdamW)")
    p.add_argument("--seed", type=int, help="the sampler's seed (default: a new one each search)")
    p.add_argument("--poll", type=float, default=12.0, help="seconds between looks at the trials (default 12)")
    p.add_argument("--out", default="best_hyperparameters.yaml", help="where to write the best values")
    p.add_argument("--project", help="the optimizer Task's project (default: the base Task's)")
    return p


def _check_numbers(a: argparse.Namespace) -> None:
    for name in ("trials", "concurrent", "epochs"):
        value = getattr(a, name)
        if value is not None and value < 1:
            raise ConfigurationError(f"--{name} must be 1 or more, not {value}")
    for name in ("time_limit", "poll"):
        value = getattr(a, name)
        if value is not None and not value > 0:
            raise ConfigurationError(f"--{name.replace('_', '-')} must be above 0, not {value}")


def main(argv: list[str]) -> int:
    """Run ``optimize``; returns the exit code (2: bad input or setup, nothing created; 130: Ctrl-C)."""
    args = parser().parse_args(argv)
    try:
        plan = _plan(args)
    except ConfigurationError as exc:
        print(f"yolo-clearml optimize: {exc}", file=sys.stderr)
        return 2
    return _run(args, plan)


def _plan(args: argparse.Namespace) -> dict[str, Any]:
    """Every check, before anything is created."""
    from ..clearml_side import search
    from ..clearml_side.remote_launch import queue_ready
    from ..ultralytics_side import search_space

    _check_numbers(args)
    queue = queue_ready(args.queue)
    base = search.base_task(args.task)
    space = search_space.load_space(args.space) if args.space else search_space.default_space()
    ranges = search_space.ranges(space)
    pins, said = search_space.auto_optimizer_pins(base.general, base.resolved, {r.key for r in ranges}, args.optimizer)
    if args.epochs:
        pins["epochs"] = args.epochs
    pins["exist_ok"] = False  # two trials on one agent machine never share a run directory
    goal = search.objective(args.objective, base.metrics)
    strategy_cls, strategy_name = search.strategy(args.strategy)
    if args.strategy == "grid" and any(not r.integer and r.low != r.high for r in ranges):
        raise ConfigurationError("--strategy grid needs integer ranges only (a float range has 100 grid points)")
    out = Path(args.out)
    if not out.parent.is_dir():
        raise ConfigurationError(f"--out {args.out}: the folder {out.parent} does not exist")
    return dict(
        queue=queue, base=base, ranges=ranges, pins=pins, said=said, goal=goal, out=out,
        strategy=(strategy_cls, strategy_name),
    )  # fmt: skip


def _run(args: argparse.Namespace, plan: dict[str, Any]) -> int:
    from tqdm import tqdm

    from ..clearml_side import search
    from ..clearml_side.own_tasks import close_task
    from ..clearml_side.task_choice import task_for

    log = logger()
    base, goal, queue = plan["base"], plan["goal"], plan["queue"]
    strategy_cls, strategy_name = plan["strategy"]
    print(f"base Task: {base.task.id} ({base.task.name!r})")
    print(f"objective: {goal}; strategy: {strategy_name}")
    print("space: " + ", ".join(f"{r.key} [{r.low:g}, {r.high:g}]{' log' if r.log else ''}" for r in plan["ranges"]))
    print("pinned in every trial: " + ", ".join(f"{k}={v}" for k, v in plan["pins"].items()))
    for warning in (plan["said"], search.runs_directly_warning(base)):
        if warning:
            log.warning(warning)
    print(queue.describe())
    if not queue.workers:
        log.warning(f"no clearml-agent listens on queue {queue.name!r}: the trials wait there until one does")
    budget = f"{args.trials} trials, {args.concurrent} at once" + (
        f", {args.time_limit:g} min at most" if args.time_limit else ""
    )
    print(f"budget: {budget}")

    project = args.project or base.task.get_project_name()
    options = {"auto_connect_arg_parser": False, "auto_connect_streams": False,
               "auto_connect_frameworks": {"detect_repository": False}}  # fmt: skip
    task = None
    try:  # a Ctrl-C before the search runs: nothing was enqueued; the optimizer Task (if made) ends stopped
        task = task_for(project, f"optimize: {base.task.name}", task_type="optimizer", init_options=options)
        if task is None or task.is_offline():
            print("yolo-clearml optimize: the optimizer Task could not be created on the server", file=sys.stderr)
            return 2
        print(f"optimizer Task: {task.get_output_log_web_page()}")
        template = search.template(base, plan["pins"], task.id)
        run = search.Search(
            task, template, search.parameters(plan["ranges"]), goal, strategy_cls, queue.name,
            args.trials, args.concurrent, args.time_limit, args.poll, args.seed,
        )  # fmt: skip
    except KeyboardInterrupt:
        print("yolo-clearml optimize: interrupted before the search started; no trial was enqueued", file=sys.stderr)
        if task is not None:
            close_task(task, KeyboardInterrupt())
        return 130
    bar = tqdm(total=args.trials, unit="trial", desc="search", file=sys.stderr, dynamic_ncols=True)

    def progress(outcome: search.Outcome) -> None:
        ended = sum(t.ended for t in outcome.trials)
        bar.update(max(0, min(ended, bar.total) - bar.n))
        running = sum(t.status == "in_progress" for t in outcome.trials)
        best = outcome.best
        shown = f", best {best.objective:.5g} (trial {best.number})" if best else ""
        bar.set_postfix_str(f"running {running}{shown}")

    interrupted = False
    try:
        outcome = run.run(progress)
    except KeyboardInterrupt:
        interrupted = True
        bar.close()
        signal.signal(signal.SIGINT, _second_interrupt)
        print(f"stopping the search: queued trials dequeued, running ones aborted (waiting up to {STOP_GRACE_S:g} s)")
        still = run.stop(STOP_GRACE_S)
        outcome = run.outcome
        if still:
            log.warning(f"{len(still)} trial(s) did not end in time: " + ", ".join(t.task_id for t in still))
    bar.close()
    code = _finish(args, plan, task, run, outcome, interrupted, close_task)
    if interrupted:  # ClearML's Optuna worker threads may still poll their trials: do not wait for them
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _second_interrupt(signum: int, frame: Any) -> None:
    print("yolo-clearml optimize: interrupted again; trials may still be running on agents", file=sys.stderr)
    os._exit(130)


def _finish(args, plan, task, run, outcome, interrupted: bool, close_task) -> int:
    """The result: the table on the optimizer Task, the best trial, its YAML; the Task closed."""
    searched = [r.key for r in plan["ranges"]]
    run.report(outcome, searched)
    ended = {s: sum(t.status == s for t in outcome.trials) for s in ("completed", "stopped", "failed")}
    print(f"trials: {len(outcome.trials)} created, " + ", ".join(f"{n} {s}" for s, n in ended.items()))
    best = outcome.best
    code = 130 if interrupted else 0
    if best is None:
        print("no trial completed with the objective: no best values", file=sys.stderr)
        code = code or 1
    else:
        values = _best_values(plan, best)
        _write_yaml(plan["out"], values, best, plan["goal"])
        task.upload_artifact("best_hyperparameters", artifact_object=str(plan["out"]), wait_on_upload=True)
        task.set_parameters_as_dict({"Best": {**values, "trial": best.task_id, "objective": best.objective}})
        goal = plan["goal"]
        print(f"best trial: {best.task_id} ({best.name}), {goal.title}/{goal.series} = {best.objective:.6g}")
        print("best values: " + ", ".join(f"{k}={v}" for k, v in values.items()))
        print(f"written: {plan['out']} (model.train(cfg='{plan['out']}') or yolo train cfg={plan['out']})")
    closed = close_task(task, KeyboardInterrupt() if interrupted else None)
    state = "stopped" if interrupted else "completed"
    print(f"optimizer Task {task.id}: {state}" + ("" if closed else " (not confirmed)"))
    return code


def _best_values(plan: dict[str, Any], best: Any) -> dict[str, Any]:
    integer = {r.key for r in plan["ranges"] if r.integer}
    values = {k: v for k, v in plan["pins"].items() if k not in NOT_IN_YAML}
    for name, value in best.values.items():
        key = name.split("/", 1)[-1]
        values[key] = int(value) if key in integer else (float(value) if isinstance(value, (int, float)) else value)
    return values


def _write_yaml(path: Path, values: dict[str, Any], best: Any, goal: Any) -> None:
    """The best values as an Ultralytics cfg file, written whole or not at all."""
    import yaml

    head = (
        f"# the best trial of a yolo-clearml optimize search: ClearML Task {best.task_id}\n"
        f"# objective {goal.title}/{goal.series} = {best.objective:.6g}\n"
        "# use: model.train(cfg='best_hyperparameters.yaml', data=..., epochs=...)\n"
    )
    write_atomically(path, head + yaml.safe_dump(values, sort_keys=True))
