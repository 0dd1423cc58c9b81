"""One instrumented training for benchmarks/run.py. Prints ``BENCH=<json>``.

Modes: ``shim`` (yolo_clearml_patch on; offline, online or against a slow server as the environment
says: ``shim_online``, ``shim_slow``), ``shim_forked`` (the same, with ClearML's forked reporting
process instead of threads), ``upstream`` (Ultralytics' own ClearML callback, offline), ``none`` (no
tracker). Usage: bench_child.py MODE DATA OUT EPOCHS [IMGSZ [BATCH]]

With ``BENCH_MARK_EPOCHS=1`` it prints ``EPOCH_START=<n>`` as each epoch starts (run.py sends a
SIGTERM at one).

The reporting hooks' CPU time is taken on the training thread only (``time.thread_time``), so
ClearML's own I/O threads are not counted; it is kept per event and per epoch.
"""

import time

STARTED = time.perf_counter()  # the wall time counts every import a mode needs, clearml's included

import json  # noqa: E402
import sys  # noqa: E402
from collections import defaultdict  # noqa: E402

mode, data, out, epochs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
imgsz = int(sys.argv[5]) if len(sys.argv) > 5 else 64
batch = int(sys.argv[6]) if len(sys.argv) > 6 else 8
hook_cpu: dict = defaultdict(float)  # "event@epoch" -> CPU seconds of the reporting hooks
current_epoch = [0]


def _timed(func, event_of):
    def timed(obj, *args):
        event = event_of(args)
        if hasattr(obj, "epoch"):  # a trainer; a validator's events count in the trainer's epoch
            current_epoch[0] = int(obj.epoch)
        start = time.thread_time()
        try:
            return func(obj, *args)
        finally:
            hook_cpu[f"{event}@{current_epoch[0]}"] += time.thread_time() - start

    return timed


if mode.startswith("shim"):
    from yolo_clearml_patch.ultralytics_side import dispatch as runs

    runs.on_trainer_event = _timed(runs.on_trainer_event, lambda args: args[0])
    runs.on_validator_event = _timed(runs.on_validator_event, lambda args: args[0])
    if mode == "shim_forked":  # undo the shim's switch to thread-based reporting
        from clearml import Task

        _init = Task.init.__func__

        def _init_forked(cls, *args, **kwargs):
            cls._report_subprocess_enabled = True
            return _init(cls, *args, **kwargs)

        Task.init = classmethod(_init_forked)
elif mode == "upstream":
    from clearml import Task
    from ultralytics.utils.callbacks import clearml as upstream_callback

    Task.set_offline(True)
    for name, func in list(upstream_callback.callbacks.items()):
        upstream_callback.callbacks[name] = _timed(func, lambda args, name=name: name)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import ultralytics.engine.trainer as trainer_module  # noqa: E402
from ultralytics import YOLO  # noqa: E402
from ultralytics.utils import SETTINGS  # noqa: E402

if mode == "none":
    SETTINGS.update({"clearml": False})  # saved: run.py gives each mode its own YOLO_CONFIG_DIR

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
if __import__("os").environ.get("BENCH_MARK_EPOCHS"):
    model.add_callback("on_train_epoch_start", lambda trainer: print(f"EPOCH_START={trainer.epoch}", flush=True))
crashed = None
try:
    model.train(
        data=data,
        epochs=epochs,
        imgsz=imgsz,
        batch=batch,
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
wall = time.perf_counter() - STARTED
returned_at = time.time()
print(
    "BENCH="
    + json.dumps(
        {
            "wall_s": wall,
            "train_end_s": train_end[0] if train_end else None,
            "open_figures": len(plt.get_fignums()),
            "hook_cpu_s": dict(hook_cpu),
            "crashed": crashed,
            "returned_at": returned_at,
        }
    ),
    flush=True,
)
