"""A stand-in ClearML server for the tests: the REST API the SDK, clearml-agent and ClearML's tools
use, a file server, and faults. ``python -m tests.clearml_api --state-dir D`` runs it on its own."""

from .api import ApiError, ClearMLState
from .server import ACCESS_KEY, SECRET_KEY, ClearMLTestServer, running_server

__all__ = ["ACCESS_KEY", "SECRET_KEY", "ApiError", "ClearMLState", "ClearMLTestServer", "running_server"]
