"""A hyperparameter search over ClearML agents, with ClearML's own ``HyperParameterOptimizer``.

What it searches comes from the Ultralytics side as plain :class:`Range` values; this module knows
ClearML: the base Task (is it a YOLO training of the shim?), the objective among its metrics, the
template every trial is cloned from, the strategy (Optuna, or ClearML's random or grid search), the
trials as the server reports them, and what the optimizer Task shows at the end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..base.log import logger
from ..base.settings import ConfigurationError
from .queues import field_of
from .remote_launch import RUNNER

SECTION = "General"
TEMPLATE_TAG = "search template"
ENDED = ("completed", "stopped", "failed", "published", "closed")
FITNESS = ("fitness", "fitness")
ABORT_CALLBACK_PROPERTY = "_abort_callback_timeout"  # a Task's runtime property, set by register_abort_callback
ABORT_READY_S = 60.0  # how long a stop waits for a running trial to register its abort callback


@dataclass(frozen=True)
class Range:
    """One searched Ultralytics arg: ``low`` to ``high``, integers only, sampled on a log scale."""

    key: str
    low: float
    high: float
    integer: bool = False
    log: bool = False


@dataclass(frozen=True)
class Objective:
    """The scalar a search optimises: ``title``/``series``, ``sign`` "max" or "min"."""

    title: str
    series: str
    sign: str = "max"

    def better(self, a: float, b: float | None) -> bool:
        return b is None or (a > b if self.sign == "max" else a < b)

    def __str__(self) -> str:
        return f"{self.title}/{self.series} ({'maximised' if self.sign == 'max' else 'minimised'})"


@dataclass
class BaseTask:
    """The base Task as the server holds it."""

    task: Any
    general: dict[str, str]
    resolved: dict[str, str]
    metrics: list[tuple[str, str]]

    @property
    def runs_the_shim(self) -> bool:
        entry = getattr(self.task.data.script, "entry_point", None) or ""
        return entry.startswith(f"-m {RUNNER}")


@dataclass
class Trial:
    """One trial: its Task, the values the optimizer set, its status and objective."""

    number: int
    task_id: str
    values: dict[str, Any]
    status: str = "created"
    objective: float | None = None
    name: str = ""
    abortable: bool = False  # its process registered ClearML's abort callback: an abort lets it finish

    @property
    def ended(self) -> bool:
        return self.status in ENDED


@dataclass
class Outcome:
    """A search's trials, in creation order, and the best one."""

    trials: list[Trial] = field(default_factory=list)
    best: Trial | None = None


def base_task(task_id: str) -> BaseTask:
    """The base Task ``task_id``, checked: it exists and is a YOLO training reported by the shim.

    Raises ConfigurationError naming what is wrong, before anything is created.
    """
    from clearml import Task

    try:
        task = Task.get_task(task_id=task_id)
    except Exception as exc:  # ValueError for an id the server does not know
        raise ConfigurationError(f"no ClearML Task {task_id!r} on this server ({exc})") from None
    if task is None:
        raise ConfigurationError(f"no ClearML Task {task_id!r} on this server")
    sections = task.get_parameters_as_dict() or {}
    general = {k: str(v) for k, v in (sections.get(SECTION) or {}).items()}
    resolved = {k: str(v) for k, v in (sections.get("Resolved") or {}).items()}
    metrics = [(m, s) for m, series in (task.get_last_scalar_metrics() or {}).items() for s in series]
    info = BaseTask(task=task, general=general, resolved=resolved, metrics=metrics)
    is_training = general.get("mode") == "train" and general.get("model") and general.get("data")
    if not is_training:
        raise ConfigurationError(
            f"ClearML Task {task_id} ({task.name!r}) is not a YOLO training: its {SECTION!r} section has no "
            "Ultralytics training args (mode=train, model, data)"
        )
    if not (info.runs_the_shim or FITNESS in metrics):
        raise ConfigurationError(
            f"ClearML Task {task_id} ({task.name!r}) was not reported by yolo-clearml-patch (no fitness scalar, "
            "and it does not run through the shim): train it once with the shim on, and search from that Task"
        )
    return info


def objective(spec: str | None, metrics: list[tuple[str, str]]) -> Objective:
    """The objective ``title/series[:min|max]`` among the base Task's scalars (default: fitness, maximised).

    A series name alone is enough when one title has it (``metrics/mAP50-95(B)``). Raises
    ConfigurationError for a sign that is not min/max, or a scalar the base Task never reported.
    """
    text, sign = (spec or "fitness/fitness"), "max"
    if ":" in text and text.rsplit(":", 1)[1] in {"min", "max"}:
        text, sign = text.rsplit(":", 1)
    elif ":" in text:
        raise ConfigurationError(f"--objective {spec!r}: the sign after ':' must be min or max")
    found = [(t, s) for t, s in metrics if f"{t}/{s}" == text] or [(t, s) for t, s in metrics if s == text]
    if found:
        return Objective(*found[0], sign)
    if metrics or "/" not in text:
        known = ", ".join(sorted(f"{t}/{s}" for t, s in metrics)) or "none"
        raise ConfigurationError(f"--objective {text!r} is not a scalar of the base Task; it reports: {known}")
    title, series = text.split("/", 1)
    return Objective(title, series, sign)


def strategy(name: str) -> tuple[Any, str]:
    """The ClearML search strategy class for ``name`` (``auto``: Optuna when installed, else random)."""
    from clearml.automation import GridSearch, RandomSearch

    if name in {"auto", "optuna"}:
        try:
            from clearml.automation.optuna import OptimizerOptuna
        except ImportError:
            if name == "optuna":
                raise ConfigurationError(
                    "--strategy optuna needs optuna: pip install 'yolo-clearml-patch[hpo]'"
                ) from None
            return RandomSearch, "random search (ClearML's RandomSearch; install optuna for Optuna)"
        return _paced(OptimizerOptuna), "Optuna (TPE sampler, ClearML's OptimizerOptuna)"
    if name == "grid":
        return GridSearch, "grid search (ClearML's GridSearch)"
    return RandomSearch, "random search (ClearML's RandomSearch)"


def _paced(cls: Any) -> Any:
    """``cls`` that asks the server about a trial at most once per poll period, and launches no trial
    once stopped.

    ClearML's Optuna objective polls a running trial without sleeping until its first scalar (a
    YOLO trial's whole first epoch); and its worker threads go on launching trials after ``stop()``.
    """
    import optuna

    class Paced(cls):
        _last_poll: dict[str, float] = {}

        def monitor_job(self, job: Any) -> bool:
            period = self.pool_period_minutes * 60.0
            wait = self._last_poll.get(job.task_id(), 0.0) + period - time.monotonic()
            if wait > 0:
                time.sleep(min(wait, period))
            self._last_poll[job.task_id()] = time.monotonic()
            return super().monitor_job(job)

        def helper_create_job(self, *args: Any, **kwargs: Any) -> Any:
            if self._stop_event.is_set():
                raise optuna.TrialPruned()
            return super().helper_create_job(*args, **kwargs)

    Paced.__name__ = cls.__name__
    return Paced


def parameters(ranges: list[Range]) -> list[Any]:
    """ClearML parameter ranges for the searched args (``General/<key>``)."""
    from clearml.automation import (
        DiscreteParameterRange,
        LogUniformParameterRange,
        UniformIntegerParameterRange,
        UniformParameterRange,
    )

    out: list[Any] = []
    for r in ranges:
        name = f"{SECTION}/{r.key}"
        if r.low == r.high:
            out.append(DiscreteParameterRange(name, [int(r.low) if r.integer else r.low]))
        elif r.integer:
            out.append(UniformIntegerParameterRange(name, int(r.low), int(r.high)))
        elif r.log:
            import math

            out.append(LogUniformParameterRange(name, math.log10(r.low), math.log10(r.high)))
        else:
            out.append(UniformParameterRange(name, r.low, r.high))
    return out


def template(base: BaseTask, pins: dict[str, Any], optimizer_task_id: str) -> Any:
    """The draft every trial is cloned from: the base Task's clone with ``pins`` in "General"."""
    from clearml import Task

    task = Task.clone(source_task=base.task, name=base.task.name, parent=base.task.id)
    task.add_tags([TEMPLATE_TAG, f"opt: {optimizer_task_id}"])
    task.set_comment(f"the template of the trials of optimizer Task {optimizer_task_id}, cloned from {base.task.id}")
    if pins:
        task.update_parameters({f"{SECTION}/{k}": v for k, v in pins.items()})
    return task


def runs_directly_warning(base: BaseTask) -> str | None:
    """What to tell the user when the base Task's program does not run through the shim's runner on an
    agent (a Task of an older version of the shim)."""
    if base.runs_the_shim:
        return None
    entry = getattr(base.task.data.script, "entry_point", None) or "?"
    return (
        f"the base Task runs {entry!r} directly, not through the shim's runner: its trials report through the "
        "shim only if that script imports yolo_clearml_patch, or the agents set YOLO_CLEARML_PATCH=1"
    )


class Search:
    """One search: ClearML's ``HyperParameterOptimizer`` run from this process, watched from here."""

    def __init__(
        self,
        optimizer_task: Any,
        template_task: Any,
        params: list[Any],
        goal: Objective,
        strategy_cls: Any,
        queue: str,
        trials: int,
        concurrent: int,
        time_limit_min: float | None,
        poll_s: float,
        seed: int | None,
    ) -> None:
        from clearml.automation import HyperParameterOptimizer
        from clearml.automation.parameters import RandomSeed

        self.goal, self.poll_s, self.task = goal, poll_s, optimizer_task
        if seed is not None:
            RandomSeed.set_random_seed(seed)
        extra: dict[str, Any] = {}
        if "Optuna" in strategy_cls.__name__ and seed is not None:
            import optuna

            extra["optuna_sampler"] = optuna.samplers.TPESampler(seed=seed)
        self.hpo = HyperParameterOptimizer(
            base_task_id=template_task.id,
            hyper_parameters=params,
            objective_metric_title=goal.title,
            objective_metric_series=goal.series,
            objective_metric_sign=goal.sign,
            optimizer_class=strategy_cls,
            max_number_of_concurrent_tasks=concurrent,
            execution_queue=queue,
            optimization_time_limit=time_limit_min,
            auto_connect_task=optimizer_task,
            save_top_k_tasks_only=None,
            total_max_jobs=trials,
            max_iteration_per_job=None,
            min_iteration_per_job=None,
            pool_period_min=poll_s / 60.0,
            **extra,
        )
        self.hpo.set_report_period(max(poll_s, 5.0) / 60.0)
        self.outcome = Outcome()
        self._client: Any = None

    def run(self, on_progress: Callable[[Outcome], None]) -> Outcome:
        """Start the search and watch it until it ends. A Ctrl-C passes through; the caller then calls :meth:`stop`."""
        self.hpo.start()
        while not self.hpo.wait(timeout=self.poll_s / 60.0):
            self.refresh()
            on_progress(self.outcome)
        self.hpo.stop(wait_for_reporter=True)
        self.refresh()
        on_progress(self.outcome)
        return self.outcome

    def refresh(self, runtime: bool = False) -> None:
        """The trials as the server reports them now: status and objective, the best so far (and with
        ``runtime``, whether each one's process can take an abort gracefully)."""
        created = self.hpo.optimizer.get_created_jobs_ids() if self.hpo.optimizer else {}
        known = {t.task_id: t for t in self.outcome.trials}
        for task_id, values in created.items():
            if task_id not in known:
                trial = Trial(len(self.outcome.trials) + 1, task_id, dict(values))
                self.outcome.trials.append(trial)
                known[task_id] = trial
        if not known:
            return
        for item in self._tasks(list(known), runtime):
            trial = known[field_of(item, "id")]
            if runtime:
                trial.abortable = _abort_callback_registered(field_of(item, "runtime"))
            was_ended = trial.ended
            trial.status, trial.name = str(field_of(item, "status")), str(field_of(item, "name") or "")
            trial.objective = _last_value(field_of(item, "last_metrics"), self.goal)
            if trial.ended and not was_ended:
                self._report_trial(trial)
        done = [t for t in self.outcome.trials if t.objective is not None and t.status == "completed"]
        best = None
        for t in done:
            if self.goal.better(t.objective, best.objective if best else None):  # type: ignore[arg-type]
                best = t
        self.outcome.best = best

    def stop(self, grace_s: float) -> list[Trial]:
        """Stop the search: no new trial; queued trials dequeued and marked stopped, running ones aborted
        as from the UI (they finish the epoch, report and end ``stopped``), waited for up to ``grace_s``.

        A running trial is aborted once its process has registered ClearML's abort callback (the
        shim does so when its Task starts): before that, the agent would kill it at once. One that
        has not registered within ``ABORT_READY_S`` (not the shim's, or stuck) is aborted anyway.
        Returns the trials still running when the wait ended.
        """
        from clearml import Task

        if self.hpo.optimizer is not None:  # the strategy's loop only: its own stop() aborts running trials at once
            self.hpo.optimizer._stop_event.set()
        started = time.monotonic()
        deadline = started + grace_s
        aborted: set[str] = set()
        while True:
            self.refresh(runtime=True)
            ready_anyway = time.monotonic() - started > min(ABORT_READY_S, grace_s / 2)
            for trial in [t for t in self.outcome.trials if not t.ended and t.task_id not in aborted]:
                try:
                    if trial.status in {"queued", "created"}:  # never ran: a draft, marked stopped
                        if trial.status == "queued":
                            Task.dequeue(trial.task_id)
                        self._api().tasks.stopped(task=trial.task_id, force=True, status_reason="search stopped")
                    elif trial.status == "in_progress" and (trial.abortable or ready_anyway):
                        self._api().tasks.stop(task=trial.task_id, force=False, status_reason="search stopped")
                        aborted.add(trial.task_id)
                except Exception as exc:  # a trial that changed status meanwhile
                    logger().debug(f"stopping trial {trial.task_id}: {exc}")
            running = [t for t in self.outcome.trials if t.status == "in_progress"]
            if not running or time.monotonic() > deadline:
                break
            time.sleep(min(2.0, self.poll_s))
        self.hpo.stop(timeout=0.1, wait_for_reporter=True)  # aborts what still runs; ClearML's final report
        self.refresh()
        return running

    def report(self, outcome: Outcome, ranges: list[str]) -> None:
        """All trials' values and objectives as one table on the optimizer Task, best marked."""
        header = ["trial", "task id", "status", "objective", "best", *ranges]
        rows = [header]
        for t in outcome.trials:
            rows.append(
                [
                    t.number,
                    t.task_id,
                    t.status,
                    "" if t.objective is None else t.objective,
                    "best" if outcome.best is t else "",
                    *[t.values.get(f"{SECTION}/{k}", "") for k in ranges],
                ]
            )
        self.task.get_logger().report_table("trials", "all trials", iteration=0, table_plot=rows)
        self.task.flush(wait_for_uploads=True)

    def _report_trial(self, trial: Trial) -> None:
        if trial.objective is None:
            return
        log = self.task.get_logger()
        log.report_scalar("objective", "trial", value=trial.objective, iteration=trial.number)
        best = self.outcome.best.objective if self.outcome.best else None
        value = trial.objective if self.goal.better(trial.objective, best) and trial.status == "completed" else best
        if value is not None:
            log.report_scalar("objective", "best so far", value=value, iteration=trial.number)

    def _tasks(self, ids: list[str], runtime: bool = False) -> list[Any]:
        fields = ["id", "name", "status", "last_metrics", *(["runtime"] if runtime else [])]
        return list(self._api().tasks.get_all(id=ids, only_fields=fields) or [])

    def _api(self) -> Any:
        if self._client is None:
            from clearml.backend_api.session.client import APIClient

            self._client = APIClient()
        return self._client


def _abort_callback_registered(runtime: Any) -> bool:
    """Whether a Task's runtime properties say its process registered ClearML's abort callback (the
    property clearml-agent reads to wait for the callback instead of killing the process)."""
    try:
        return float((runtime or {}).get(ABORT_CALLBACK_PROPERTY, 0)) > 0
    except (TypeError, ValueError, AttributeError):
        return False


def _last_value(last_metrics: Any, goal: Objective) -> float | None:
    """The objective's last reported value in a Task's ``last_metrics`` (keyed by hashes; matched by name)."""
    for variants in (last_metrics or {}).values():
        for entry in (variants or {}).values():
            if field_of(entry, "metric") == goal.title and field_of(entry, "variant") == goal.series:
                value = field_of(entry, "value")
                return None if value is None else float(value)
    return None
