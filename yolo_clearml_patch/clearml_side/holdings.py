"""What a Task already holds on its server, read back so that ``sync`` sends only the gaps.

Event keys are those :class:`.once_logger.OnceLogger` makes: ``("scalar", title, series, iteration)``,
``("single", name)``, ``("image", title, series, iteration)``, ``("plot", title)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SINGLE_VALUE_ITERATION = -(2**31)  # where ClearML keeps single values ("Summary" title)
EVENT_TYPES = ("training_stats_scalar", "training_debug_image", "plot")
EVENTS_PAGE = 500  # events per events.get_task_events call (the server's default)


@dataclass
class Holdings:
    """What a Task already holds: event keys (as :class:`OnceLogger` makes them) and the values of
    its scalars and single values, output model names, and hyperparameter sections."""

    events: set[tuple] = field(default_factory=set)
    values: dict[tuple, float] = field(default_factory=dict)
    models: set[str] = field(default_factory=set)
    sections: set[str] = field(default_factory=set)


def _event_key(event: dict) -> tuple | None:
    kind, metric, variant, iteration = event.get("type"), event.get("metric"), event.get("variant"), event.get("iter")
    if kind == "training_stats_scalar":
        if iteration == SINGLE_VALUE_ITERATION:
            return ("single", variant)
        return ("scalar", metric, variant, int(iteration or 0))
    if kind == "training_debug_image":
        return ("image", metric, variant, int(iteration or 0))
    if kind == "plot":
        return ("plot", metric)
    return None


def holdings(task: Any, page: int = EVENTS_PAGE) -> Holdings:
    """What ``task`` holds on its server: every scalar, single value, debug image and plot event
    (``events.get_task_events``, scrolled), its output models and hyperparameter sections."""
    from clearml.backend_api.services import events as events_api

    held = Holdings()
    for event_type in EVENT_TYPES:
        scroll_id = None
        while True:
            request = events_api.GetTaskEventsRequest(
                task=task.id, event_type=event_type, batch_size=page, scroll_id=scroll_id
            )
            reply = task.send(request).response
            keyed = {_event_key(e): e for e in reply.events or []}
            keyed.pop(None, None)
            if not keyed or keyed.keys() <= held.events:  # the end (or a server that repeats itself)
                break
            held.events |= keyed.keys()
            held.values.update(
                (k, float(e["value"])) for k, e in keyed.items() if isinstance(e.get("value"), (int, float))
            )
            scroll_id = reply.scroll_id
    task.reload()
    held.models = {model.name for model in task.models["output"]}  # the models' names, not their keys in the Task
    held.sections = set(task.get_parameters_as_dict() or {})
    return held
