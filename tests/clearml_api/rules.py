"""Request checks as the real server makes them before a handler runs (apimodels/*.py jsonmodels
models: 400/12; ``required_fields=`` endpoints: 400/11). Unknown extra fields are ignored, as there.
"""

from __future__ import annotations

from typing import Any

from .errors import bad_choice, field_required, missing_fields, validation

TASK_TYPES = (
    "training",
    "testing",
    "inference",
    "data_processing",
    "application",
    "monitor",
    "controller",
    "report",
    "optimizer",
    "service",
    "qc",
    "custom",
)
TASK_STATUSES = (
    "created",
    "queued",
    "in_progress",
    "stopped",
    "publishing",
    "published",
    "closed",
    "failed",
    "completed",
    "unknown",
)
EVENT_TYPES = ("training_stats_scalar", "training_stats_vector", "training_debug_image", "plot", "log")

# endpoint -> fields a jsonmodels request model requires (400/12)
REQUIRED: dict[str, tuple[str, ...]] = {
    "tasks.create": ("name", "type"),
    "tasks.get_by_id": ("task",),
    "tasks.edit": ("task",),
    "tasks.update": ("task",),
    "tasks.clone": ("task",),
    "tasks.reset": ("task",),
    "tasks.delete": ("task",),
    "tasks.enqueue": ("task",),
    "tasks.dequeue": ("task",),
    "tasks.stop": ("task",),
    "tasks.started": ("task",),
    "tasks.stopped": ("task",),
    "tasks.completed": ("task",),
    "tasks.failed": ("task",),
    "tasks.close": ("task",),
    "tasks.publish": ("task",),
    "tasks.ping": ("task",),
    "tasks.edit_hyper_params": ("task", "hyperparams"),
    "tasks.delete_hyper_params": ("task", "hyperparams"),
    "tasks.edit_configuration": ("task", "configuration"),
    "tasks.delete_configuration": ("task", "configuration"),
    "tasks.set_requirements": ("task", "requirements"),
    "tasks.add_or_update_model": ("task", "name", "model", "type"),
    "tasks.delete_models": ("task", "models"),
    "tasks.add_or_update_artifacts": ("task", "artifacts"),
    "tasks.delete_artifacts": ("task", "artifacts"),
    "tasks.archive": ("tasks",),
    "tasks.archive_many": ("ids",),
    "tasks.unarchive_many": ("ids",),
    "tasks.delete_many": ("ids",),
    "tasks.update_tags": ("ids",),
    "models.create": ("name", "uri"),
    "models.get_by_id": ("model",),
    "models.edit": ("model",),
    "models.update": ("model",),
    "models.delete": ("model",),
    "models.set_ready": ("model",),
    "events.get_task_events": ("task",),
    "events.get_task_log": ("task",),
    "events.scalar_metrics_iter_histogram": ("task",),
    "events.get_scalar_metrics_and_variants": ("task",),
    "events.get_task_plots": ("task",),
    "events.delete_for_task": ("task",),
    "events.delete_for_model": ("model",),
    "events.get_task_latest_scalar_values": ("task",),
    "projects.get_by_id": ("project",),
    "projects.update": ("project",),
    "projects.delete": ("project",),
    "queues.create": ("name",),
    "queues.get_by_id": ("queue",),
    "queues.get_next_task": ("queue",),
    "queues.add_task": ("queue", "task"),
    "queues.remove_task": ("queue", "task"),
    "queues.delete": ("queue",),
    "queues.peek_task": ("queue",),
    "queues.get_num_entries": ("queue",),
    "workers.register": ("worker",),
    "workers.unregister": ("worker",),
    "workers.status_report": ("worker", "timestamp"),
}
# endpoints declared with required_fields= (the older check, 400/11)
REQUIRED_FIELDS_OLD = {"projects.create": ("name",)}
# (endpoint, field) -> allowed values
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("tasks.create", "type"): TASK_TYPES,
    ("tasks.add_or_update_model", "type"): ("input", "output"),
    ("tasks.dequeue", "new_status"): TASK_STATUSES,
    ("tasks.edit_hyper_params", "replace_hyperparams"): ("none", "section", "all"),
    ("events.get_task_events", "event_type"): (*EVENT_TYPES, "*"),
    ("events.get_task_events", "order"): ("asc", "desc"),
    ("events.scalar_metrics_iter_histogram", "key"): ("iter", "timestamp", "iso_time"),
}
STRING_FIELDS = {"task", "queue", "model", "project", "name", "worker"}


def check_request(endpoint: str, body: Any) -> None:
    """Raise the error the real server gives a request that its model rejects."""
    if endpoint == "events.add_batch":
        return
    if not isinstance(body, dict):
        raise validation("request body must be a JSON object")
    missing = [f for f in REQUIRED_FIELDS_OLD.get(endpoint, ()) if body.get(f) is None]
    if missing:
        raise missing_fields(*missing)
    for field in REQUIRED.get(endpoint, ()):
        if body.get(field) is None:
            raise field_required(field)
        if field in STRING_FIELDS and not isinstance(body[field], str):
            raise validation(f"error for field '{field}': ('value is wrong, expected type \"str\"', {body[field]!r}).")
    for (name, field), allowed in CHOICES.items():
        if name == endpoint and body.get(field) is not None and body[field] not in allowed:
            raise bad_choice(field, body[field])
