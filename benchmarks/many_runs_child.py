"""Many trainings in one process for benchmarks/run.py, as a notebook or a loop over models runs them.

Usage: many_runs_child.py DATA OUT COUNT MODE, MODE ``shim`` (the shim on) or ``none`` (no tracker,
the baseline). After each tiny training (and a garbage collection) it records the process's memory
and what is still alive: trainers, ClearML Tasks, the shim's loggers. Prints ``RUNS=<json list>``.
"""

import gc
import json
import os
import sys
import weakref

os.environ["CLEARML_OFFLINE_MODE"] = "1"

import psutil  # noqa: E402
from clearml import Task  # noqa: E402
from ultralytics import YOLO  # noqa: E402
from ultralytics.utils import SETTINGS  # noqa: E402

data, out, count, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if mode == "shim":
    import yolo_clearml_patch  # noqa: F401
    from yolo_clearml_patch.clearml_side.once_logger import OnceLogger
else:
    SETTINGS.update({"clearml": False})  # saved: run.py gives each mode its own YOLO_CONFIG_DIR
    OnceLogger = type("NoLogger", (), {})
trainers: weakref.WeakSet = weakref.WeakSet()
rows = []
for i in range(count):
    model = YOLO("yolov8n.yaml")
    model.add_callback("on_pretrain_routine_start", trainers.add)
    model.train(
        data=data,
        epochs=1,
        imgsz=32,
        batch=8,
        device="cpu",
        workers=0,
        project=out,
        name=f"run{i}",
        exist_ok=True,
        plots=False,
        verbose=False,
    )
    del model
    gc.collect()
    alive = gc.get_objects()
    rows.append(
        {
            "rss_mb": psutil.Process().memory_info().rss / 1e6,
            "trainers": len(trainers),
            "tasks": sum(isinstance(o, Task) for o in alive),
            "loggers": sum(isinstance(o, OnceLogger) for o in alive),
        }
    )
    del alive
    print(f"run {i}: {rows[-1]}", file=sys.stderr, flush=True)
print("RUNS=" + json.dumps(rows), flush=True)
