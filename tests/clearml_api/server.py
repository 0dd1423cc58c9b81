"""A ClearML API server and file server on 127.0.0.1, for tests, with switchable faults.

It answers the real ``clearml`` SDK over HTTP exactly where a ClearML server would (``/v2.23/tasks.create``,
``POST /`` multipart uploads to the file server, ...). The state lives in a :class:`ClearMLState` that
tests read directly. Faults apply to both servers at once, as when the machine behind them goes:

- ``down()``: nothing listens (connection refused) until ``up()``, on the same ports;
- ``hang()``: connections are accepted and never answered;
- ``fail(status, count)``: error replies (e.g. 503, 500), for ``count`` requests or until changed;
- ``slow(seconds)``: every reply is delayed;
- ``die_after(n)``: goes down after ``n`` more API calls;
- ``up()``: back to normal, keeping everything it holds (like a restarted server with its databases).
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import http.server
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, Callable
from urllib.parse import unquote, urlparse

from .api import ApiError, ClearMLState

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key-not-for-logs"


class _Faults:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mode = "up"  # up | hang | fail
        self.status = 503
        self.fail_left: int | None = None
        self.delay = 0.0
        self.die_after: int | None = None
        self.die_on: str | None = None
        self.released = threading.Event()


class ClearMLTestServer:
    """API server + file server; see the module docstring for the fault switches."""

    def __init__(self) -> None:
        self.state = ClearMLState(ACCESS_KEY, SECRET_KEY)
        self.faults = _Faults()
        self.requests_seen = 0
        self._servers: dict[str, http.server.ThreadingHTTPServer] = {}
        self._threads: list[threading.Thread] = []
        self._ports: dict[str, int] = {}
        self._listening = False

    # ---- addresses ------------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._ports['api']}"

    @property
    def files_url(self) -> str:
        return f"http://127.0.0.1:{self._ports['files']}"

    def env(self) -> dict[str, str]:
        """The environment that points the SDK at this server."""
        return {
            "CLEARML_API_HOST": self.api_url,
            "CLEARML_WEB_HOST": self.api_url.replace("127.0.0.1", "localhost"),
            "CLEARML_FILES_HOST": self.files_url,
            "CLEARML_API_ACCESS_KEY": ACCESS_KEY,
            "CLEARML_API_SECRET_KEY": SECRET_KEY,
        }

    # ---- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> ClearMLTestServer:
        for kind in ("api", "files"):
            self._listen(kind, self._ports.get(kind, 0))
        self._listening = True
        return self

    def _listen(self, kind: str, port: int) -> None:
        handler = _handler(self, kind)
        http.server.ThreadingHTTPServer.allow_reuse_address = True
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        server.daemon_threads = True
        self._ports[kind] = server.server_address[1]
        self._servers[kind] = server
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Stop listening and drop every open connection (also what ``down()`` does)."""
        self.faults.released.set()  # hanging handlers give up their connections
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        self._servers.clear()
        for thread in self._threads:
            thread.join(5)
        self._threads.clear()
        self._listening = False

    # ---- faults ---------------------------------------------------------------------------------------

    def down(self) -> None:
        """Connection refused from now on, until ``up()``."""
        if self._listening:
            self.stop()

    def up(self) -> None:
        """Normal service again, on the same ports, with everything kept."""
        with self.faults.lock:
            self.faults.mode, self.faults.delay, self.faults.die_after = "up", 0.0, None
            self.faults.released.set()
            self.faults.released = threading.Event()
        if not self._listening:
            self.start()

    def hang(self) -> None:
        """Accept connections and never answer, until ``up()`` or ``down()``."""
        with self.faults.lock:
            self.faults.mode = "hang"

    def fail(self, status: int = 503, count: int | None = None) -> None:
        """Answer ``status`` to the next ``count`` requests (every request if None)."""
        with self.faults.lock:
            self.faults.mode, self.faults.status, self.faults.fail_left = "fail", status, count

    def slow(self, seconds: float) -> None:
        with self.faults.lock:
            self.faults.delay = seconds

    def die_on(self, endpoint: str) -> None:
        """Go down as the next ``endpoint`` call arrives (it gets no answer), e.g. "models.create"."""
        with self.faults.lock:
            self.faults.die_on = endpoint

    def die_after(self, requests: int) -> None:
        """Go down (connection refused) after ``requests`` more API calls."""
        with self.faults.lock:
            self.faults.die_after = requests

    # ---- waiting, for tests ---------------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.state.lock:
                if predicate():
                    return True
            time.sleep(interval)
        return False

    # ---- request handling -----------------------------------------------------------------------------

    def _before_answer(self) -> str | None:
        """Apply the fault mode to one request: None to answer normally, or "hang"/"fail"/"drop"."""
        faults = self.faults
        with faults.lock:
            mode, delay, released = faults.mode, faults.delay, faults.released
            if mode == "fail" and faults.fail_left is not None:
                faults.fail_left -= 1
                if faults.fail_left < 0:
                    faults.mode, mode = "up", "up"
        if delay:
            time.sleep(delay)
        if mode == "hang":
            released.wait()
            return "drop"
        return None if mode == "up" else mode

    def _count_api_call(self, endpoint: str) -> bool:
        """Count one API call; False when the server goes down on it instead of answering."""
        with self.faults.lock:
            self.requests_seen += 1
            if self.faults.die_on == endpoint:
                self.faults.die_on = None
                threading.Thread(target=self.down, daemon=True).start()
                return False
            if self.faults.die_after is not None:
                self.faults.die_after -= 1
                if self.faults.die_after <= 0:
                    self.faults.die_after = None
                    threading.Thread(target=self.down, daemon=True).start()
        return True


def _handler(server: ClearMLTestServer, kind: str) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _reply(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _serve(self) -> None:
            body = self._body()
            fault = server._before_answer() if server._listening else "drop"
            if fault == "drop":
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault == "fail":
                self._reply(server.faults.status, b'{"meta": {"result_code": 503, "result_msg": "fault"}}')
                return
            if kind == "api":
                self._api(body)
            else:
                self._files(body)

        do_GET = do_POST = do_PUT = _serve  # noqa: N815

        # ---- API ------------------------------------------------------------------------------------

        def _api(self, raw: bytes) -> None:
            path = urlparse(self.path).path.strip("/")
            version, _, endpoint = path.rpartition("/")
            if not server._count_api_call(endpoint):
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            try:
                if endpoint == "events.add_batch":
                    body: Any = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
                else:
                    body = json.loads(raw) if raw.strip() else {}
                data = server.state.handle(endpoint, body, self.headers.get("Authorization", ""))
                self._meta(200, 0, "OK", endpoint, version, data)
            except ApiError as exc:
                self._meta(exc.code, exc.subcode, exc.message, endpoint, version, {})
            except json.JSONDecodeError as exc:
                self._meta(400, 0, f"Invalid JSON: {exc}", endpoint, version, {})

        def _meta(self, code: int, subcode: int, msg: str, endpoint: str, version: str, data: dict) -> None:
            requested = version.lstrip("v") or None
            meta = {
                "id": uuid.uuid4().hex,
                "trx": uuid.uuid4().hex,
                "endpoint": {"name": endpoint, "requested_version": requested, "actual_version": "2.23"},
                "result_code": code,
                "result_subcode": subcode,
                "result_msg": msg,
                "error_stack": None,
                "error_data": {},
            }
            self._reply(code, json.dumps({"meta": meta, "data": data}).encode())

        # ---- files ----------------------------------------------------------------------------------

        def _files(self, raw: bytes) -> None:
            if self.command == "GET":
                key = unquote(urlparse(self.path).path.lstrip("/"))
                with server.state.lock:
                    content = server.state.files.get(key)
                if content is None:
                    self._reply(404, b"not found", "text/plain")
                else:
                    self._reply(200, content, "application/octet-stream")
                return
            header = f"Content-Type: {self.headers.get('Content-Type', '')}\r\n\r\n".encode()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + raw)
            stored = []
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name:
                    with server.state.lock:
                        server.state.files[name.lstrip("/")] = part.get_payload(decode=True) or b""
                    stored.append(name)
            self._reply(200, json.dumps(stored).encode())

    return Handler


@contextlib.contextmanager
def running_server() -> Iterator[ClearMLTestServer]:
    server = ClearMLTestServer().start()
    try:
        yield server
    finally:
        server.stop()
