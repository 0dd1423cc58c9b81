"""A stand-in ClearML server for the tests: the REST API the SDK uses, a file server, and faults."""

from .api import ApiError, ClearMLState
from .server import ACCESS_KEY, SECRET_KEY, ClearMLTestServer, running_server

__all__ = ["ACCESS_KEY", "SECRET_KEY", "ApiError", "ClearMLState", "ClearMLTestServer", "running_server"]
