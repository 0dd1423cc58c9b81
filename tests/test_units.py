"""Small pure pieces: remote value typing, when remote edits apply, the curve series cap."""

from __future__ import annotations

import numpy as np
import pytest

from yolo_clearml_patch.reporting import native_plots
from yolo_clearml_patch.ultralytics_side import remote_overrides


def test_remote_values_are_never_evaluated(tmp_path):
    """A string edited in the ClearML UI must not run as code on the training machine."""
    marker = tmp_path / "evaluated"
    code = f"__import__('pathlib').Path({str(marker)!r}).write_text('x')"
    for local in (None, 16, 0.01, True):
        assert remote_overrides.typed(code, local) == code  # kept as the string it is
    assert remote_overrides.typed("1e-3", 0.01) == 0.001 and remote_overrides.typed("NONE", 1) is None
    assert not marker.exists()


@pytest.mark.parametrize(
    ("value", "local", "expected"),
    [
        ("None", None, None),  # ClearML sends None back as the string "None"
        ("", None, None),
        ("0.5", None, 0.5),
        ("False", True, False),
        ("true", False, True),
        ("4", 16, 4),
        (4, 16, 4),  # already typed by ClearML
        ("cpu", "0", "cpu"),  # strings stay strings
        ("None", "cpu", None),
        ("[0, 1]", None, [0, 1]),
    ],
)
def test_remote_values_are_typed_like_ultralytics_cli(value, local, expected):
    assert remote_overrides.typed(value, local) == expected


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, False), ({"CLEARML_TASK_ID": "abc"}, True), ({"YOLO_CLEARML_REMOTE_OVERRIDES": "1"}, True)],
)
def test_remote_edits_apply_under_an_agent_or_when_asked(env, expected, monkeypatch):
    for var in ("CLEARML_TASK_ID", "TRAINS_TASK_ID", "YOLO_CLEARML_REMOTE_OVERRIDES"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert remote_overrides.wanted() is expected


def test_curves_show_every_class_up_to_the_cap():
    assert native_plots.classes_to_plot(np.arange(5), np.linspace(0, 1, 5)) == [0, 1, 2, 3, 4]


def test_curves_show_the_best_classes_beyond_the_cap():
    ap = np.arange(300) % 37 / 37  # 300 classes
    rows = native_plots.classes_to_plot(np.arange(300), ap)
    assert len(rows) == native_plots.MAX_CLASS_SERIES == 20
    assert min(ap[rows]) >= max(np.delete(ap, rows))  # no class left out beats one shown


@pytest.mark.parametrize(
    ("device", "local_rank", "expected"),
    [("0,1", None, True), ("0", None, False), ("cpu", None, False), ([0, 1], None, True), ("0,1", "0", False)],
)
def test_ddp_launch_detected_from_the_device_before_ultralytics_8_4(device, local_rank, expected, monkeypatch):
    from types import SimpleNamespace

    from yolo_clearml_patch.ultralytics_side.ddp import launches_ddp

    monkeypatch.delenv("LOCAL_RANK", raising=False)
    if local_rank is not None:
        monkeypatch.setenv("LOCAL_RANK", local_rank)
    assert launches_ddp(SimpleNamespace(args=SimpleNamespace(device=device))) is expected
    assert launches_ddp(SimpleNamespace(ddp=True, args=SimpleNamespace(device="cpu"))) is True  # 8.4+
