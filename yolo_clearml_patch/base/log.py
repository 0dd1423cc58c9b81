"""The shim's logger, created on first use so that importing the package stays cheap."""

from __future__ import annotations

import logging

_NAME = "yolo_clearml_patch"


def logger() -> logging.Logger:
    """Return the package logger, with a stderr handler if the application configured none."""
    log = logging.getLogger(_NAME)
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(f"{_NAME}: %(levelname)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log
