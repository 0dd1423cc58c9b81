"""A bounded check that a ClearML API server answers, before ``Task.init`` can block on it."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request


def server_answers(api_host: str, timeout: float) -> tuple[bool, float]:
    """Whether ``api_host`` answers an HTTP request within ``timeout`` seconds, and the seconds waited.

    Any HTTP response below 500 counts as an answer (``debug.ping`` may be refused, 401). A closed
    port, a name that does not resolve, a server that accepts but never answers, and a 5xx reply (a
    server restarting behind its proxy) all count as no answer. The wait never exceeds ``timeout``: the
    request runs in a daemon thread that is abandoned if it is still blocked (in DNS, say).
    """
    outcome: list[bool] = []

    def probe() -> None:
        try:
            urllib.request.urlopen(f"{api_host.rstrip('/')}/debug.ping", timeout=timeout).close()
            outcome.append(True)
        except urllib.error.HTTPError as exc:
            outcome.append(exc.code < 500)  # the server answered, if with an error status
        except Exception:
            outcome.append(False)

    start = time.monotonic()
    thread = threading.Thread(target=probe, name="yolo_clearml_patch-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(outcome and outcome[0]), time.monotonic() - start
