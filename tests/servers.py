"""Local stand-ins for a ClearML server that is down or hangs (loopback only, bounded lifetimes)."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
from collections.abc import Iterator


def closed_port_url() -> str:
    """A URL on 127.0.0.1 whose port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def hanging_server() -> Iterator[str]:
    """A server that accepts connections and never answers, until the block ends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):  # the 0.2 s accept timeout, so the loop sees `stop`
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


@contextlib.contextmanager
def answering_server() -> Iterator[str]:
    """A plain HTTP server that answers every GET with 200."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"meta": {}, "data": {}}')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def configured_env(url: str, secret: str) -> dict[str, str]:
    """Environment that configures ClearML for a server at ``url``."""
    return {
        "CLEARML_API_HOST": url,
        "CLEARML_WEB_HOST": url,
        "CLEARML_FILES_HOST": url,
        "CLEARML_API_ACCESS_KEY": "test-access-key",
        "CLEARML_API_SECRET_KEY": secret,
    }
