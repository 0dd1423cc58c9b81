"""Child interpreters: every way in reaches them, and a DDP-style worker reports to the launcher's Task."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from conftest import SCRIPTS, TRAIN_TIMEOUT, TrainingResult, run_python
from expectations import assert_complete
from offline_session import sessions_under

from yolo_clearml_patch.base import compat


def test_import_way_reaches_child_processes(child_env, tmp_path):
    proc = run_python([str(SCRIPTS / "show_state.py"), "0"], child_env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["child"] == [True, False]


DDP_SIM = Path(__file__).resolve().parent / "ddp_sim"


def ddp_sim_env(env: dict[str, str]) -> dict[str, str]:
    """The DDP simulation (tests/ddp_sim) on, for this process and its children."""
    return {**env, "YOLO_DDP_SIM": "1", "PYTHONPATH": str(DDP_SIM)}


def pickles_callbacks() -> bool:
    """Whether Ultralytics hands ``trainer.callbacks`` to its DDP workers (8.4: cloudpickled)."""
    from ultralytics.utils import dist

    return hasattr(dist, "generate_ddp_file") and "callbacks" in inspect.getsource(dist.generate_ddp_file)


@pytest.mark.skipif(
    int(compat.installed_version("clearml").split(".")[0]) < 2,
    reason="clearml 1.x cannot attach a child process to an offline Task (its project name is None there)",
)
def test_ddp_workers_report_to_the_launchers_task(child_env, datasets, home, tmp_path):
    """``device="0,1"`` under the runner: Ultralytics' real ``generate_ddp_command`` and
    ``torch.distributed.run`` start two workers that rebuild the trainer from the pickled state (with
    the user's callback, 8.4) and train in a gloo process group on CPUs; rank 0 reports into the
    launcher's Task, and the Task holds the whole training once."""
    out = tmp_path / "runs"
    proc = run_python(
        ["-m", "yolo_clearml_patch", str(SCRIPTS / "ddp_launch.py"), str(datasets["detect"]), str(out)],
        ddp_sim_env(child_env),
        cwd=tmp_path,
        timeout=TRAIN_TIMEOUT,
    )
    result = TrainingResult(proc, sessions_under(home), out / "detect")
    result.assert_finished()
    assert "DDP_SIM_WORKER rank=0 world=2" in proc.stdout and "DDP_SIM_WORKER rank=1 world=2" in proc.stdout
    assert "torch.distributed.run" in result.output  # Ultralytics' own DDP command was run
    if pickles_callbacks():  # the user's callback reached rank 0's worker, which reports to the launcher's Task
        assert result.marker("WORKER_RANK") == "0"
        assert result.marker("WORKER_TASK_ID") == result.marker("LAUNCHER_TASK_ID")
    session = result.session  # one session: the launcher made one Task and the workers made none
    assert session.task["id"] == result.marker("LAUNCHER_TASK_ID")
    # ClearML renames an image a child process uploads (a pid suffix) after the plot event already links
    # the first name, so the worker's plot images are stored but their links in the plots are stale
    assert_complete(session, result.run_dir, plot_links=False)
    # worst images: each rank validates its half of the images (8.4); rank 0 reports the worst of
    # both halves, once (untrained, every image with objects is among them)
    val_images = len(list((Path(datasets["detect"]).parent / "images" / "val").glob("*.jpg")))
    worst = session.images("Worst images")
    for iteration in (0, 1):  # the epoch's validation, the final one
        assert {slot for slot, i in worst if i == iteration} == {f"worst_{k:02d}" for k in range(val_images)}
    assert not session.duplicates()
