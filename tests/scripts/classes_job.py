"""Train-end reporting for a validator with NC classes, built in memory, into a real offline Task.

Usage: classes_job.py NC  (run with CLEARML_OFFLINE_MODE=1 and a tmp HOME)

The validator is Ultralytics' own DetectionValidator with its own metrics and confusion-matrix
classes, filled with random detections for NC classes (no dataset, no model). The shim's train-end
reporting of a finished validation (plots, interactive plots, final metrics) runs on this thread,
and its CPU and wall time are printed, then the session folder:
``TRAIN_END_CPU_S=`` ``TRAIN_END_WALL_S=`` ``SESSION=``.
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from clearml import Task
from ultralytics.models.yolo.detect import DetectionValidator
from ultralytics.utils.metrics import ConfusionMatrix, DetMetrics

from yolo_clearml_patch.clearml_side.once_logger import reporter_for
from yolo_clearml_patch.reporting.validation_report import finished_validation

nc = int(sys.argv[1])
names = {i: f"class {i}" for i in range(nc)}
rng = np.random.default_rng(0)
n = 20 * nc  # detections
stats = {
    "tp": rng.random((n, 10)) < 0.6,
    "conf": rng.random(n),
    "pred_cls": rng.integers(0, nc, n).astype(float),
    "target_cls": rng.integers(0, nc, n).astype(float),
    "target_img": rng.integers(0, 100, n).astype(float),
    "im_name": "synthetic.jpg",
}
save_dir = Path(tempfile.mkdtemp())
validator = DetectionValidator(save_dir=save_dir, args={"plots": False})
validator.names, validator.nc = names, nc
try:  # Ultralytics 8.4
    metrics = DetMetrics(names=names)
    metrics.update_stats(stats)  # as one image holding every detection
    metrics.process()
    confusion = ConfusionMatrix(names=names)
except (TypeError, AttributeError):  # 8.3: no names on the matrix, process(tp, conf, ...)
    metrics = DetMetrics(save_dir=save_dir, names=names)
    metrics.process(stats["tp"], stats["conf"], stats["pred_cls"], stats["target_cls"])
    confusion = ConfusionMatrix(nc=nc)
confusion.matrix = rng.poisson(0.3, (nc + 1, nc + 1)).astype(float) + np.diag(rng.integers(5, 50, nc + 1))
validator.metrics, validator.confusion_matrix = metrics, confusion

Task._report_subprocess_enabled = False  # as the shim creates its Tasks: reporting from threads
task = Task.init(
    project_name="classes",
    task_name=f"nc{nc}",
    auto_connect_frameworks={"detect_repository": False},
    auto_resource_monitoring=False,
)
out = reporter_for(task, "classes")
cpu, wall = time.thread_time(), time.perf_counter()
finished_validation(out, validator, [], save_dir, 0)
cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
task.close()
print(f"TRAIN_END_CPU_S={cpu:.4f}")
print(f"TRAIN_END_WALL_S={wall:.4f}")
print(f"SESSION={task.get_offline_mode_folder()}")
