"""Error replies as the real server words them (apiserver/apierrors/errors.conf, apierrors/base.py).

A message is the errors.conf text, then `` (<extra>)`` for an extra message, then ``: k=v, ...`` for
keyword details; a list value is shown as ``(a, b)``. The HTTP status equals the result code.
"""

from __future__ import annotations

from typing import Any

COMPANY = "test-company"


class ApiError(Exception):
    """An error reply: HTTP code, subcode and message, as the real server's ``meta``."""

    def __init__(self, code: int, subcode: int, message: str) -> None:
        super().__init__(message)
        self.code, self.subcode, self.message = code, subcode, message


def _value(value: Any) -> str:
    if isinstance(value, (list, tuple, set)):
        return f"({', '.join(map(str, value))})"
    return str(value)


def error(code: int, subcode: int, text: str, extra: str | None = None, **details: Any) -> ApiError:
    """An ApiError whose message is built as the real server builds it (apierrors/base.py)."""
    message = text + (f" ({extra})" if extra else "")
    if details:
        message += ": " + ", ".join(f"{k}={_value(v)}" for k, v in details.items())
    return ApiError(code, subcode, message)


def endpoint_not_found(endpoint: str, version: str) -> ApiError:
    return ApiError(404, 0, f"Unable to find endpoint for name {endpoint} and version {version}")


def field_required(field: str) -> ApiError:
    return error(400, 12, "Validation error", f"error for field '{field}'. field is required!")


def bad_choice(field: str, value: Any) -> ApiError:
    return error(400, 12, "Validation error", f"error for field '{field}': value '{value}' is not a valid choice.")


def validation(extra: str, **details: Any) -> ApiError:
    return error(400, 12, "Validation error", extra, **details)


def missing_fields(*fields: str) -> ApiError:
    return error(400, 11, "Missing required fields", missing=fields)


def name_too_short() -> ApiError:
    return error(400, 800, "Data validation error", name="String value is too short")


def invalid_task(task_id: Any, many: bool = False) -> ApiError:
    if many:
        return error(400, 101, "Invalid task id", ids=task_id if isinstance(task_id, (list, tuple)) else [task_id])
    return error(400, 101, "Invalid task id", id=task_id, company=COMPANY)


def invalid_status(**details: Any) -> ApiError:
    return error(400, 110, "Invalid task status", **details)


def invalid_project(project_id: Any) -> ApiError:
    return error(400, 401, "Invalid project id", id=project_id)


def invalid_reference(kind: str, value: Any, field: str) -> ApiError:
    return error(400, 16, f"Invalid value for fields (expecting {kind} id)", id=value, field=field)


def invalid_model(model_id: Any) -> ApiError:
    return error(400, 201, "Invalid model id", "no such public or company model", id=model_id, company=COMPANY)


def invalid_queue(queue_id: Any) -> ApiError:
    return error(400, 701, "Invalid queue id", id=queue_id, company=COMPANY)


def duplicate_name(name: str) -> ApiError:
    return error(400, 801, "Project with the same name already exists", name=name, company=COMPANY)


def unique_value(name: str) -> ApiError:
    return error(
        400,
        801,
        "Value combination already exists (unique field already contains this value)",
        name=name,
        company=COMPANY,
    )
