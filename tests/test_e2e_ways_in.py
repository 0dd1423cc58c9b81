"""End to end: each way of turning the shim on reports a real training into ClearML's offline session."""

from __future__ import annotations

import pytest
from expectations import assert_complete
from synthetic_data import CLASS_NAMES


@pytest.mark.parametrize("way", ["runner", "import", "pth"])
def test_each_way_in_reports_everything_once(train, way, home, tmp_path):
    off = way == "pth"  # and the worst images turned off there
    result = train(way, env={"YOLO_CLEARML_WORST_IMAGES": "0"} if off else None)
    result.assert_finished()
    worst = result.session.images("Worst images")
    assert not worst if off else {i for _, i in worst} == {0, 1, 2}  # 2 epochs and the final validation
    # nothing written outside the run directory, ClearML's cache, Ultralytics' settings (and the font
    # cache matplotlib keeps when Ultralytics 8.3 imports it)
    assert {p.name for p in tmp_path.iterdir()} == {"home", "runs"}
    assert {p.name for p in home.iterdir()} <= {".clearml", ".config", ".cache"}
    assert {p.name for p in (home / ".cache").glob("*")} <= {"matplotlib"}
    assert result.marker("UPSTREAM_CLEARML_ACTIVE") == "True"  # so "nothing twice" is a real check
    assert_complete(result.session, result.run_dir)
    assert "Task.import_offline_session(" in result.output  # the user is told how to import the run


def test_shim_reports_everything_upstream_reports(train):
    # threads, as the shim's Tasks: upstream's forked reporting can hang at exit, which would fail the test
    upstream = train("none", "detect", "--clearml-threads", env={"CLEARML_OFFLINE_MODE": "1"})
    assert upstream.proc.returncode != 0  # upstream crashes at train end in offline mode
    upstream_keys = set(upstream.session.keys())
    assert upstream_keys, upstream.output[-3000:]

    shim = train("runner")
    shim.assert_finished()
    shim_session = shim.sessions[-1]
    # The same titles, series and iterations, so existing dashboards and comparisons keep working.
    assert upstream_keys <= set(shim_session.keys()), sorted(upstream_keys - set(shim_session.keys()))
    assert shim_session.output_models() and not upstream.session.output_models()


def test_classify_training_is_reported(train):
    result = train("runner", "classify")
    result.assert_finished()
    assert_complete(result.session, result.run_dir)
    assert "metrics/accuracy_top1" in result.session.single_values()
    # per-class top-1 accuracy at every epoch (2 epochs); classify has no worst images
    for name in CLASS_NAMES:
        assert set(result.session.scalars("per-class top-1", name)) >= {0, 1}, name
    assert not result.session.images("Worst images")
