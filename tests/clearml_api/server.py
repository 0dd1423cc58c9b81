"""A ClearML API server and file server on 127.0.0.1, for tests, with switchable faults.

It answers the real ``clearml`` SDK over HTTP exactly where a ClearML server would (``/v2.23/tasks.create``,
``POST /`` multipart uploads to the file server, ...). The state lives in a :class:`ClearMLState` that
tests read directly. Faults apply to both servers at once, as when the machine behind them goes:

- ``down()``: nothing listens (connection refused) until ``up()``, on the same ports;
- ``hang()``: connections are accepted and never answered;
- ``fail(status, count)``: error replies (e.g. 503, which the SDK retries, or 500, which it does not), for
  ``count`` requests or until changed;
- ``lose_replies(count)``: the next ``count`` API calls are applied, then their connection is dropped
  unanswered (the case in which a client's retry makes a duplicate);
- ``expire_tokens()``: every token issued so far is expired (401/30): the SDK logs in again;
- ``slow(seconds)``: every reply is delayed;
- ``die_after(n)``: goes down after ``n`` more API calls;
- ``hold_on(endpoint)``: the next ``endpoint`` call waits, unanswered, until ``up()``, then is applied and
  answered (a server stalled on one call that recovers);
- ``up()``: back to normal, keeping everything it holds (like a restarted server with its databases).
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import http.server
import json
import socket
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlparse

from .api import ApiError, ClearMLState
from .auth import API_VERSION
from .files import FileServer
from .task_lifecycle import WATCHDOG_INTERVAL_SEC, WATCHDOG_THRESHOLD_SEC

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key-not-for-logs"
HOLD_LIMIT = 600.0  # s: a held call is answered after this even without up(), so no handler waits forever


class _Faults:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mode = "up"  # up | hang | fail
        self.status = 503
        self.fail_left: int | None = None
        self.delay = 0.0
        self.die_after: int | None = None
        self.die_on: str | None = None
        self.hold_on: str | None = None
        self.lose_left = 0
        self.released = threading.Event()


class ClearMLTestServer:
    """API server + file server; see the module docstring for the fault switches."""

    def __init__(
        self,
        state_dir: Path | None = None,
        watchdog_threshold_sec: float = WATCHDOG_THRESHOLD_SEC,
        watchdog_interval_sec: float = WATCHDOG_INTERVAL_SEC,
    ) -> None:
        """``state_dir``: where the uploads are kept (a temporary folder, removed at ``stop()``, if None).
        ``watchdog_*``: the non-responsive Tasks watchdog's settings (the real server's defaults)."""
        self._watchdog = (watchdog_threshold_sec, watchdog_interval_sec)
        self._stopped = threading.Event()
        self._watchdog_thread: threading.Thread | None = None
        self._tmp = None if state_dir is not None else tempfile.TemporaryDirectory(prefix="clearml-test-server-")
        root = Path(state_dir) if state_dir is not None else Path(self._tmp.name)
        self.state = ClearMLState(ACCESS_KEY, SECRET_KEY, root / "files")
        self.file_server = FileServer(self.state.files, self.state)
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
        if self._watchdog_thread is None:  # once: up() starts listening again through here
            self._watchdog_thread = threading.Thread(target=self._watch_non_responsive_tasks, daemon=True)
            self._watchdog_thread.start()
        return self

    def _watch_non_responsive_tasks(self) -> None:
        """As the real server: sleep an interval, then stop the in_progress Tasks not updated for the threshold."""
        threshold, interval = self._watchdog
        while not self._stopped.wait(interval):
            with self.state.lock:
                self.state.stop_non_responsive_tasks(threshold)

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
        """Stop listening, drop every open connection, and remove a temporary upload folder."""
        self._stopped.set()
        self._close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _close(self) -> None:
        """Stop listening and drop every open connection (what ``down()`` does)."""
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
            self._close()

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

    def hold_on(self, endpoint: str) -> None:
        """Hold the next ``endpoint`` call (e.g. "tasks.create") unanswered until ``up()``, then answer it."""
        with self.faults.lock:
            self.faults.hold_on = endpoint

    def lose_replies(self, count: int = 1) -> None:
        """Apply the next ``count`` API calls, then drop their connections without an answer."""
        with self.faults.lock:
            self.faults.lose_left = count

    def expire_tokens(self) -> None:
        """Every token issued so far is expired from now on (401/30); new logins get valid ones."""
        with self.state.lock:
            self.state.tokens_expired_before = time.time()

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

    def _hold(self, endpoint: str) -> None:
        """Wait (bounded) for ``up()`` if this call is the one to hold."""
        with self.faults.lock:
            if self.faults.hold_on != endpoint:
                return
            self.faults.hold_on, released = None, self.faults.released
        released.wait(HOLD_LIMIT)

    def _reply_lost(self) -> bool:
        """Whether this (applied) call's reply is to be lost."""
        with self.faults.lock:
            if self.faults.lose_left > 0:
                self.faults.lose_left -= 1
                return True
        return False

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

        def _drop(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def _serve(self) -> None:
            body = self._body()
            fault = server._before_answer() if server._listening else "drop"
            if fault == "drop":
                self._drop()
                return
            if fault == "fail":
                status = server.faults.status
                if kind == "api":
                    self._meta(status, 0, "fault injected by the test server", "", "", {})
                else:
                    self._reply(status, b"fault injected by the test server", "text/plain")
                return
            if kind == "api":
                self._api(body)
            else:
                self._files(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve  # noqa: N815

        # ---- API ------------------------------------------------------------------------------------

        def _api(self, raw: bytes) -> None:
            path = urlparse(self.path).path.strip("/")
            version, _, endpoint = path.rpartition("/")
            version = version.lstrip("v")
            server._hold(endpoint)
            if not server._count_api_call(endpoint):
                self._drop()
                return
            try:
                if endpoint == "events.add_batch":
                    body: Any = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
                else:
                    body = json.loads(raw) if raw.strip() else {}
                data = server.state.handle(endpoint, body, self.headers.get("Authorization", ""), version or None)
            except ApiError as exc:
                self._meta(exc.code, exc.subcode, exc.message, endpoint, version, {})
                return
            except json.JSONDecodeError as exc:
                self._meta(400, 0, f"Failed to decode JSON object: {exc}", endpoint, version, {})
                return
            except Exception as exc:  # the real server answers 500 with the traceback (ServiceRepo.handle_call)
                self._meta(500, 0, str(exc), endpoint, version, {}, stack=traceback.format_exc())
                return
            if server._reply_lost():
                self._drop()
                return
            self._meta(200, 0, "OK", endpoint, version, data, stack="")

        def _meta(
            self, code: int, subcode: int, msg: str, endpoint: str, version: str, data: dict, stack: str | None = None
        ) -> None:
            call_id = uuid.uuid4().hex
            meta = {
                "id": call_id,
                "trx": self.headers.get("X-ClearML-Trx") or self.headers.get("X-Trains-Trx") or call_id,
                "endpoint": {
                    "name": endpoint,
                    "requested_version": version or API_VERSION,
                    "actual_version": "1.0" if server.state.handler(endpoint) else None,
                },
                "result_code": code,
                "result_subcode": subcode,
                "result_msg": msg,
                "error_stack": stack,
                "error_data": {},
            }
            self._reply(code, json.dumps({"meta": meta, "data": data}).encode())

        # ---- files ----------------------------------------------------------------------------------

        def _files(self, raw: bytes) -> None:
            path = unquote(urlparse(self.path).path.lstrip("/"))
            headers = {k: v for k, v in self.headers.items()}
            files = server.file_server
            with server.state.lock:
                if self.command in {"GET", "HEAD"}:
                    status, payload, content_type = files.get(path, headers)
                elif self.command == "DELETE":
                    status, payload, content_type = files.delete(path, headers)
                elif self.command == "POST" and path == "delete_many":
                    status, payload, content_type = files.delete_many(raw, headers)
                elif self.command == "POST":
                    status, payload, content_type = files.upload(self._parts(raw), headers)
                else:
                    status, payload, content_type = 405, b"Method Not Allowed", "text/plain"
            if self.command == "HEAD":
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                return
            self._reply(status, payload, content_type)

        def _parts(self, raw: bytes) -> list[tuple[str, bytes]]:
            header = f"Content-Type: {self.headers.get('Content-Type', '')}\r\n\r\n".encode()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + raw)
            return [
                (part.get_param("name", header="content-disposition") or "", part.get_payload(decode=True) or b"")
                for part in message.iter_parts()
            ]

    return Handler


@contextlib.contextmanager
def running_server() -> Iterator[ClearMLTestServer]:
    server = ClearMLTestServer().start()
    try:
        yield server
    finally:
        server.stop()
