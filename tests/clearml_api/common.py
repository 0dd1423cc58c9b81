"""Small helpers every service shares."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from .auth import USER
from .errors import COMPANY, name_too_short


def now() -> str:
    """An ISO 8601 UTC time, as the server's JSON gives datetimes."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_id() -> str:
    return uuid.uuid4().hex


def owned(**fields: object) -> dict:
    """The fields every stored entity carries: company, user, created, last_update."""
    stamp = now()
    return {"company": COMPANY, "user": USER["id"], "created": stamp, "last_update": stamp, **fields}


def valid_name(name: object) -> str:
    """A name as the server stores it (stripped), refused under 3 characters (400/800)."""
    text = str(name or "").strip()
    if len(text) < 3:
        raise name_too_short()
    return text
