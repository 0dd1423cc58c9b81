"""queues.* and workers.* (services/queues.py, bll/queue/, services/workers.py, bll/workers/): what
clearml-agent's daemon needs to register, poll a queue, take a Task, run it and report.

A "default" queue exists from the start, as the server creates one for a company with none. Taking
a Task from a queue (``get_next_task``) does not change its status: the agent marks it started.
Workers expire after their timeout (600 s by default) without a status report.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from .auth import USER
from .common import new_id, now, valid_name
from .errors import COMPANY, error, invalid_queue, invalid_task, unique_value
from .queries import run_query

DEFAULT_WORKER_TIMEOUT = 600
QUEUE_LIST_FIELDS = {"id", "tags", "system_tags"}


class QueuesService:
    queues: dict[str, dict]
    workers: dict[str, dict]
    tasks: dict[str, dict]

    def queue(self, queue_id: Any) -> dict:
        queue = self.queues.get(queue_id) if isinstance(queue_id, str) else None
        if queue is None:
            raise invalid_queue(queue_id)
        return queue

    def queue_by_name(self, name: str) -> dict | None:
        return next((q for q in self.queues.values() if q["name"] == name), None)

    def _new_queue(self, body: dict) -> dict:
        name = valid_name(body["name"])
        if self.queue_by_name(name) is not None:
            raise unique_value(name)
        queue = {
            "id": new_id(),
            "name": name,
            "display_name": body.get("display_name"),
            "company": COMPANY,
            "created": now(),
            "last_update": now(),
            "tags": sorted(body.get("tags") or []),
            "system_tags": sorted(body.get("system_tags") or []),
            "entries": [],
            "metadata": copy.deepcopy(body.get("metadata") or {}),
        }
        self.queues[queue["id"]] = queue
        return queue

    def default_queue(self) -> dict:
        defaults = [q for q in self.queues.values() if "default" in q["system_tags"]]
        if not defaults:
            raise error(400, 707, "No queue is tagged as the default queue for this company")
        if len(defaults) > 1:
            raise error(
                400, 708, "More than one queue is tagged as the default queue", queues=[q["id"] for q in defaults]
            )
        return defaults[0]

    def add_to_queue(self, queue: dict, task_id: str) -> None:
        if any(e["task"] == task_id for e in queue["entries"]):
            raise error(400, 706, "Failed adding task to queue since task is already queued", task=task_id)
        for other in self.queues.values():
            other["entries"] = [e for e in other["entries"] if e["task"] != task_id]
        queue["entries"].append({"task": task_id, "added": now()})
        queue["last_update"] = now()

    def remove_from_queues(self, task_id: str) -> int:
        removed = 0
        for queue in self.queues.values():
            kept = [e for e in queue["entries"] if e["task"] != task_id]
            removed += len(queue["entries"]) - len(kept)
            queue["entries"] = kept
        return removed

    def _queues_create(self, body: dict) -> dict:
        return {"id": self._new_queue(body)["id"]}

    def _queues_get_by_id(self, body: dict) -> dict:
        return {"queue": copy.deepcopy(self.queue(body["queue"]))}

    def _queues_get_all(self, body: dict) -> dict:
        query = dict(body)
        items = list(self.queues.values())
        if not (query.get("search_hidden") or query.get("id") or query.get("name")):
            items = [q for q in items if "k8s-glue" not in q["system_tags"]]
        return {"queues": run_query(items, query, QUEUE_LIST_FIELDS, {"name"}, {"last_update"})}

    def _queues_get_all_ex(self, body: dict) -> dict:
        queues = self._queues_get_all(body)["queues"]
        for queue in queues:
            for entry in queue.get("entries") or []:
                task = self.tasks.get(entry["task"])
                entry["task"] = {"id": entry["task"], "name": task["name"] if task else None}
            listening = [w for w in self.live_workers() if queue["id"] in (w.get("queues") or [])]
            queue["workers"] = [
                {"name": w["id"], "ip": w.get("ip"), "key": w["key"], "task": w.get("task")} for w in listening
            ]
        return {"queues": queues}

    def _queues_get_default(self, body: dict) -> dict:
        queue = self.default_queue()
        return {"id": queue["id"], "name": queue["name"]}

    def _queues_get_next_task(self, body: dict) -> dict:
        queue = self.queue(body["queue"])
        if not queue["entries"] or (body.get("task") and queue["entries"][0]["task"] != body["task"]):
            return {}
        entry = queue["entries"].pop(0)
        task = self.tasks.get(entry["task"])
        if task is not None and task["status"] == "stopped":
            task["status"] = "queued"
        reply: dict = {"entry": entry}
        if body.get("get_task_info"):
            reply["task_info"] = {"company": COMPANY, "user": USER["id"]}
        return reply

    def _queues_add_task(self, body: dict) -> dict:
        queue = self.queue(body["queue"])
        self.add_to_queue(queue, body["task"])
        task = self.tasks.get(body["task"])
        if task is not None and body.get("update_execution_queue", True):
            task["execution"]["queue"] = queue["id"]
        return {"added": 1}

    def _queues_remove_task(self, body: dict) -> dict:
        queue = self.queue(body["queue"])
        if not any(e["task"] == body["task"] for e in queue["entries"]):
            raise error(
                400, 703, "Invalid queue id or task not in queue", task=body["task"], id=queue["id"], company=COMPANY
            )
        queue["entries"] = [e for e in queue["entries"] if e["task"] != body["task"]]
        task = self.tasks.get(body["task"])
        if task is not None and body.get("update_task_status"):
            self.change_status(task, task.get("enqueue_status") or "created", {}, force=True)
            task["execution"].pop("queue", None)
        return {"removed": 1}

    def _queues_delete(self, body: dict) -> dict:
        queue = self.queue(body["queue"])
        if queue["entries"] and not body.get("force"):
            raise error(400, 702, "Queue is not empty (use force=true to delete)", id=queue["id"])
        for entry in queue["entries"]:
            task = self.tasks.get(entry["task"])
            if task is not None:
                reason = {"status_reason": f"Queue {queue['id']} was deleted"}
                self.change_status(task, task.get("enqueue_status") or "created", reason, force=True)
        self.queues.pop(queue["id"])
        return {"deleted": 1}

    def _queues_peek_task(self, body: dict) -> dict:
        entries = self.queue(body["queue"])["entries"]
        return {"task": entries[0]["task"] if entries else None}

    def _queues_get_num_entries(self, body: dict) -> dict:
        return {"num": len(self.queue(body["queue"])["entries"])}

    def _queues_clear_queue(self, body: dict) -> dict:
        queue = self.queue(body["queue"])
        removed, queue["entries"] = [e["task"] for e in queue["entries"]], []
        return {"removed_tasks": removed}

    def _queues_get_queue_metrics(self, body: dict) -> dict:
        return {"queues": []}

    # ---- workers -----------------------------------------------------------------------------------

    def live_workers(self) -> list[dict]:
        """The workers whose registration has not timed out."""
        clock = time.time()
        for key in [k for k, w in self.workers.items() if w["_expires"] <= clock]:
            self.workers.pop(key)
        return [{k: v for k, v in w.items() if not k.startswith("_")} for w in self.workers.values()]

    def _save_worker(self, worker: dict, timeout: float) -> None:
        worker["_expires"] = time.time() + timeout
        self.workers[worker["id"]] = worker

    def _workers_register(self, body: dict) -> dict:
        timeout = body.get("timeout", DEFAULT_WORKER_TIMEOUT)
        if timeout is None or timeout <= 0:
            raise error(400, 1002, "Worker timeout must be positive", timeout=timeout)
        unknown = [q for q in body.get("queues") or [] if q not in self.queues]
        if unknown:
            raise error(400, 701, "Invalid queue id", ids=unknown)
        stamp = now()
        worker = {
            "key": f"worker_{COMPANY}_{USER['id']}_{body['worker']}",
            "id": body["worker"],
            "user": {"id": USER["id"], "name": USER["name"]},
            "company": {"id": COMPANY, "name": "test"},
            "ip": "127.0.0.1",
            "queues": list(body.get("queues") or []),
            "register_time": stamp,
            "register_timeout": timeout,
            "last_activity_time": stamp,
            "tags": body.get("tags") or [],
            "system_tags": body.get("system_tags") or [],
        }
        self._save_worker(worker, timeout)
        return {}

    def _workers_unregister(self, body: dict) -> dict:
        self.workers.pop(body["worker"], None)
        return {}

    def _workers_status_report(self, body: dict) -> dict:
        self.live_workers()
        worker = self.workers.get(body["worker"])
        if worker is None:
            self._workers_register({"worker": body["worker"]})
            worker = self.workers[body["worker"]]
        stamp = now()
        worker.update(last_activity_time=stamp, last_report_time=stamp, queue=body.get("queue"))
        if body.get("queues") is not None:
            worker["queues"] = list(body["queues"])
        if body.get("task"):
            task = self.tasks.get(body["task"])
            if task is None:
                raise invalid_task(body["task"])
            task.update(last_worker=body["worker"], last_worker_report=stamp, last_update=stamp, last_change=stamp)
            worker["task"] = {"id": task["id"], "name": task["name"]}
            project = self.projects.get(task.get("project") or "")
            worker["project"] = {"id": project["id"], "name": project["name"]} if project else None
        else:
            worker["task"], worker["project"] = None, None
        self._save_worker(worker, worker["register_timeout"])
        return {}

    def _workers_get_all(self, body: dict) -> dict:
        workers = []  # every live worker was seen within its timeout, far under last_seen's default hour
        for worker in self.live_workers():
            queues = [self.queues[q] for q in worker.get("queues") or [] if q in self.queues]
            worker["queues"] = [
                {
                    "id": q["id"],
                    "name": q["name"],
                    "display_name": q.get("display_name"),
                    "num_tasks": len(q["entries"]),
                }
                for q in queues
            ]
            # the queue it runs a Task from: that queue's entry, when it is among its queues (bll/workers:
            # WorkerConversionHelper); the stored value is the id the status report gave
            worker["queue"] = next((q for q in worker["queues"] if q["id"] == worker.get("queue")), None)
            if worker.get("task") and worker["task"]["id"] in self.tasks:
                task = self.tasks[worker["task"]["id"]]
                worker["task"] = {**worker["task"], "running_time": 0, "last_iteration": task.get("last_iteration")}
            workers.append(worker)
        return {"workers": workers}
