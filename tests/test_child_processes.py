"""Child interpreters: every way in reaches them, and a DDP-style worker reports to the launcher's Task."""

from __future__ import annotations

import json

import pytest
from conftest import SCRIPTS, TRAIN_TIMEOUT, TrainingResult, run_python
from expectations import assert_complete
from offline_session import sessions_under

from yolo_clearml_patch.base import compat


def test_import_way_reaches_child_processes(child_env, tmp_path):
    proc = run_python([str(SCRIPTS / "show_state.py"), "0"], child_env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["child"] == [True, False]


@pytest.mark.skipif(
    int(compat.installed_version("clearml").split(".")[0]) < 2,
    reason="clearml 1.x cannot attach a child process to an offline Task (its project name is None there)",
)
def test_ddp_worker_reports_to_the_launchers_task(child_env, datasets, home, tmp_path):
    out = tmp_path / "runs"
    proc = run_python(
        ["-m", "yolo_clearml_patch", str(SCRIPTS / "ddp_launch.py"), str(datasets["detect"]), str(out)],
        child_env,
        cwd=tmp_path,
        timeout=TRAIN_TIMEOUT,
    )
    result = TrainingResult(proc, sessions_under(home), out / "detect")
    result.assert_finished()  # the worker trained and exited 0
    assert result.marker("WORKER_TASK_ID") == result.marker("LAUNCHER_TASK_ID")
    session = result.session  # one session: the launcher made one Task and the worker made none
    assert session.task["id"] == result.marker("LAUNCHER_TASK_ID")
    # ClearML renames an image a child process uploads (a pid suffix) after the plot event already links
    # the first name, so the worker's plot images are stored but their links in the plots are stale
    assert_complete(session, result.run_dir, plot_links=False)
