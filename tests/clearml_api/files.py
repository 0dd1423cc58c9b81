"""The file server (fileserver/fileserver.py, fileserver/auth.py): uploads kept on disk under a root.

- ``GET /`` answers "OK"; ``GET /<path>`` serves a file; ``POST /`` stores each multipart part under
  its form field name; ``DELETE /<path>`` deletes a file (the reply is the path as a JSON string);
  ``POST /delete_many`` deletes files and folders.
- Paths are joined as werkzeug's ``safe_join`` joins them: one that leaves the root is refused (404).
- Authentication is on, as the server's shipped configuration has it: a Bearer token from
  ``auth.login`` (or the ``clearml_token_basic`` cookie); ``GET /`` checks one only when it is sent.
"""

from __future__ import annotations

import json
import posixpath
import shutil
from pathlib import Path
from urllib.parse import unquote_plus

from .auth import token_claims
from .errors import ApiError


def safe_path(root: Path, path: str) -> Path | None:
    """``root/path``, or None when ``path`` would leave ``root`` (werkzeug.security.safe_join)."""
    normal = posixpath.normpath(path)
    if not path or normal.startswith(("/", "../")) or normal == ".." or "\\" in path:
        return None
    return root / normal


class FileStore:
    """The stored files, by path (what tests read back), on disk under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def get(self, path: str) -> bytes | None:
        target = safe_path(self.root, path)
        return target.read_bytes() if target is not None and target.is_file() else None

    def __contains__(self, path: str) -> bool:
        return self.get(path) is not None

    def put(self, path: str, content: bytes) -> str | None:
        target = safe_path(self.root, path.lstrip("/"))
        if target is None:
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        return path.lstrip("/")

    def keys(self) -> list[str]:
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())


class FileServer:
    """The file server's answers: (HTTP status, body, content type)."""

    def __init__(self, store: FileStore, state: object) -> None:
        self.store, self.state = store, state

    def authorized(self, headers: dict, required: bool = True) -> tuple[int, bytes] | None:
        """None when allowed, else the 401 reply."""
        header = headers.get("Authorization") or ""
        cookie = next(
            (
                c.split("=", 1)[1]
                for c in (headers.get("Cookie") or "").split("; ")
                if c.startswith("clearml_token_basic=")
            ),
            None,
        )
        if header and not header.startswith("Bearer "):
            return 401, b"Only bearer token authorization is supported"
        token = header[7:] if header else cookie
        if token is None:
            return (401, b"Unauthorized") if required else None
        try:
            token_claims(token, getattr(self.state, "tokens_expired_before", 0.0))
        except ApiError as exc:
            return 401, exc.message.encode()
        return None

    def get(self, path: str, headers: dict) -> tuple[int, bytes, str]:
        if path == "":
            denied = self.authorized(headers, required=False)
            return (*denied, "text/plain") if denied else (200, b"OK", "text/html; charset=utf-8")
        denied = self.authorized(headers)
        if denied:
            return (*denied, "text/plain")
        content = self.store.get(path)
        if content is None:
            return 404, b"Not Found", "text/html; charset=utf-8"
        return 200, content, "application/octet-stream"

    def upload(self, parts: list[tuple[str, bytes]], headers: dict) -> tuple[int, bytes, str]:
        denied = self.authorized(headers)
        if denied:
            return (*denied, "text/plain")
        stored = []
        for name, content in parts:
            if not name:
                continue
            path = self.store.put(name, content)
            if path is None:
                return 404, b"Not Found", "text/html; charset=utf-8"
            stored.append(path)
        return 200, json.dumps(stored).encode(), "text/html; charset=utf-8"

    def delete(self, path: str, headers: dict) -> tuple[int, bytes, str]:
        denied = self.authorized(headers)
        if denied:
            return (*denied, "text/plain")
        target = safe_path(self.store.root, path)
        if target is None or not target.is_file():
            return 404, f"File {path} not found".encode(), "text/plain"
        target.unlink()
        return 200, json.dumps(path).encode(), "application/json"

    def delete_many(self, body: bytes, headers: dict) -> tuple[int, bytes, str]:
        denied = self.authorized(headers)
        if denied:
            return (*denied, "text/plain")
        try:
            files = (json.loads(body) or {}).get("files")
        except ValueError:
            return 400, b"Json payload is missing", "text/plain"
        if not files:
            return 400, b"files are missing", "text/plain"
        deleted: dict[str, str] = {}
        errors: dict[str, list[str]] = {}
        for item in files:
            path = unquote_plus(item).strip("/")
            target = safe_path(self.store.root, path) if path else None
            if not path:
                errors.setdefault("Empty path not allowed", []).append(item)
            elif target is None or not target.exists():
                errors.setdefault("Not found", []).append(item)
            elif target.is_dir():
                shutil.rmtree(target)
                deleted[item] = path
            else:
                target.unlink()
                deleted[item] = path
        return 200, json.dumps({"deleted": deleted, "errors": errors}).encode(), "application/json"
