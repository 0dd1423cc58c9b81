"""tasks.* that create, read and edit a Task (services/tasks.py, bll/task/task_bll.py, bll/task/utils.py).

Edits follow the server's status rules (``get_task_for_update``): hyperparameters, configuration,
script and execution only while the Task is ``created`` (``in_progress`` too with ``force``), except
the "properties" section; models and artifacts while ``created`` or ``in_progress``; requirements always.
"""

from __future__ import annotations

import copy
from typing import Any

from .common import new_id, now, owned, valid_name
from .errors import error, invalid_reference, invalid_status, invalid_task
from .queries import run_query

TASK_LIST_FIELDS = {
    "id",
    "user",
    "tags",
    "system_tags",
    "type",
    "status",
    "project",
    "parent",
    "execution.queue",
    "models.input.model",
}
TASK_RANGE_FIELDS = {"created", "started", "active_duration", "last_metrics", "last_iteration"}
EXCLUDED_BY_DEFAULT = ("unique_metrics", "company_origin", "enqueue_status")
UPDATABLE = ("name", "status_message", "comment", "created", "project", "tags", "system_tags")
EDIT_FIELDS = ("name", "tags", "system_tags", "type", "comment", "parent", "project", "output_dest", "execution")
EDIT_FIELDS += ("hyperparams", "configuration", "script", "models", "container", "runtime")  # services/tasks.py


def new_task(body: dict) -> dict:
    """A Task document with the server's defaults (database/model/task/task.py)."""
    task = owned(
        id=new_id(),
        name=valid_name(body["name"]),
        type=body["type"],
        status="created",
        status_reason="",
        status_message="",
        status_changed=now(),
        last_change=now(),
        comment=body.get("comment") or "",
        project=body.get("project"),
        parent=body.get("parent"),
        tags=sorted(body.get("tags") or []),
        system_tags=sorted(body.get("system_tags") or []),
        output={"destination": body.get("output_dest")},
        execution={"parameters": {}, "model_labels": {}, "artifacts": [], "test_split": 0},
        script={"binary": "python", "repository": "", "entry_point": ""},
        hyperparams={},
        configuration={},
        runtime={},
        models={"input": [], "output": []},
        container={},
        last_iteration=0,
        last_metrics={},
    )
    for field in ("execution", "script", "hyperparams", "configuration", "runtime", "container", "models"):
        if body.get(field) is not None:
            merge(task, field, body[field])
    return task


def merge(target: dict, field: str, value: Any, replace: bool = False) -> None:
    """An embedded document merged into the stored one (or replaced), as the server's edits do."""
    if isinstance(value, dict) and isinstance(target.get(field), dict) and not replace:
        target[field] = {**target[field], **copy.deepcopy(value)}
    else:
        target[field] = copy.deepcopy(value)


class TasksService:
    projects: dict[str, dict]
    tasks: dict[str, dict]

    def task(self, task_id: Any, many: bool = False) -> dict:
        task = self.tasks.get(task_id) if isinstance(task_id, str) else None
        if task is None:
            raise invalid_task([task_id] if many else task_id, many=many)
        return task

    def _references(self, body: dict) -> None:
        if body.get("project") and body["project"] not in self.projects:
            raise invalid_reference("Project", body["project"], "project")
        if body.get("parent") and body["parent"] not in self.tasks:
            raise invalid_reference("Task", body["parent"], "parent")
        for tag in [*(body.get("tags") or []), *(body.get("system_tags") or [])]:
            if str(tag).startswith("__$"):
                raise error(400, 16, "Invalid value for fields (unsupported tag prefix)", tag=tag)

    def _tasks_create(self, body: dict) -> dict:
        self._references(body)
        task = new_task(body)
        self.tasks[task["id"]] = task
        return {"id": task["id"]}

    def _tasks_get_by_id(self, body: dict) -> dict:
        return {"task": copy.deepcopy(self.task(body["task"], many=True))}

    def _tasks_get_all(self, body: dict) -> dict:
        query = dict(body)
        if query.get("include_subprojects") and query.get("project"):
            wanted = query["project"] if isinstance(query["project"], list) else [query["project"]]
            query["project"] = [
                *wanted,
                *(p["id"] for p in self.projects.values() if set(p.get("path") or []) & set(wanted)),
            ]
        tasks = run_query(
            list(self.tasks.values()),
            query,
            TASK_LIST_FIELDS,
            {"name", "comment", "report"},
            TASK_RANGE_FIELDS,
            EXCLUDED_BY_DEFAULT,
        )
        return {"tasks": tasks}

    def _tasks_get_all_ex(self, body: dict) -> dict:
        return self._tasks_get_all(body)

    def for_update(self, body: dict, allowed: tuple[str, ...] | None = None) -> dict:
        """The Task of an edit: ``created`` (``in_progress`` too with force), or the ``allowed`` statuses."""
        task = self.task(body["task"])
        if allowed is None:
            allowed = ("created", "in_progress") if body.get("force") else ("created",)
        if task["status"] not in allowed:
            raise invalid_status(expected="created", status=task["status"])
        return task

    def touch(self, task: dict) -> None:
        task["last_update"] = task["last_change"] = now()

    def _tasks_edit(self, body: dict) -> dict:
        task = self.task(body["task"])
        if task["status"] != "created" and not body.get("force"):
            raise invalid_status(expected="created", status=task["status"])
        fields = {k: v for k, v in body.items() if k in EDIT_FIELDS}  # others are ignored (the SDK sends "method")
        self._references(fields)
        if "output_dest" in fields:
            task["output"]["destination"] = fields.pop("output_dest")
        if "name" in fields:
            fields["name"] = valid_name(fields["name"])
        for field, value in fields.items():
            merge(
                task, field, value, replace=field in {"hyperparams", "configuration", "models", "tags", "system_tags"}
            )
        self.touch(task)
        return {"updated": 1, "fields": fields}

    def _tasks_update(self, body: dict) -> dict:
        task = self.task(body["task"])
        fields = {k: body[k] for k in UPDATABLE if k in body}
        self._references(fields)
        if "name" in fields:
            fields["name"] = valid_name(fields["name"])
        task.update(copy.deepcopy(fields))
        self.touch(task)
        return {"updated": 1, "fields": fields}

    def _tasks_edit_hyper_params(self, body: dict) -> dict:
        properties_only = all(p.get("section") == "properties" for p in body["hyperparams"])
        task = self.task(body["task"]) if properties_only else self.for_update(body)
        replace = body.get("replace_hyperparams") or "none"
        params = task["hyperparams"]
        if replace == "all":
            params.clear()
        if replace == "section":
            for section in {p.get("section", "") for p in body["hyperparams"]}:
                params[section] = {}
        for param in body["hyperparams"]:
            if not param.get("name"):
                raise error(400, 12, "Validation error", "error for field 'name'. field is required!")
            section = param.get("section") or ""
            params.setdefault(section, {})[param["name"]] = {**param, "section": section}
        if not properties_only:
            self.touch(task)
        return {"updated": 1}

    def _tasks_delete_hyper_params(self, body: dict) -> dict:
        task = self.for_update(body)
        deleted = 0
        for param in body["hyperparams"]:
            section = task["hyperparams"].get(param.get("section") or "", {})
            if param.get("name") is None:
                deleted += len(section)
                task["hyperparams"].pop(param.get("section") or "", None)
            elif section.pop(param["name"], None) is not None:
                deleted += 1
        self.touch(task)
        return {"deleted": deleted}

    def _tasks_edit_configuration(self, body: dict) -> dict:
        task = self.for_update(body)
        if body.get("replace_configuration"):
            task["configuration"] = {}
        for item in body["configuration"]:
            task["configuration"][item["name"]] = dict(item)
        self.touch(task)
        return {"updated": 1}

    def _tasks_delete_configuration(self, body: dict) -> dict:
        task = self.for_update(body)
        deleted = sum(task["configuration"].pop(name, None) is not None for name in body["configuration"])
        self.touch(task)
        return {"deleted": deleted}

    def _tasks_set_requirements(self, body: dict) -> dict:
        task = self.task(body["task"])  # no status check on the real server
        task["script"]["requirements"] = copy.deepcopy(body["requirements"])
        return {"updated": 1, "fields": {"script.requirements": body["requirements"]}}

    def _tasks_add_or_update_model(self, body: dict) -> dict:
        task = self.for_update(body, allowed=("created", "in_progress"))
        models = task["models"].setdefault(body["type"], [])
        entry = {"name": body["name"], "model": body["model"], "updated": now()}
        index = next((i for i, m in enumerate(models) if m["name"] == body["name"]), None)
        if index is None:
            models.append(entry)
        else:
            models[index] = entry
        if body.get("iteration") is not None:
            task["last_iteration"] = max(task["last_iteration"], int(body["iteration"]))
        self.touch(task)
        return {"updated": 1}

    def _tasks_delete_models(self, body: dict) -> dict:
        task = self.for_update(body, allowed=("created", "in_progress"))
        removed = 0
        for item in body["models"]:
            models = task["models"].get(item.get("type"), [])
            kept = [m for m in models if m["name"] != item.get("name")]
            removed += len(models) - len(kept)
            models[:] = kept
        return {"updated": removed}

    def _tasks_add_or_update_artifacts(self, body: dict) -> dict:
        task = self.for_update(body, allowed=("created", "in_progress"))
        artifacts = task["execution"].setdefault("artifacts", [])
        for artifact in body["artifacts"]:
            artifact = {"mode": "output", **artifact}
            artifacts[:] = [a for a in artifacts if (a["key"], a.get("mode")) != (artifact["key"], artifact["mode"])]
            artifacts.append(artifact)
        artifacts.sort(key=lambda a: a["key"])
        self.touch(task)
        return {"updated": 1}

    def _tasks_delete_artifacts(self, body: dict) -> dict:
        task = self.for_update(body, allowed=("created", "in_progress"))
        artifacts = task["execution"].setdefault("artifacts", [])
        gone = {(a["key"], a.get("mode", "output")) for a in body["artifacts"]}
        kept = [a for a in artifacts if (a["key"], a.get("mode", "output")) not in gone]
        deleted, artifacts[:] = len(artifacts) - len(kept), kept
        return {"deleted": deleted}

    def _tasks_ping(self, body: dict) -> dict:
        task = self.tasks.get(body["task"])  # the real server does not check that the Task exists
        if task is not None:
            self.touch(task)
        return {}
