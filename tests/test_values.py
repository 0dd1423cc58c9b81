"""Metric values: numbers, numpy scalars and tensors are reported; NaN, inf and junk are skipped."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from yolo_clearml_patch import ConfigurationError
from yolo_clearml_patch.base import settings
from yolo_clearml_patch.clearml_side.once_logger import as_number


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1.0), (2.5, 2.5), (np.float32(0.25), 0.25), (torch.tensor(1.5), 1.5), (torch.tensor([3.0]), 3.0)],
)
def test_numbers_are_reported(value, expected):
    assert math.isclose(as_number(value), expected)


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), -float("inf"), torch.tensor(float("nan")), "abc", None, torch.ones(3)]
)
def test_non_finite_and_non_numbers_are_skipped(value):
    assert as_number(value) is None


@pytest.mark.parametrize("raw", ["abc", "0", "-3", "inf"])
def test_malformed_server_timeout_names_the_variable(raw, monkeypatch):
    monkeypatch.setenv("YOLO_CLEARML_SERVER_TIMEOUT", raw)
    with pytest.raises(ConfigurationError, match=r"YOLO_CLEARML_SERVER_TIMEOUT=.*positive number of seconds"):
        settings.server_timeout()


def test_server_timeout_default_and_env(monkeypatch):
    monkeypatch.delenv("YOLO_CLEARML_SERVER_TIMEOUT", raising=False)
    assert settings.server_timeout() == settings.DEFAULT_SERVER_TIMEOUT == 10.0
    monkeypatch.setenv("YOLO_CLEARML_SERVER_TIMEOUT", "2.5")
    assert settings.server_timeout() == 2.5
