"""ClearML queues and the agents (workers) that listen on them, as the server reports them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..base.settings import ConfigurationError


@dataclass(frozen=True)
class QueueState:
    """A queue as the server knows it: its id and the workers that listen on it now."""

    name: str
    id: str
    workers: tuple[str, ...]

    def describe(self) -> str:
        """One line for the user: the queue and who listens on it."""
        if not self.workers:
            return f"queue {self.name!r}: no worker listens on it (the Task waits there until a clearml-agent does)"
        return f"queue {self.name!r}: {len(self.workers)} worker(s) listen on it ({', '.join(self.workers)})"


def field_of(item: Any, name: str) -> Any:
    """A field of an item in a server reply, whether the client gave a dict or an object."""
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def find_queue(name: str, client: Any = None) -> QueueState:
    """The queue ``name`` (exact name) on the configured server, with its live workers.

    Raises ConfigurationError naming the queues that exist when there is no such queue.
    """
    client = client or _client()
    queues = client.queues.get_all(only_fields=["id", "name"]) or []
    match = next((q for q in queues if field_of(q, "name") == name), None)
    if match is None:
        names = ", ".join(sorted(repr(str(field_of(q, "name"))) for q in queues)) or "none"
        raise ConfigurationError(
            f"ClearML queue {name!r} does not exist on this server; its queues: {names} "
            "(create it in the UI's Workers & Queues page, or pick one of these)"
        )
    queue_id = str(field_of(match, "id"))
    workers = []
    for worker in client.workers.get_all() or []:
        listening = {str(field_of(q, "id")) if not isinstance(q, str) else q for q in field_of(worker, "queues") or []}
        if queue_id in listening:
            workers.append(str(field_of(worker, "id")))
    return QueueState(name=name, id=queue_id, workers=tuple(sorted(workers)))


def _client() -> Any:
    from clearml.backend_api.session.client import APIClient

    return APIClient()
