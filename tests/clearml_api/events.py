"""events.* (services/events.py, bll/event/event_bll.py, events_iterator.py, event_metrics.py).

- Events are keyed as the server keys them: md5 of task, iter, metric, variant and key, so a
  repeated metric event overwrites (log events are appended). Each accepted scalar updates the
  Task's (or model's) ``last_metrics``: last, min, max and first value with their iterations,
  count and mean, under md5 keys of the metric and variant.
- Model events (``model_event``) carry the model id in ``model`` or ``task``; a published Task or a
  ready model accepts no events.
- ``get_task_events`` pages by iteration: ``batch_size`` events plus every other event of the last
  iteration; the next page starts after that iteration, except that a position at iteration 0 counts
  as no position (the server tests it for truth), so the scroll starts over.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import math
import struct
import time
import uuid
from collections import Counter, defaultdict
from typing import Any

from .auth import USER
from .common import now
from .errors import ApiError, error, invalid_task
from .rules import EVENT_TYPES

EVENT_ID_FIELDS = ("task", "iter", "metric", "variant", "key")
IGNORED_ITERATION_METRICS = {":monitor:machine", ":monitor:gpu"}
MAX_ITERATION = 2**63 - 1
SINGLE_VALUE_ITERATION = -(2**31)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def as_float32(value: float) -> float:
    """What Elasticsearch's float field gives back for ``value``."""
    return struct.unpack("f", struct.pack("f", value))[0]


def _encode_scroll(state: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _decode_scroll(scroll_id: str) -> dict:
    try:
        return json.loads(base64.urlsafe_b64decode(scroll_id.encode()))
    except Exception:
        raise error(400, 1104, "Invalid scroll id", scroll_id=scroll_id) from None


class EventsService:
    tasks: dict[str, dict]
    models: dict[str, dict]
    events: dict[str, dict]
    logs: list[dict]
    event_receipts: Counter

    # ---- adding ------------------------------------------------------------------------------------

    def _events_add(self, body: dict) -> dict:
        return self._add_events([dict(body)])

    def _events_add_batch(self, body: Any) -> dict:
        if not body:
            raise error(400, 17, "Batch request contains no items")
        return self._add_events([dict(e) for e in body])

    def _entity_valid(self, entity_id: Any, model: bool, allow_locked: bool) -> bool:
        if model:
            found = self.models.get(entity_id)
            return found is not None and (allow_locked or not found.get("ready"))
        found = self.tasks.get(entity_id)
        return found is not None and (allow_locked or found["status"] not in {"publishing", "published"})

    def _add_events(self, events: list[dict]) -> dict:
        modes: dict[str, tuple[bool, bool]] = {}
        for event in events:
            if event.get("model_event"):
                model = event.pop("model", None)
                if model is not None:
                    event["task"] = model
            else:
                event["model_event"] = False
            allow_locked = bool(event.pop("allow_locked", False))
            entity = event.get("task")
            if not entity:
                continue
            mode = (bool(event["model_event"]), allow_locked)
            if modes.setdefault(entity, mode) != mode:
                which = "model_event" if modes[entity][0] != mode[0] else "allow_locked"
                raise error(400, 12, "Validation error", f"Inconsistent {which} setting in the passed events")
        errors: Counter = Counter()
        accepted: list[dict] = []
        for event in events:
            kind = str(event.get("type") or "").replace(" ", "_")
            entity = event.get("task")
            if not event.get("type"):
                errors["Event must have a 'type' field"] += 1
            elif kind not in EVENT_TYPES:
                errors[f"Invalid event type {kind}"] += 1
            elif event["model_event"] and kind == "log":
                errors["Task log events are not supported for models"] += 1
            elif entity is None:
                errors["Event must have a 'task' field"] += 1
            elif not self._entity_valid(entity, event["model_event"], modes.get(entity, (False, False))[1]):
                errors[f"Invalid {'model' if event['model_event'] else 'task'} id {entity}"] += 1
            elif event.get("iter") is not None and abs(int(event["iter"])) > MAX_ITERATION:
                errors[f"Iteration number should not exceed {MAX_ITERATION}"] += 1
            else:
                accepted.append(self._stored(event, kind))
        for event in accepted:
            if event["type"] == "log":
                self.logs.append(event)
            else:
                key = md5("-".join(str(event[f]) for f in EVENT_ID_FIELDS if f in event))
                self.events[key] = event
                self.event_receipts[key] += 1
        self._update_entities(accepted)
        if not accepted:
            raise error(400, 131, "Events not added", **dict(errors))
        return {"added": len(accepted), "errors": sum(errors.values()), "errors_info": dict(errors)}

    def _stored(self, event: dict, kind: str) -> dict:
        event = copy.deepcopy(event)
        event["type"] = kind
        event["@timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        if "ts" in event:
            event["timestamp"] = event.pop("ts")
        event.setdefault("timestamp", int(time.time() * 1000))
        event.setdefault("worker", "<unknown>")
        if event.get("iter") is not None:
            event["iter"] = int(event["iter"])
        if "values" in event:
            event["value"] = event.pop("values")
        event["metric"] = event.get("metric") or ""
        event["variant"] = event.get("variant") or ""
        event.pop("x_axis_label", None)
        if kind == "log":
            event["_id"] = uuid.uuid4().hex
        if kind == "plot":
            event["plot_len"] = len(event.get("plot_str") or "")
        return event

    def _update_entities(self, events: list[dict]) -> None:
        """last_metrics, last_iteration and last_update of every Task and model that got events."""
        by_entity: dict[str, list[dict]] = defaultdict(list)
        for event in events:
            by_entity[event["task"]].append(event)
        for entity_id, batch in by_entity.items():
            model = batch[0]["model_event"]
            doc = self.models[entity_id] if model else self.tasks[entity_id]
            iterations = [
                e["iter"] for e in batch if e.get("iter") is not None and e["metric"] not in IGNORED_ITERATION_METRICS
            ]
            if iterations:
                doc["last_iteration"] = max(doc.get("last_iteration") or 0, max(0, *iterations))
            self._update_last_metrics(doc, [e for e in batch if e["type"] == "training_stats_scalar"])
            stamp = now()
            doc["last_update"] = doc["last_change"] = stamp
            doc["last_changed_by"] = USER["id"]

    def _update_last_metrics(self, doc: dict, scalars: list[dict]) -> None:
        groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for event in scalars:
            if event.get("value") is not None:
                groups[(event["metric"], event["variant"])].append(event)
        for (metric, variant), group in groups.items():
            stored = doc.setdefault("last_metrics", {}).setdefault(md5(metric), {}).get(md5(variant))
            latest = group[0]
            first = group[0]
            low, high = group[0], group[0]
            for event in group:
                if (event.get("iter") or 0, event.get("timestamp") or 0) >= (
                    latest.get("iter") or 0,
                    latest.get("timestamp") or 0,
                ):
                    latest = event
                if (event.get("iter") or 0) < (first.get("iter") or 0):
                    first = event
                low = event if event["value"] < low["value"] else low
                high = event if event["value"] > high["value"] else high
            entry = dict(stored or {})
            entry.update(metric=metric, variant=variant, value=latest["value"])
            if entry.get("min_value") is None or entry["min_value"] > low["value"]:
                entry.update(min_value=low["value"], min_value_iteration=low.get("iter"))
            if entry.get("max_value") is None or entry["max_value"] < high["value"]:
                entry.update(max_value=high["value"], max_value_iteration=high.get("iter"))
            if entry.get("first_value") is None:
                entry.update(first_value=first["value"], first_value_iteration=first.get("iter"))
            count = (entry.get("count") or 0) + len(group)
            total = (entry.get("mean_value") or 0) * (entry.get("count") or 0) + sum(e["value"] for e in group)
            entry.update(count=count, mean_value=round(total / count, 2))
            doc["last_metrics"][md5(metric)][md5(variant)] = entry

    # ---- reading -----------------------------------------------------------------------------------

    def _owner(self, body: dict) -> None:
        if body.get("model_events"):
            self.model(body["task"])
        elif body["task"] not in self.tasks:
            raise invalid_task([body["task"]], many=True)

    def _selected(self, task_id: str, event_type: str | None, metrics: Any) -> list[dict]:
        pool = [*self.events.values(), *self.logs]
        wanted = metrics or []

        def metric_ok(event: dict) -> bool:
            if not wanted:
                return True
            for item in wanted:
                variants = item.get("variants") or []
                if event.get("metric") == item.get("metric") and (not variants or event.get("variant") in variants):
                    return True
            return False

        return [
            e
            for e in pool
            if e.get("task") == task_id and (event_type in (None, "*") or e["type"] == event_type) and metric_ok(e)
        ]

    def _events_get_task_events(self, body: dict) -> dict:
        self._owner(body)
        if body.get("scroll_id"):
            scroll = _decode_scroll(body["scroll_id"])
            if scroll["from"] is None:
                return {"events": [], "returned": 0, "total": scroll["total"], "scroll_id": body["scroll_id"]}
            request = {**scroll["request"], "batch_size": body.get("batch_size") or 500}
            position, total = int(scroll["from"]), scroll["total"]
        else:
            request = {k: body.get(k) for k in ("task", "event_type", "metrics", "order", "count_total")}
            request["batch_size"] = body.get("batch_size") or 500
            position, total = None, None
        descending = request.get("order") == "desc"
        found = self._selected(request["task"], request.get("event_type"), request.get("metrics"))
        if request.get("count_total", True) is not False and total is None:
            total = len(found)
        with_iter = [e for e in found if e.get("iter") is not None]
        without_iter = [e for e in found if e.get("iter") is None]
        with_iter.sort(key=lambda e: e["iter"], reverse=descending)
        ordered = with_iter + without_iter  # missing values sort last, both ways
        if position:  # a position of 0 is no position: the scroll starts over (events_iterator.py)
            ordered = [
                e
                for e in ordered
                if e.get("iter") is None or (e["iter"] < position if descending else e["iter"] > position)
            ]
        page = ordered[: min(int(request["batch_size"]), 200_000)]
        if page:
            if "iter" not in page[-1]:
                raise ApiError(500, 0, "'iter'")  # the server's KeyError on an event with no iteration
            last = page[-1]["iter"]
            page += [e for e in ordered[len(page) :] if e.get("iter") == last]
        state = {"from": page[-1]["iter"] if page else None, "total": total, "request": request}
        events = [{k: v for k, v in e.items() if k != "_id"} for e in page]
        return {
            "events": copy.deepcopy(events),
            "returned": len(events),
            "total": total,
            "scroll_id": _encode_scroll(state),
        }

    def _events_scalar_metrics_iter_histogram(self, body: dict) -> dict:
        self._owner(body)
        samples = body.get("samples") or 2000
        if not 1 <= samples <= 6000:
            raise error(400, 12, "Validation error", "samples should be between 1 and 6000")
        key = body.get("key") or "iter"
        events = [
            e
            for e in self._selected(body["task"], "training_stats_scalar", body.get("metrics"))
            if e.get("iter") is not None and e["iter"] > SINGLE_VALUE_ITERATION
        ]
        grouped: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
        for event in events:
            grouped[event["metric"]][event["variant"]].append(event)
        doc = self.models.get(body["task"]) if body.get("model_events") else self.tasks.get(body["task"])
        result: dict = {}
        for metric in sorted(grouped):
            result[metric] = {}
            for variant in sorted(grouped[metric]):
                points = [(self._key_of(e, key), e["value"]) for e in grouped[metric][variant]]
                xs = [x for x, _ in points]
                interval = 1 if len(points) < samples else math.ceil((max(xs) - min(xs) + 1) / samples)
                buckets: dict[Any, list[float]] = defaultdict(list)
                for x, y in points:
                    buckets[(x // interval) * interval if key != "iso_time" else x].append(as_float32(y))
                xs_sorted = sorted(buckets)
                series = {"name": variant, "x": xs_sorted, "y": [sum(buckets[x]) / len(buckets[x]) for x in xs_sorted]}
                label = ((doc or {}).get("last_metrics", {}).get(md5(metric), {}).get(md5(variant)) or {}).get(
                    "x_axis_label"
                )
                if label:
                    series["x_axis_label"] = label
                result[metric][variant] = series
        return result

    @staticmethod
    def _key_of(event: dict, key: str) -> Any:
        if key == "iter":
            return int(event["iter"])
        if key == "timestamp":
            return int(event["timestamp"])
        return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(int(event["timestamp"]) / 1000))

    def _events_get_scalar_metrics_and_variants(self, body: dict) -> dict:
        self._owner(body)
        metrics: dict[str, set] = defaultdict(set)
        for event in self._selected(body["task"], "training_stats_scalar", None):
            metrics[event["metric"]].add(event["variant"])
        return {"metrics": {m: sorted(v) for m, v in sorted(metrics.items())}}

    def _events_get_task_metrics(self, body: dict) -> dict:
        result = []
        for task_id in body.get("tasks") or []:
            found = self._selected(task_id, body.get("event_type"), None)
            names = sorted(
                {e["metric"] for e in found if e.get("iter") is not None and e["iter"] > SINGLE_VALUE_ITERATION}
            )
            result.append({"task": task_id, "metrics": names})
        return {"metrics": result}

    def _events_get_task_log(self, body: dict) -> dict:
        self._owner(body)
        logs = [e for e in self.logs if e.get("task") == body["task"]]
        earlier = body.get("navigate_earlier", True)
        logs.sort(key=lambda e: e.get("timestamp") or 0, reverse=earlier)
        if body.get("from_timestamp"):
            stamp = body["from_timestamp"]
            logs = [e for e in logs if (e["timestamp"] < stamp if earlier else e["timestamp"] > stamp)]
        page = logs[: body.get("batch_size") or 5000]
        if (earlier and body.get("order") == "asc") or (not earlier and body.get("order") == "desc"):
            page.reverse()
        events = [{k: v for k, v in e.items() if k != "_id"} for e in page]
        return {"events": copy.deepcopy(events), "returned": len(events), "total": len(logs)}

    def _events_get_task_plots(self, body: dict) -> dict:
        self._owner(body)
        latest: dict[tuple, list[dict]] = defaultdict(list)
        for event in self._selected(body["task"], "plot", body.get("metrics")):
            latest[(event["metric"], event["variant"])].append(event)
        plots = []
        for key in sorted(latest):
            plots += sorted(latest[key], key=lambda e: -(e.get("iter") or 0))[: body.get("iters") or 1]
        return {"plots": copy.deepcopy(plots), "returned": len(plots), "total": len(plots), "scroll_id": None}

    def delete_events(self, entity_id: str) -> int:
        doomed = [k for k, e in self.events.items() if e.get("task") == entity_id]
        for key in doomed:
            self.events.pop(key)
            self.event_receipts.pop(key, None)
        logs = len(self.logs)
        self.logs[:] = [e for e in self.logs if e.get("task") != entity_id]
        return len(doomed) + logs - len(self.logs)

    def _events_delete_for_task(self, body: dict) -> dict:
        task = self.task(body["task"])
        if task["status"] in {"publishing", "published"} and not body.get("allow_locked"):
            raise error(400, 101, "Invalid task id", "Cannot update events for a published task")
        return {"deleted": self.delete_events(task["id"])}

    def _events_delete_for_model(self, body: dict) -> dict:
        model = self.model(body["model"])
        if model.get("ready") and not body.get("allow_locked"):
            raise error(400, 201, "Invalid model id", "Cannot update events for a published model")
        return {"deleted": self.delete_events(model["id"])}
