"""``python -m tests.clearml_api --state-dir D``: the test server on its own, in the foreground.
(``python tests/clearml_api --state-dir D`` too, where an installed package named ``tests`` shadows
this folder: the Ultralytics 8.3.0 wheel ships one.)

It writes ``D/server.json`` (``{"env": {CLEARML_API_HOST: ..., ...}}``: the variables that point the
SDK, clearml-agent and ClearML's command-line tools at it), keeps its uploads under ``D/files``, and
runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

if __package__:
    from .server import ClearMLTestServer
else:  # run by path: import this folder as the package it is
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from clearml_api.server import ClearMLTestServer


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.clearml_api", description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", required=True, type=Path, help="where server.json and the uploads go")
    args = parser.parse_args()
    args.state_dir.mkdir(parents=True, exist_ok=True)
    server = ClearMLTestServer(state_dir=args.state_dir).start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    info = args.state_dir / "server.json"
    temporary = info.with_suffix(".tmp")
    temporary.write_text(json.dumps({"env": server.env()}, indent=2) + "\n")
    temporary.replace(info)  # whole or not at all: a reader never sees half of it
    print(f"ClearML test server: {server.api_url} (files {server.files_url}); state in {args.state_dir}", flush=True)
    try:
        stop.wait()
    finally:
        server.stop()
        info.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
