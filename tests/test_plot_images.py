"""A saved plot image reaches ClearML as a plot, in a real offline session, without a figure left open."""

from __future__ import annotations

import textwrap

from conftest import run_python
from offline_session import sessions_under

CHILD = textwrap.dedent(
    """
    from pathlib import Path

    import cv2
    import numpy as np
    from clearml import Task

    from yolo_clearml_patch.clearml_side.once_logger import reporter_for

    image = np.zeros((60, 90, 3), np.uint8)
    image[:, :45] = (0, 0, 255)
    cv2.imwrite("results.png", image)
    Task.set_offline(True)
    task = Task.init(project_name="plots", task_name="png", auto_connect_frameworks=False)
    out = reporter_for(task, "png")
    out.png_plot("results", Path("results.png"))
    out.png_plot("results", Path("results.png"))  # a repeat is dropped
    import matplotlib.pyplot as plt

    print("OPEN_FIGURES=%d" % len(plt.get_fignums()))
    task.close()
    """
)


def test_a_saved_plot_is_reported_once_as_that_very_image(child_env, home, tmp_path):
    proc = run_python(["-c", CHILD], child_env, tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "OPEN_FIGURES=0" in proc.stdout
    (session,) = sessions_under(home)
    assert session.duplicates() == {}
    assert set(session.plots("results")) == {"plot image"}
    shown = session.plot_image("results")
    assert shown is not None and shown.is_relative_to(session.folder) and shown.stat().st_size > 0
    assert shown.read_bytes() == (tmp_path / "results.png").read_bytes()
