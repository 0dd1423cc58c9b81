"""Authentication: ``auth.login`` tokens and their checks (services/auth.py, service_repo/auth/), and
``debug.ping``, ``server.info``, ``users.get_current_user``.

A token is an HS256 JWT with the claims the SDK reads (``api_version``, ``server_version``,
``feature_set``, ``exp``, ``identity``); it lasts ``expiration_sec`` (default 30 days, at most a year).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

from .errors import COMPANY, ApiError, error

API_VERSION = "2.31"  # the API version of clearml-server 2.0 (service_repo/service_repo.py _max_version)
SERVER_VERSION = "2.0.0"
USER = {"id": "test-user", "name": "Test User", "company": {"id": COMPANY, "name": "test"}}
DEFAULT_EXPIRATION_SEC = 30 * 24 * 3600
MAX_EXPIRATION_SEC = 365 * 24 * 3600
_SIGNING_KEY = b"test-server-signing-key"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(expiration_sec: int | None = None) -> str:
    now = int(time.time())
    payload = {
        "identity": {
            "company": COMPANY,
            "user": USER["id"],
            "role": "user",
            "user_name": USER["name"],
            "company_name": "test",
        },
        "iat": time.time(),
        "exp": now + int(expiration_sec or DEFAULT_EXPIRATION_SEC),
        "session_id": uuid.uuid4().hex,
        "env": "test",
        "auth_type": "Bearer",
        "api_version": API_VERSION,
        "server_version": SERVER_VERSION,
        "server_build": "",
        "feature_set": "basic",
    }
    signing = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(payload).encode())}"
    return f"{signing}.{_b64(hmac.new(_SIGNING_KEY, signing.encode(), hashlib.sha256).digest())}"


def token_claims(token: str, expired_before: float = 0.0) -> dict:
    """The claims of a valid token; 401/30 (as PyJWT words it) for a malformed, forged or expired one."""
    parts = token.split(".")
    if len(parts) != 3:
        raise error(401, 30, "Invalid token", "invalid jwt token", reason="Not enough segments")
    signing = f"{parts[0]}.{parts[1]}"
    expected = _b64(hmac.new(_SIGNING_KEY, signing.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(parts[2], expected):
        raise error(401, 30, "Invalid token", "invalid jwt token", reason="Signature verification failed")
    claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=="))
    if claims["exp"] <= time.time() or claims["iat"] < expired_before:
        raise error(401, 30, "Invalid token", "invalid jwt token", reason="Signature has expired")
    return claims


class AuthService:
    """auth.login, debug.ping, server.info, users.get_current_user."""

    credentials: tuple[str, str]
    tokens_expired_before: float

    def check_auth(self, endpoint: str, header: str) -> None:
        """401 as the server gives it: missing credentials, a bad scheme, bad credentials, a bad token."""
        if endpoint in {"debug.ping", "server.info"}:
            return
        scheme, _, value = header.partition(" ")
        if not header:
            raise error(401, 20, "Unauthorized", "missing credentials")
        if scheme == "Bearer":
            token_claims(value, self.tokens_expired_before)
            return
        if scheme != "Basic" or endpoint != "auth.login":
            raise error(401, 10, "Unauthorized", "bad authentication header type")
        try:
            key, _, secret = base64.b64decode(value).decode().partition(":")
        except Exception as exc:
            raise error(401, 21, "Unauthorized", f"malformed credentials) ({exc}") from None
        if (key, secret) != self.credentials:
            raise ApiError(401, 22, "Unauthorized (invalid credentials) (failed to locate provided credentials)")

    def _auth_login(self, body: dict) -> dict:
        expiration = body.get("expiration_sec")
        if expiration is not None and not (isinstance(expiration, int) and 0 < expiration <= MAX_EXPIRATION_SEC):
            raise error(400, 12, "Validation error", f"error for field 'expiration_sec': max {MAX_EXPIRATION_SEC}")
        return {"token": make_token(expiration)}

    def _debug_ping(self, body: dict) -> dict:
        return {"msg": "ClearML server", **(body or {})}

    def _server_info(self, body: dict) -> dict:
        return {"version": SERVER_VERSION, "build": "", "commit": "", "uid": COMPANY, "api_version": API_VERSION}

    def _users_get_current_user(self, body: dict) -> dict:
        return {"user": dict(USER), "getting_started": {}, "settings": {}}

    def _users_get_all(self, body: dict) -> dict:
        return {"users": [dict(USER)]}
