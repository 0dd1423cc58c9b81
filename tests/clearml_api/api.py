"""The ClearML REST API the SDK uses, kept in memory: projects, tasks, models, events and auth.

Every request body is checked against the SDK's own request schema (``clearml.backend_api.services.v2_23``)
and every reply against the SDK's response schema, so a reply the real SDK could not parse fails the
test instead of passing silently. Behaviour follows the real server (allegroai/clearml-server,
``apiserver/schema/services`` and ``apiserver/bll``): the task status state machine, tasks.edit
refused unless the task is ``created`` (or ``force``), events refused for published tasks, events
keyed as the server keys them (a re-sent metric event overwrites, a log event is appended).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import importlib
import json
import re
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable

import jsonschema

API_VERSION = "2.23"
SERVER_VERSION = "1.16.0"
COMPANY = "test-company"
USER = {"id": "test-user", "name": "Test User", "company": {"id": COMPANY, "name": "test"}}
_TOKEN_SECRET = "test-server-signing-key"

# the real server's state machine (apiserver/bll/task/utils.py)
STATUS_CHANGES = {
    "created": {"queued", "in_progress"},
    "queued": {"created", "in_progress", "stopped"},
    "in_progress": {"stopped", "failed", "created", "completed"},
    "stopped": {"closed", "created", "failed", "queued", "in_progress", "published", "publishing", "completed"},
    "closed": {"created", "failed", "published", "publishing", "stopped"},
    "failed": {"created", "stopped", "published", "queued"},
    "publishing": {"published"},
    "published": set(),
    "completed": {"published", "in_progress", "created"},
}
LOCKED_STATUSES = {"publishing", "published"}
EVENT_TYPES = {"log", "training_stats_scalar", "training_stats_vector", "training_debug_image", "plot"}
EVENT_ID_FIELDS = ("task", "iter", "metric", "variant", "key")  # the real server's event id


class ApiError(Exception):
    """An error reply: HTTP code, subcode and message, as the real server's ``meta``."""

    def __init__(self, code: int, subcode: int, message: str) -> None:
        super().__init__(message)
        self.code, self.subcode, self.message = code, subcode, message


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _new_id() -> str:
    return uuid.uuid4().hex


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(api_version: str = API_VERSION) -> str:
    """A JWT (HS256) with the claims the SDK reads: api_version, server_version, exp, identity."""
    import hmac

    header = {"alg": "HS256", "typ": "JWT"}
    now = int(time.time())
    payload = {
        "identity": {"company": COMPANY, "user": USER["id"], "role": "user", "user_name": USER["name"]},
        "api_version": api_version,
        "server_version": SERVER_VERSION,
        "feature_set": "basic",
        "iat": now,
        "exp": now + 30 * 24 * 3600,
    }
    signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(_TOKEN_SECRET.encode(), signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{_b64(signature)}"


def token_valid(token: str) -> bool:
    import hmac

    try:
        signing, _, signature = token.rpartition(".")
        expected = _b64(hmac.new(_TOKEN_SECRET.encode(), signing.encode(), hashlib.sha256).digest())
        payload = json.loads(base64.urlsafe_b64decode(signing.split(".")[1] + "=="))
        return hmac.compare_digest(signature, expected) and payload["exp"] > time.time()
    except Exception:
        return False


def _schema_classes(service: str, action: str) -> tuple[Any, Any]:
    """The SDK's request and response classes for ``service.action`` (None, None if it has none)."""
    try:
        module = importlib.import_module(f"clearml.backend_api.services.v2_23.{service}")
    except ImportError:
        return None, None
    for name in dir(module):
        cls = getattr(module, name)
        same = getattr(cls, "_service", None) == service and getattr(cls, "_action", None) == action
        if same and name.endswith("Request") and not name.endswith("BatchRequest"):
            return cls, getattr(module, name[: -len("Request")] + "Response", None)
    return None, None


def _validate(schema: dict | None, data: Any, what: str) -> None:
    if schema:
        try:
            jsonschema.validate(data, schema)
        except jsonschema.ValidationError as exc:
            raise ApiError(400, 12, f"Validation error ({what}): {exc.message}") from None


class ClearMLState:
    """Everything the server holds; tests read it back through the same object."""

    def __init__(self, access_key: str, secret_key: str) -> None:
        self.credentials = (access_key, secret_key)
        self.lock = threading.RLock()
        self.projects: dict[str, dict] = {}
        self.tasks: dict[str, dict] = {}
        self.models: dict[str, dict] = {}
        self.events: dict[str, dict] = {}  # event id -> event (metric events overwrite, as on the real server)
        self.event_receipts: Counter = Counter()  # event id -> how many times it was received
        self.logs: list[dict] = []
        self.files: dict[str, bytes] = {}
        self.calls: list[str] = []  # every "service.action" answered, in order
        self.schema_errors: list[str] = []  # replies the SDK's response schema rejects: a server bug

    # ---- dispatch ----------------------------------------------------------------------------------

    def handle(self, endpoint: str, body: Any, auth_header: str) -> dict:
        """Answer one API call; raises ApiError for an error reply."""
        service, _, action = endpoint.partition(".")
        handler: Callable | None = getattr(self, f"_{service}_{action}", None)
        if handler is None:
            raise ApiError(400, 0, f"Invalid request path /{endpoint}")
        if endpoint == "auth.login":
            self._check_basic_auth(auth_header)
        elif endpoint != "debug.ping":
            self._check_token(auth_header)
        request_cls, response_cls = _schema_classes(service, action)
        if endpoint != "events.add_batch":
            _validate(getattr(request_cls, "_schema", None), body if body is not None else {}, endpoint)
        with self.lock:
            data = handler(body if body is not None else {})
            self.calls.append(endpoint)
        if response_cls is not None:
            try:
                jsonschema.validate(data, response_cls._schema)
            except jsonschema.ValidationError as exc:
                self.schema_errors.append(f"{endpoint}: {exc.message}")
                raise ApiError(500, 0, f"test server reply does not match the SDK schema: {exc.message}") from None
        return data

    def _check_basic_auth(self, header: str) -> None:
        if not header.startswith("Basic "):
            if header.startswith("Bearer ") and token_valid(header[7:]):
                return  # a token refresh
            raise ApiError(401, 20, "Unauthorized (missing credentials)")
        try:
            key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except Exception:
            raise ApiError(401, 21, "Unauthorized (malformed credentials)") from None
        if (key, secret) != self.credentials:
            raise ApiError(401, 22, "Unauthorized (invalid credentials)")

    def _check_token(self, header: str) -> None:
        if not header.startswith("Bearer "):
            raise ApiError(401, 20, "Unauthorized (missing credentials)")
        if not token_valid(header[7:]):
            raise ApiError(401, 21, "Unauthorized (invalid token)")

    # ---- auth, debug, users, server ----------------------------------------------------------------

    def _auth_login(self, body: dict) -> dict:
        return {"token": make_token()}

    def _debug_ping(self, body: dict) -> dict:
        return {"msg": "ClearML server"}

    def _users_get_current_user(self, body: dict) -> dict:
        return {"user": USER, "getting_started": {}, "settings": {}}

    # ---- projects ------------------------------------------------------------------------------------

    def _projects_create(self, body: dict) -> dict:
        name = body["name"]
        if any(p["name"] == name for p in self.projects.values()):
            raise ApiError(400, 409, f"Project with the same name already exists: name={name}")
        project_id = _new_id()
        self.projects[project_id] = {
            "id": project_id,
            "name": name,
            "basename": name.rsplit("/", 1)[-1],
            "description": body.get("description", ""),
            "tags": body.get("tags", []),
            "system_tags": body.get("system_tags", []),
            "default_output_destination": body.get("default_output_destination"),
            "company": COMPANY,
            "user": USER["id"],
            "created": _now(),
            "last_update": _now(),
        }
        return {"id": project_id}

    def _projects_get_by_id(self, body: dict) -> dict:
        project = self.projects.get(body["project"])
        if project is None:
            raise ApiError(400, 403, f"Project not found: id={body['project']}")
        return {"project": project}

    def _projects_get_all(self, body: dict) -> dict:
        found = [
            p
            for p in self.projects.values()
            if _matches_id(body.get("id"), p["id"]) and _matches_pattern(body.get("name"), p["name"])
        ]
        return {"projects": _page(_project(found, body.get("only_fields")), body)}

    def _projects_get_all_ex(self, body: dict) -> dict:
        return self._projects_get_all(body)

    # ---- tasks ---------------------------------------------------------------------------------------

    def task(self, task_id: str) -> dict:
        task = self.tasks.get(task_id)
        if task is None:
            raise ApiError(400, 130, f"Task not found: id={task_id}")
        return task

    def _tasks_create(self, body: dict) -> dict:
        if body.get("project") and body["project"] not in self.projects:
            raise ApiError(400, 401, f"Invalid project id: id={body['project']}")
        task_id = _new_id()
        now = _now()
        task = {
            "id": task_id,
            "name": body["name"],
            "type": body["type"],
            "status": "created",
            "status_reason": "",
            "status_message": "",
            "status_changed": now,
            "comment": body.get("comment", ""),
            "company": COMPANY,
            "user": USER["id"],
            "created": now,
            "last_update": now,
            "last_change": now,
            "project": body.get("project"),
            "parent": body.get("parent"),
            "tags": body.get("tags", []),
            "system_tags": body.get("system_tags", []),
            "output": {"destination": None, "model": None, "result": None, "error": None},
            "execution": {"parameters": {}, "model_desc": {}, "model_labels": {}, "framework": None, "artifacts": []},
            "script": {},
            "hyperparams": {},
            "configuration": {},
            "runtime": {},
            "models": {"input": [], "output": []},
            "container": {},
            "last_iteration": 0,
            "last_metrics": {},
        }
        for field in ("script", "hyperparams", "configuration", "output", "execution", "container", "runtime"):
            if body.get(field) is not None:
                _merge(task, field, body[field])
        if body.get("output_dest") is not None:  # the real server moves it to output.destination
            task["output"]["destination"] = body["output_dest"]
        self.tasks[task_id] = task
        return {"id": task_id}

    def _tasks_get_by_id(self, body: dict) -> dict:
        return {"task": copy.deepcopy(self.task(body["task"]))}

    def _tasks_get_all(self, body: dict) -> dict:
        found = [
            t
            for t in self.tasks.values()
            if _matches_id(body.get("id"), t["id"])
            and _matches_pattern(body.get("name"), t["name"])
            and _matches_id(body.get("project"), t["project"])
            and _matches_id(body.get("status"), t["status"])
            and _matches_id(body.get("type"), t["type"])
        ]
        return {"tasks": _page(_project(found, body.get("only_fields")), body)}

    def _tasks_get_all_ex(self, body: dict) -> dict:
        return self._tasks_get_all(body)

    def _tasks_edit(self, body: dict) -> dict:
        task = self.task(body["task"])
        if task["status"] != "created" and not body.get("force"):
            raise ApiError(400, 110, f"Invalid task status: expected=created, status={task['status']}")
        fields = {k: v for k, v in body.items() if k not in {"task", "force"}}
        if "output_dest" in fields:  # the real server moves it to output.destination
            task["output"]["destination"] = fields.pop("output_dest") or None
        for field, value in fields.items():
            _merge(task, field, value, replace=field in {"hyperparams", "configuration", "script", "models"})
        task["last_update"] = _now()
        return {"updated": 1, "fields": fields}

    def _tasks_update(self, body: dict) -> dict:
        task = self.task(body["task"])
        fields = {k: v for k, v in body.items() if k not in {"task", "force"}}
        task.update(fields)
        return {"updated": 1, "fields": fields}

    def _editable(self, body: dict) -> dict:
        task = self.task(body["task"])
        if task["status"] in LOCKED_STATUSES and not body.get("force"):
            raise ApiError(400, 110, f"Invalid task status: status={task['status']}")
        return task

    def _tasks_edit_hyper_params(self, body: dict) -> dict:
        task = self._editable(body)
        replace = body.get("replace_hyperparams", "none")
        if replace == "all":
            task["hyperparams"] = {}
        for param in body["hyperparams"]:
            section = param.get("section", "")
            if replace == "section":
                task["hyperparams"][section] = {}
            task["hyperparams"].setdefault(section, {})[param["name"]] = dict(param)
        return {"updated": 1}

    def _tasks_edit_configuration(self, body: dict) -> dict:
        task = self._editable(body)
        if body.get("replace_configuration"):
            task["configuration"] = {}
        for item in body["configuration"]:
            task["configuration"][item["name"]] = dict(item)
        return {"updated": 1}

    def _tasks_set_requirements(self, body: dict) -> dict:
        task = self._editable(body)
        task["script"]["requirements"] = body["requirements"]
        return {"updated": 1, "fields": {"script.requirements": body["requirements"]}}

    def _tasks_add_or_update_model(self, body: dict) -> dict:
        task = self._editable(body)
        models = task["models"].setdefault(body["type"], [])
        models[:] = [m for m in models if m["name"] != body["name"]]
        models.append({"name": body["name"], "model": body["model"]})
        return {"updated": 1}

    def _tasks_add_or_update_artifacts(self, body: dict) -> dict:
        task = self._editable(body)
        artifacts = task["execution"].setdefault("artifacts", [])
        for artifact in body["artifacts"]:
            artifacts[:] = [
                a for a in artifacts if (a["key"], a.get("mode")) != (artifact["key"], artifact.get("mode"))
            ]
            artifacts.append(artifact)
        return {"updated": 1}

    def _tasks_ping(self, body: dict) -> dict:
        self.task(body["task"])
        return {}

    def _change_status(self, body: dict, new_status: str, **extra: Any) -> dict:
        task = self.task(body["task"])
        current = task["status"]
        if not body.get("force") and new_status != current and new_status not in STATUS_CHANGES[current]:
            raise ApiError(400, 110, f"Invalid status change: current_status={current}, new_status={new_status}")
        fields = {
            "status": new_status,
            "status_reason": body.get("status_reason", ""),
            "status_message": body.get("status_message", ""),
            "status_changed": _now(),
            "last_update": _now(),
            **extra,
        }
        task.update(fields)
        return {"updated": 1, "fields": fields}

    def _tasks_started(self, body: dict) -> dict:
        return {**self._change_status(body, "in_progress", started=_now()), "started": 1}

    def _tasks_completed(self, body: dict) -> dict:
        return self._change_status(body, "completed", completed=_now())

    def _tasks_stopped(self, body: dict) -> dict:
        return self._change_status(body, "stopped")

    def _tasks_failed(self, body: dict) -> dict:
        return self._change_status(body, "failed")

    def _tasks_stop(self, body: dict) -> dict:
        """What the UI's Abort calls: a development Task (or one no worker runs) is stopped at once;
        a worker's is only marked "stopping", for the worker to stop it (apiserver task_operations)."""
        task = self.task(body["task"])
        if task["status"] != "in_progress" and not body.get("force"):
            raise ApiError(400, 110, f"Invalid task status: expected=in_progress, status={task['status']}")
        if "development" in task.get("system_tags", []) or not task.get("last_worker"):
            return self._change_status({**body, "force": True}, "stopped")
        task["status_message"] = "stopping"
        return {"updated": 1, "fields": {"status_message": "stopping"}}

    def _tasks_reset(self, body: dict) -> dict:
        task = self.task(body["task"])
        if task["status"] in LOCKED_STATUSES and not body.get("force"):
            raise ApiError(400, 110, f"Invalid task status: status={task['status']}")
        result = self._change_status({**body, "force": True}, "created")
        return {**result, "deleted_models": 0, "urls": {"model_urls": [], "event_urls": [], "artifact_urls": []}}

    # ---- models --------------------------------------------------------------------------------------

    def model(self, model_id: str) -> dict:
        model = self.models.get(model_id)
        if model is None:
            raise ApiError(400, 201, f"Invalid model id: id={model_id}")
        return model

    def _models_create(self, body: dict) -> dict:
        if body.get("task"):
            self.task(body["task"])
        model_id = _new_id()
        self.models[model_id] = {
            "id": model_id,
            "company": COMPANY,
            "user": USER["id"],
            "created": _now(),
            "last_update": _now(),
            "ready": False,
            "labels": {},
            "tags": [],
            "system_tags": [],
            "design": {},
            **{k: v for k, v in body.items() if k != "override_model_id"},
        }
        return {"id": model_id, "created": True}

    def _models_edit(self, body: dict) -> dict:
        model = self.model(body["model"])
        if model.get("ready") and set(body) - {"model", "tags", "system_tags", "comment", "name", "metadata"}:
            raise ApiError(400, 203, f"Model is ready (published): id={model['id']}")
        fields = {k: v for k, v in body.items() if k != "model"}
        model.update(fields)
        model["last_update"] = _now()
        return {"updated": 1, "fields": fields}

    def _models_update(self, body: dict) -> dict:
        return self._models_edit(body)

    def _models_get_by_id(self, body: dict) -> dict:
        return {"model": copy.deepcopy(self.model(body["model"]))}

    def _models_get_all(self, body: dict) -> dict:
        found = [
            m
            for m in self.models.values()
            if _matches_id(body.get("id"), m["id"])
            and _matches_id(body.get("task"), m.get("task"))
            and _matches_pattern(body.get("name"), m.get("name", ""))
        ]
        return {"models": _page(_project(found, body.get("only_fields")), body)}

    def _models_update_for_task(self, body: dict) -> dict:
        task = self.task(body["task"])
        if body.get("override_model_id"):
            model_id = body["override_model_id"]
            self.model(model_id)
            created = False
        else:
            model_id = self._models_create({k: v for k, v in body.items() if k not in {"override_model_id"}})["id"]
            created = True
        output = task["models"].setdefault("output", [])
        name = self.models[model_id].get("name") or "Output Model"
        output[:] = [m for m in output if m["name"] != name]
        output.append({"name": name, "model": model_id})
        task["output"]["model"] = model_id
        return {"id": model_id, "created": created, "updated": 1, "fields": {}}

    def _models_set_ready(self, body: dict) -> dict:
        model = self.model(body["model"])
        model["ready"] = True
        return {"updated": 1, "published_task": {}}

    # ---- events --------------------------------------------------------------------------------------

    def _events_add_batch(self, body: Any) -> dict:
        requests = body if isinstance(body, list) else []
        if not requests:
            raise ApiError(400, 0, "Batch request contains no events")
        return self._add_events([r.get("event", r) if isinstance(r, dict) else {} for r in requests])

    def _events_add(self, body: dict) -> dict:
        return self._add_events([body])

    def _add_events(self, events: list[dict]) -> dict:
        errors: Counter = Counter()
        added = 0
        for event in events:
            event_type = str(event.get("type", "")).replace(" ", "_")
            entity = event.get("model") if event.get("model_event") else event.get("task")
            task = self.tasks.get(entity or "")
            if event_type not in EVENT_TYPES:
                errors[f"Invalid event type {event_type}"] += 1
            elif task is None:
                errors[f"Invalid task id {entity}"] += 1
            elif task["status"] in LOCKED_STATUSES and not event.get("allow_locked"):
                errors[f"Invalid task id {entity}"] += 1  # the real server finds no writable task
            else:
                event = {**event, "type": event_type}
                event.setdefault("timestamp", int(time.time() * 1000))
                if event_type == "log":
                    self.logs.append(event)
                else:
                    key = hashlib.md5(
                        "-".join(str(event[f]) for f in EVENT_ID_FIELDS if f in event).encode()
                    ).hexdigest()
                    self.events[key] = event
                    self.event_receipts[key] += 1
                    if event.get("iter") is not None and event["iter"] >= 0:
                        task["last_iteration"] = max(task["last_iteration"], int(event["iter"]))
                added += 1
        if not added and errors:
            raise ApiError(400, 0, f"Events not added: {dict(errors)}")
        return {"added": added, "errors": sum(errors.values()), "errors_info": dict(errors)}

    def _events_get_task_events(self, body: dict) -> dict:
        """Scroll through a Task's events by iteration, as the real server does (services/events.py
        and bll/event/events_iterator.py): up to ``batch_size`` events, plus every other event of the
        last iteration returned; the scroll id carries the request and that iteration; a scroll past
        the end returns no events."""
        if body.get("model_events"):
            self.model(body["task"])
        else:
            self.task(body["task"])
        if body.get("scroll_id"):
            try:
                scroll = json.loads(base64.urlsafe_b64decode(body["scroll_id"].encode()))
            except Exception:
                raise ApiError(400, 0, f"Invalid scroll id: {body['scroll_id']}") from None
            if scroll["from"] is None:
                return {"events": [], "returned": 0, "total": scroll["total"], "scroll_id": body["scroll_id"]}
            request = {**scroll["request"], "batch_size": body.get("batch_size") or scroll["request"]["batch_size"]}
        else:
            request, scroll = {**body, "batch_size": body.get("batch_size") or 500}, {"from": None, "total": None}
        descending = request.get("order") == "desc"
        kind = request.get("event_type")
        pool = [*self.events.values(), *self.logs]
        found = [
            e
            for e in pool
            if e.get("task") == request["task"]
            and (kind is None or e.get("type") == kind)
            and (
                scroll["from"] is None
                or (e.get("iter", 0) < scroll["from"] if descending else e.get("iter", 0) > scroll["from"])
            )
        ]
        found.sort(key=lambda e: (e.get("iter", 0), e.get("timestamp", 0)), reverse=descending)
        batch = found[: min(request["batch_size"], 10_000)]
        if batch:  # every event of the last iteration, even past the batch size
            last = batch[-1].get("iter", 0)
            batch += [e for e in found[len(batch) :] if e.get("iter", 0) == last]
        next_from = batch[-1].get("iter", 0) if batch else None
        request.pop("scroll_id", None)
        scroll_id = base64.urlsafe_b64encode(
            json.dumps({"from": next_from, "total": scroll["total"], "request": request}).encode()
        ).decode()
        return {
            "events": copy.deepcopy(batch),
            "returned": len(batch),
            "total": scroll["total"],
            "scroll_id": scroll_id,
        }

    # ---- what the web UI or an HPO optimizer does, for tests ---------------------------------------

    def handle_as_ui(self, endpoint: str, body: dict) -> dict:
        """Call an endpoint as the web UI would (e.g. "tasks.stop" for its Abort button)."""
        service, _, action = endpoint.partition(".")
        with self.lock:
            return getattr(self, f"_{service}_{action}")(body)

    def clone_and_edit(self, task_id: str, section: str, edits: dict[str, str], status: str = "queued") -> str:
        """Clone a Task as the UI does (tasks.clone), edit hyperparameters (tasks.edit_hyper_params) and
        enqueue it (tasks.enqueue): the Task an agent then runs. Returns the new Task's id."""
        with self.lock:
            clone = copy.deepcopy(self.task(task_id))
            clone_id = _new_id()
            clone.update(
                id=clone_id,
                name=f"{clone['name']} (edited)",
                status=status,
                parent=task_id,
                created=_now(),
                last_iteration=0,
                models={"input": [], "output": []},
            )
            destination = (clone.get("output") or {}).get("destination")  # tasks.clone keeps it
            clone["output"] = {"destination": destination, "model": None, "result": None, "error": None}
            params = clone["hyperparams"].setdefault(section, {})
            for name, value in edits.items():
                params[name] = {**params.get(name, {"section": section, "name": name}), "value": value}
            self.tasks[clone_id] = clone
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


def _merge(target: dict, field: str, value: Any, replace: bool = False) -> None:
    if isinstance(value, dict) and isinstance(target.get(field), dict) and not replace:
        target[field] = {**target[field], **copy.deepcopy(value)}
    else:
        target[field] = copy.deepcopy(value)


def _matches_id(wanted: Any, value: Any) -> bool:
    if wanted is None or wanted == []:
        return True
    return value in (wanted if isinstance(wanted, list) else [wanted])


def _matches_pattern(pattern: Any, value: str) -> bool:
    return not pattern or re.search(str(pattern), value or "") is not None


def _project(items: list[dict], only_fields: Any) -> list[dict]:
    """Each item limited to ``only_fields`` (dotted paths), as the real server projects them."""
    if not only_fields:
        return [copy.deepcopy(i) for i in items]
    out = []
    for item in items:
        picked: dict = {"id": item["id"]}
        for path in only_fields:
            source, target, parts = item, picked, path.split(".")
            for part in parts[:-1]:
                source = source.get(part) if isinstance(source, dict) else None
                target = target.setdefault(part, {})
            if isinstance(source, dict) and parts[-1] in source:
                target[parts[-1]] = copy.deepcopy(source[parts[-1]])
        out.append(picked)
    return out


def _page(items: list[dict], body: dict) -> list[dict]:
    order = body.get("order_by") or []
    for key in reversed(order):
        reverse = key.startswith("-")
        name = key.lstrip("-")
        items.sort(key=lambda i, n=name: str(i.get(n, "")), reverse=reverse)
    size = body.get("page_size")
    if size:
        start = (body.get("page") or 0) * size
        return items[start : start + size]
    return items
