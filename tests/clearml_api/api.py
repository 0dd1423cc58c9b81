"""The ClearML REST API the SDK, clearml-agent and ClearML's tools use, kept in memory (files on disk).

Behaviour follows the real server (allegroai/clearml-server ``apiserver/``): each service in its own
module (auth, projects, tasks, task_lifecycle, models, events, queues); requests are checked as the
server's request models check them (rules.py); errors are worded and coded as the server's (errors.py).
Replies are also checked against the SDK's own response schema: a reply the SDK could not parse is a
bug of this server, recorded in ``schema_errors``.
"""

from __future__ import annotations

import copy
import importlib
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import jsonschema

from .auth import API_VERSION, AuthService
from .errors import ApiError, endpoint_not_found
from .events import EventsService
from .files import FileStore
from .models import ModelsService
from .projects import ProjectsService
from .queues import QueuesService
from .rules import check_request
from .task_lifecycle import TaskLifecycle
from .tasks import TasksService


def _response_schema(service: str, action: str) -> dict | None:
    """The SDK's response schema for ``service.action`` (None if it has none)."""
    try:
        module = importlib.import_module(f"clearml.backend_api.services.v2_23.{service}")
    except ImportError:
        return None
    for name in dir(module):
        cls = getattr(module, name)
        same = getattr(cls, "_service", None) == service and getattr(cls, "_action", None) == action
        if same and name.endswith("Response"):
            return getattr(cls, "_schema", None)
    return None


class ClearMLState(
    AuthService, ProjectsService, TasksService, TaskLifecycle, ModelsService, EventsService, QueuesService
):
    """Everything the server holds; tests read it back through the same object."""

    def __init__(self, access_key: str, secret_key: str, files_root: Path) -> None:
        self.credentials = (access_key, secret_key)
        self.tokens_expired_before = 0.0  # tokens issued before this time are expired (a fault)
        self.lock = threading.RLock()
        self.projects: dict[str, dict] = {}
        self.tasks: dict[str, dict] = {}
        self.models: dict[str, dict] = {}
        self.queues: dict[str, dict] = {}
        self.workers: dict[str, dict] = {}
        self.events: dict[str, dict] = {}  # event id -> event (metric events overwrite, as on the real server)
        self.event_receipts: Counter = Counter()  # event id -> how many times it was received
        self.logs: list[dict] = []
        self.files = FileStore(files_root)
        self.calls: list[str] = []  # every "service.action" answered, in order
        self.schema_errors: list[str] = []  # replies the SDK's response schema rejects: a server bug
        self.broken: set[str] = set()  # endpoints whose handler raises (tests of the 500 reply)
        self._new_queue({"name": "default", "system_tags": ["default"]})  # as the server's first start does

    # ---- dispatch ------------------------------------------------------------------------------------

    def handler(self, endpoint: str) -> Callable[[Any], dict] | None:
        service, dot, action = endpoint.partition(".")
        if not dot or not service.isidentifier() or not action.isidentifier():
            return None
        return getattr(self, f"_{service}_{action}", None)

    def handle(self, endpoint: str, body: Any, auth_header: str, version: str | None = None) -> dict:
        """Answer one API call; raises ApiError for an error reply (any other exception is a 500)."""
        handler = self.handler(endpoint)
        if handler is None:
            raise endpoint_not_found(endpoint, version or API_VERSION)
        self.check_auth(endpoint, auth_header)
        body = {} if body is None else body
        check_request(endpoint, body)
        with self.lock:
            if endpoint in self.broken:
                raise RuntimeError(f"{endpoint} is broken for this test")
            data = handler(copy.deepcopy(body))
            self.calls.append(endpoint)
        service, _, action = endpoint.partition(".")
        schema = _response_schema(service, action)
        if schema is not None:
            try:
                jsonschema.validate(data, schema)
            except jsonschema.ValidationError as exc:
                self.schema_errors.append(f"{endpoint}: {exc.message}")
        return data

    # ---- what the web UI does, for tests ---------------------------------------------------------------

    def handle_as_ui(self, endpoint: str, body: dict) -> dict:
        """Call an endpoint as the web UI would (e.g. "tasks.stop" for its Abort button)."""
        with self.lock:
            return self.handler(endpoint)(copy.deepcopy(body))

    def clone_and_edit(self, task_id: str, section: str, edits: dict[str, str], queue: str | None = None) -> str:
        """Clone a Task as the UI does (tasks.clone), edit hyperparameters (tasks.edit_hyper_params) and,
        with ``queue`` (a name), enqueue it (tasks.enqueue). Returns the new Task's id."""
        with self.lock:
            original = self.task(task_id)
            clone_id = self._tasks_clone({"task": task_id, "new_task_name": f"{original['name']} (edited)"})["id"]
            params = [{"section": section, "name": name, "value": value} for name, value in edits.items()]
            if params:
                self._tasks_edit_hyper_params({"task": clone_id, "hyperparams": params})
            if queue is not None:
                self._tasks_enqueue({"task": clone_id, "queue_name": queue})
            return clone_id

    # ---- reading back, for tests ---------------------------------------------------------------------

    def task_events(self, task_id: str) -> list[dict]:
        with self.lock:
            return [e for e in self.events.values() if e.get("task") == task_id]

    def duplicates(self, task_id: str) -> dict[tuple, int]:
        """Events of ``task_id`` received more than once: (type, metric, variant, iter) -> times received."""
        with self.lock:
            return {
                (e["type"], e.get("metric"), e.get("variant"), e.get("iter")): self.event_receipts[k]
                for k, e in self.events.items()
                if e.get("task") == task_id and self.event_receipts[k] > 1
            }


__all__ = ["ApiError", "ClearMLState"]
