"""models.* (services/models.py, bll/model/): ``ready`` (published) by default when the request does
not say, draft models deleted with their Task, a model in use or made by a published Task kept
unless forced."""

from __future__ import annotations

import copy
from typing import Any

from .auth import USER
from .common import new_id, now, owned, valid_name
from .errors import error, invalid_model
from .queries import run_query

MODEL_LIST_FIELDS = {"tags", "system_tags", "framework", "uri", "id", "user", "project", "task", "parent"}
EDITABLE = ("name", "tags", "system_tags", "task", "comment", "uri", "project", "parent", "framework", "design")
EDITABLE += ("labels", "ready", "metadata")


class ModelsService:
    models: dict[str, dict]
    projects: dict[str, dict]
    tasks: dict[str, dict]

    def model(self, model_id: Any) -> dict:
        model = self.models.get(model_id) if isinstance(model_id, str) else None
        if model is None:
            raise invalid_model(model_id)
        return model

    def _models_create(self, body: dict) -> dict:
        if body.get("project") and body["project"] not in self.projects:
            raise error(400, 12, "Validation error", "Invalid project ids", project=body["project"])
        if body.get("task"):
            self.task(body["task"])
        fields = {k: copy.deepcopy(body[k]) for k in EDITABLE if body.get(k) is not None}
        # ready: True unless the request says (apimodels/models.py CreateModelRequest)
        defaults = {"ready": True, "labels": {}, "tags": [], "system_tags": [], "design": {}}
        model = owned(
            id=new_id(),
            last_iteration=0,
            last_metrics={},
            last_change=now(),
            last_changed_by=USER["id"],
            **{**defaults, **fields},
        )
        model["name"] = valid_name(model.get("name"))
        self.models[model["id"]] = model
        return {"id": model["id"], "created": True}

    def _models_edit(self, body: dict) -> dict:
        model = self.model(body["model"])
        fields = {k: copy.deepcopy(body[k]) for k in EDITABLE if k in body}
        if str(fields.get("task") or "").startswith("__DELETED__"):
            fields.pop("task")
        if fields.get("task"):
            self.task(fields["task"])
        if "name" in fields:
            fields["name"] = valid_name(fields["name"])
        if not fields:
            return {"updated": 0}
        model.update(fields, last_change=now(), last_update=now())
        task = self.tasks.get(model.get("task") or "")
        if body.get("iteration") is not None and task is not None:
            task["last_iteration"] = max(task["last_iteration"], int(body["iteration"]))
        return {"updated": 1, "fields": fields}

    def _models_update(self, body: dict) -> dict:
        return self._models_edit(body)

    def _models_update_for_task(self, body: dict) -> dict:
        raise error(301, 1, "Moved permanently", "use tasks.add_or_update_model")

    def _models_get_by_id(self, body: dict) -> dict:
        return {"model": copy.deepcopy(self.model(body["model"]))}

    def _models_get_all(self, body: dict) -> dict:
        query = dict(body)
        if query.get("ready") is not None:
            ready = query.pop("ready")
            items = [m for m in self.models.values() if bool(m.get("ready")) == bool(ready)]
        else:
            items = list(self.models.values())
        models = run_query(items, query, MODEL_LIST_FIELDS, {"name", "comment"}, {"created", "last_metrics"})
        return {"models": models}

    def _models_get_all_ex(self, body: dict) -> dict:
        return self._models_get_all(body)

    def _models_set_ready(self, body: dict) -> dict:
        model = self.model(body["model"])
        if model.get("ready"):
            raise error(400, 203, "Model is ready", id=model["id"])
        model.update(ready=True, last_update=now(), last_change=now())
        return {"updated": 1, "published_task": None}

    def _models_delete(self, body: dict) -> dict:
        model = self.model(body["model"])
        users = [t for t in self.tasks.values() if model["id"] in {m.get("model") for m in t["models"]["input"]}]
        creator = self.tasks.get(model.get("task") or "")
        if not body.get("force"):
            if users:
                raise error(400, 205, "Model is used by tasks", "as execution model, use force=True to delete")
            if creator is not None and creator["status"] == "published":
                raise error(400, 206, "Task that created this model exists", "use force=True to delete")
        for task in users:
            for entry in task["models"]["input"]:
                if entry.get("model") == model["id"]:
                    entry["model"] = f"__DELETED__{model['id']}"
        if creator is not None:
            output = creator["models"]["output"]
            if creator["status"] == "published":
                for entry in output:
                    if entry.get("model") == model["id"]:
                        entry["model"] = f"__DELETED__{model['id']}"
            else:
                output[:] = [m for m in output if m.get("model") != model["id"]]
        self.models.pop(model["id"])
        self.delete_events(model["id"])
        return {"deleted": True, "url": model.get("uri")}

    def _models_archive_many(self, body: dict) -> dict:
        for model_id in body.get("ids") or []:
            model = self.model(model_id)
            model["system_tags"] = sorted({*model["system_tags"], "archived"})
        return {"succeeded": [{"id": i, "archived": True} for i in body.get("ids") or []], "failed": []}
