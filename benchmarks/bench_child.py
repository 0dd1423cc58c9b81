"""One instrumented training for benchmarks/run.py. Prints ``BENCH=<json>``.

Modes: ``shim`` (yolo_clearml_patch on), ``upstream`` (Ultralytics' own ClearML callback, offline),
``none`` (no tracker). Usage: bench_child.py MODE DATA OUT EPOCHS
"""

import json
import sys
import time

mode, data, out, epochs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
hook_cpu = {"start": 0.0, "epochs": 0.0, "end": 0.0}

if mode == "shim":
    from yolo_clearml_patch import runs

    def _timed(func, phase_of):
        def timed(obj, event, *args):
            start = time.thread_time()  # CPU time of the training thread only: not ClearML's I/O threads
            try:
                return func(obj, event, *args)
            finally:
                hook_cpu[phase_of(event)] += time.thread_time() - start

        return timed

    def _phase(event):
        return {"on_pretrain_routine_start": "start", "on_train_end": "end"}.get(event, "epochs")

    runs.on_trainer_event = _timed(runs.on_trainer_event, _phase)
    runs.on_validator_event = _timed(runs.on_validator_event, _phase)
elif mode == "upstream":
    from clearml import Task

    Task.set_offline(True)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import ultralytics.engine.trainer as trainer_module  # noqa: E402
from ultralytics import YOLO  # noqa: E402
from ultralytics.utils import SETTINGS  # noqa: E402

if mode == "none":
    SETTINGS.update({"clearml": False})  # the benchmark's own HOME: the user's settings are untouched

train_end = []
_run_callbacks = trainer_module.BaseTrainer.run_callbacks


def run_callbacks(self, event):  # outermost: times everything that runs at on_train_end
    start = time.perf_counter()
    try:
        return _run_callbacks(self, event)
    finally:
        if event == "on_train_end":
            train_end.append(time.perf_counter() - start)


trainer_module.BaseTrainer.run_callbacks = run_callbacks

model = YOLO("yolov8n.yaml")
start = time.perf_counter()
crashed = None
try:
    model.train(
        data=data,
        epochs=epochs,
        imgsz=64,
        batch=8,
        device="cpu",
        workers=0,
        project=out,
        name=mode,
        exist_ok=True,
        plots=True,
        verbose=False,
    )
except Exception as exc:  # upstream crashes at train end in offline mode
    crashed = f"{type(exc).__name__}: {exc}"
wall = time.perf_counter() - start
print(
    "BENCH="
    + json.dumps(
        {
            "wall_s": wall,
            "train_end_s": train_end[0] if train_end else None,
            "open_figures": len(plt.get_fignums()),
            "hook_cpu_s": hook_cpu,
            "crashed": crashed,
        }
    )
)
