"""A Task's lifecycle: status changes, stop, reset, clone, enqueue/dequeue, delete, archive
(bll/task/utils.py state machine, bll/task/task_operations.py, TaskBLL.clone_task)."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from .auth import USER
from .common import now
from .errors import error, invalid_status, invalid_task
from .tasks import new_task

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
WORKER_TASK_UPDATE_TIMEOUT = 600.0  # s: apiserver.workers.task_update_timeout
WATCHDOG_THRESHOLD_SEC = 7200.0  # services.tasks.non_responsive_tasks_watchdog.threshold_sec
WATCHDOG_INTERVAL_SEC = 900.0  # ... .watch_interval_sec


def _age(stamp: str | None) -> float:
    if not stamp:
        return float("inf")
    return (datetime.fromisoformat(now()) - datetime.fromisoformat(stamp)).total_seconds()


class TaskLifecycle:
    tasks: dict[str, dict]
    queues: dict[str, dict]
    models: dict[str, dict]

    def change_status(self, task: dict, new: str, body: dict, force: bool = False, **extra: Any) -> dict:
        current = task["status"]
        if not (force or body.get("force")) and new != current and new not in STATUS_CHANGES[current]:
            raise error(
                400, 110, "Invalid task status", "Invalid status change", current_status=current, new_status=new
            )
        stamp = now()
        fields = {
            "status": new,
            "status_reason": body.get("status_reason") or "",
            "status_message": body.get("status_message") or "",
            "status_changed": stamp,
            "last_update": stamp,
            "last_change": stamp,
            "last_changed_by": USER["id"],
            **extra,
        }
        task.update(fields)
        if new == "queued" and "development" in task["system_tags"]:
            task["system_tags"] = [t for t in task["system_tags"] if t != "development"]
        return {"updated": 1, "fields": fields}

    def _tasks_started(self, body: dict) -> dict:
        task = self.task(body["task"])
        result = self.change_status(task, "in_progress", body, started=task.get("started") or now())
        return {**result, "started": 1}

    def _tasks_stopped(self, body: dict) -> dict:
        return self.change_status(self.task(body["task"]), "stopped", body, completed=now())

    def _tasks_completed(self, body: dict) -> dict:
        result = self.change_status(self.task(body["task"]), "completed", body, completed=now())
        if body.get("publish"):
            self._tasks_publish({"task": body["task"], "force": True})
            return {**result, "published": 1}
        return {**result, "published": 0}

    def _tasks_failed(self, body: dict) -> dict:
        return self.change_status(self.task(body["task"]), "failed", body)

    def _tasks_close(self, body: dict) -> dict:
        return self.change_status(self.task(body["task"]), "closed", body)

    def _tasks_publish(self, body: dict) -> dict:
        task = self.task(body["task"])
        if task["status"] not in {"stopped", "closed", "failed", "completed", "published"} and not body.get("force"):
            raise invalid_status(expected="stopped", status=task["status"])
        self.change_status(task, "publishing", body, force=True)
        return self.change_status(task, "published", body, force=True, published=now())

    def stop_non_responsive_tasks(self, threshold_sec: float) -> int:
        """The server's non-responsive Tasks watchdog (bll/task/non_responsive_tasks_watchdog.py): every
        ``in_progress`` Task not updated for ``threshold_sec`` is stopped. Returns how many."""
        stopped = 0
        for task in self.tasks.values():
            if task["status"] == "in_progress" and _age(task.get("last_update")) > threshold_sec:
                stamp = now()
                task.update(
                    status="stopped",
                    status_reason="Forced stop (non-responsive)",
                    status_message="Forced stop (non-responsive)",
                    status_changed=stamp,
                    last_update=stamp,
                    last_change=stamp,
                    last_changed_by="__apiserver__",
                )
                stopped += 1
        return stopped

    def run_by_worker(self, task: dict) -> bool:
        """A worker runs it: it has a last worker, and was updated within the server's timeout."""
        return bool(task.get("last_worker")) and _age(task.get("last_update")) < WORKER_TASK_UPDATE_TIMEOUT

    def _tasks_stop(self, body: dict) -> dict:
        """The UI's Abort: a queued Task is dequeued and stopped; a development Task, or one no live
        worker runs, is stopped at once; a worker's Task only gets status_message "stopping"."""
        task = self.task(body["task"])
        if task["status"] == "queued" or "development" in task["system_tags"] or not self.run_by_worker(task):
            if task["status"] == "queued":
                self.remove_from_queues(task["id"])
            message = f"Stopped by {USER['name']}"
            return self.change_status(task, "stopped", {**body, "status_message": message})
        task.update(status_message="stopping", status_reason=body.get("status_reason") or "", last_change=now())
        return {"updated": 1, "fields": {"status_message": "stopping"}}

    def _tasks_reset(self, body: dict) -> dict:
        task = self.task(body["task"])
        if task["status"] == "published" and not body.get("force"):
            raise invalid_status(task_id=task["id"], status="published")
        dequeued = self.remove_from_queues(task["id"])
        deleted_models = self._drop_output_models(task, delete=body.get("delete_output_models", True))
        self.delete_events(task["id"])
        for field in ("started", "completed", "published", "last_worker", "last_worker_report", "active_duration"):
            task.pop(field, None)
        task.pop("enqueue_status", None)
        task["output"] = {"destination": task["output"].get("destination")}
        task.update(last_iteration=0, last_metrics={}, runtime={}, models={**task["models"], "output": []})
        if body.get("clear_all"):
            task["execution"] = {"parameters": {}, "model_labels": {}, "artifacts": [], "test_split": 0}
            task["script"] = {}
        else:
            execution = task["execution"]
            execution.pop("queue", None)
            execution["artifacts"] = [a for a in execution.get("artifacts") or [] if a.get("mode") == "input"]
        result = self.change_status(
            task, "created", {**body, "status_reason": "reset", "status_message": "reset"}, True
        )
        reply = {**result, "deleted_models": deleted_models, "urls": None}
        if dequeued:
            reply["dequeued"] = {"removed": dequeued}
        return reply

    def _drop_output_models(self, task: dict, delete: bool = True) -> int:
        """Draft output models of ``task`` are deleted, unless another Task uses them as input."""
        ids = {m["model"] for m in task["models"].get("output", [])}
        ids |= {m["id"] for m in self.models.values() if m.get("task") == task["id"]}
        deleted = 0
        for model_id in ids:
            model = self.models.get(model_id)
            in_use = any(
                model_id in {m.get("model") for m in t["models"].get("input", [])} for t in self.tasks.values()
            )
            if model is None or model.get("ready") or not delete:
                continue
            if in_use:
                model.pop("task", None)
            else:
                self.models.pop(model_id)
                self.delete_events(model_id)
                deleted += 1
        return deleted

    def _tasks_clone(self, body: dict) -> dict:
        original = self.task(body["task"])
        parent = body.get("new_task_parent") or (
            original["parent"]
            if original.get("parent") and not str(original["parent"]).startswith("__DELETED__")
            else original["id"]
        )
        if body.get("new_task_parent") and body["new_task_parent"] not in self.tasks:
            raise error(400, 101, "Invalid task id", "invalid parent", parent=body["new_task_parent"])
        project = body.get("new_task_project") or original.get("project")
        reply: dict = {}
        if body.get("new_project_name") and not body.get("new_task_project"):
            found = self._ensure_project(body["new_project_name"])
            project, reply["new_project"] = found["id"], {"id": found["id"], "name": found["name"]}
        elif body.get("new_task_project"):
            self.project(project)
        execution = copy.deepcopy(original["execution"])
        execution.update(copy.deepcopy(body.get("execution_overrides") or {}))
        execution.pop("queue", None)
        execution["artifacts"] = [a for a in execution.get("artifacts") or [] if a.get("mode") == "input"]
        dropped = {"development", "archived"}
        clone = new_task(
            {
                "name": body.get("new_task_name") or original["name"],
                "type": original["type"],
                "comment": body.get("new_task_comment") or original.get("comment"),
                "project": project,
                "parent": parent,
                "tags": body.get("new_task_tags") or original["tags"],
                "system_tags": body.get("new_task_system_tags")
                or [t for t in original["system_tags"] if t not in dropped],
            }
        )
        clone.update(
            script=copy.deepcopy(original["script"]),
            container=copy.deepcopy(body.get("new_task_container") or original.get("container") or {}),
            hyperparams=copy.deepcopy(body.get("new_task_hyperparams") or original["hyperparams"]),
            configuration=copy.deepcopy(body.get("new_task_configuration") or original["configuration"]),
            execution=execution,
            models={
                "input": copy.deepcopy(body.get("new_task_input_models") or original["models"]["input"]),
                "output": [],
            },
            output={"destination": original["output"].get("destination")},
        )
        self.tasks[clone["id"]] = clone
        return {"id": clone["id"], **reply}

    def _tasks_enqueue(self, body: dict) -> dict:
        if body.get("queue") and body.get("queue_name"):
            raise error(400, 12, "Validation error", "Either queue id or queue name should be provided")
        task = self.task(body["task"])
        if body.get("queue_name"):
            queue = self.queue_by_name(body["queue_name"]) or self._new_queue({"name": body["queue_name"]})
        elif body.get("queue"):
            queue = self.queue(body["queue"])
        else:
            queue = self.default_queue()
        previous = task["status"]
        enqueue_status = task.get("enqueue_status") if previous == "queued" else previous
        result = self.change_status(task, "queued", body, enqueue_status=enqueue_status)
        try:
            self.add_to_queue(queue, task["id"])
        except Exception:
            self.change_status(task, previous, {"status_reason": "failed enqueueing"}, force=True)
            task.pop("enqueue_status", None)
            raise
        task["execution"]["queue"] = queue["id"]
        fields = {**result["fields"], "execution.queue": queue["id"]}
        watched = any(queue["id"] in (w.get("queues") or []) for w in self.live_workers())
        return {"queued": 1, "updated": 1, "fields": fields, "queue_watched": watched}

    def _tasks_dequeue(self, body: dict) -> dict:
        task = self.tasks.get(body["task"])
        if task is None:
            self.remove_from_queues(body["task"])
            return {"dequeued": 1, "updated": 0}
        if task["status"] == "queued":
            self.remove_from_queues(task["id"])
        if task["status"] not in {"queued", "in_progress"}:
            return {"dequeued": 1, "updated": 0}
        new = body.get("new_status") or task.get("enqueue_status") or "created"
        result = self.change_status(task, new, body, force=True)
        task.pop("enqueue_status", None)
        task["execution"].pop("queue", None)
        return {"dequeued": 1, **result}

    def _tasks_delete(self, body: dict) -> dict:
        task = self.task(body["task"])
        if task["status"] != "created" and "archived" not in task["system_tags"] and not body.get("force"):
            raise error(
                400,
                123,
                "Task cannot be deleted",
                "due to status, use force=True",
                task=task["id"],
                expected="created",
                current=task["status"],
            )
        updated_children = 0
        for other in self.tasks.values():
            if other.get("parent") == task["id"]:
                other["parent"] = f"__DELETED__{task['id']}"
                updated_children += 1
        deleted_models = self._drop_output_models(task, body.get("delete_output_models", True))
        self.remove_task(task["id"])
        return {
            "deleted": True,
            "updated_children": updated_children,
            "updated_models": 0,
            "deleted_models": deleted_models,
            "urls": None,
        }

    def remove_task(self, task_id: str) -> None:
        self.remove_from_queues(task_id)
        self.delete_events(task_id)
        self.tasks.pop(task_id, None)

    def _archive(self, task: dict) -> None:
        if task["status"] == "queued":
            self.remove_from_queues(task["id"])
            self.change_status(task, task.get("enqueue_status") or "created", {}, force=True)
        elif task["status"] == "in_progress":
            self.change_status(task, "stopped", {}, force=True)
        task["system_tags"] = sorted({*task["system_tags"], "archived"})

    def _tasks_archive(self, body: dict) -> dict:
        tasks = [self.tasks.get(t) for t in body["tasks"]]
        missing = [t for t, found in zip(body["tasks"], tasks) if found is None]
        if missing:
            raise invalid_task(missing, many=True)
        for task in tasks:
            self._archive(task)
        return {"archived": len(tasks)}

    def _tasks_archive_many(self, body: dict) -> dict:
        succeeded, failed = [], []
        for task_id in body["ids"]:
            task = self.tasks.get(task_id)
            if task is None:
                failed.append({"id": task_id, "error": {"codes": [400, 101], "msg": "Invalid task id", "data": {}}})
            else:
                self._archive(task)
                succeeded.append({"id": task_id, "archived": True})
        return {"succeeded": succeeded, "failed": failed}

    def _tasks_unarchive_many(self, body: dict) -> dict:
        succeeded = []
        for task_id in body["ids"]:
            task = self.task(task_id, many=True)
            task["system_tags"] = [t for t in task["system_tags"] if t != "archived"]
            succeeded.append({"id": task_id, "unarchived": True})
        return {"succeeded": succeeded, "failed": []}

    def _tasks_update_tags(self, body: dict) -> dict:
        if not body.get("add_tags") and not body.get("remove_tags"):
            raise error(400, 12, "Validation error", "either add_tags or remove_tags should be provided")
        tasks = [self.task(t, many=True) for t in body["ids"]]
        for task in tasks:
            tags = set(task["tags"]) | set(body.get("add_tags") or [])
            task["tags"] = sorted(tags - set(body.get("remove_tags") or []))
        return {"updated": len(tasks)}
