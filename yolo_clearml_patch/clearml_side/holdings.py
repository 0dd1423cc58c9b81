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


def _events_of_type(task: Any, event_type: str, page: int) -> list[dict]:
    """Every event of ``event_type`` that ``task`` holds, scrolled (``events.get_task_events``).

    The server pages by iteration: a page is ``page`` events plus every other event of its last
    iteration, and the next page starts after that iteration. A position at iteration 0 counts as
    none there (it tests the value for truth), so after a page that ends at iteration 0 the scroll
    would start over. Then the read starts over with a page large enough to end past iteration 0.
    """
    from clearml.backend_api.services import events as events_api

    found: dict[tuple, dict] = {}
    scroll_id, batch = None, page
    while True:
        request = events_api.GetTaskEventsRequest(
            task=task.id, event_type=event_type, batch_size=batch, scroll_id=scroll_id
        )
        reply = task.send(request).response
        events = reply.events or []
        before = len(found)
        found.update(((e.get("metric"), e.get("variant"), e.get("iter")), e) for e in events)
        if not events or len(found) == before or (reply.total is not None and len(found) >= reply.total):
            return list(found.values())
        if events[-1].get("iter") == 0:
            scroll_id, batch = None, len(found) + page
        else:
            scroll_id, batch = reply.scroll_id, page


def holdings(task: Any, page: int = EVENTS_PAGE) -> Holdings:
    """What ``task`` holds on its server: every scalar, single value, debug image and plot event,
    its output models and hyperparameter sections."""
    held = Holdings()
    for event_type in EVENT_TYPES:
        keyed = {_event_key(e): e for e in _events_of_type(task, event_type, page)}
        keyed.pop(None, None)
        held.events |= keyed.keys()
        numbers = {k: e.get("value") for k, e in keyed.items()}
        held.values.update((k, float(v)) for k, v in numbers.items() if isinstance(v, (int, float)))
    task.reload()
    held.models = {model.name for model in task.models["output"]}  # the models' names, not their keys in the Task
    held.sections = set(task.get_parameters_as_dict() or {})
    return held
