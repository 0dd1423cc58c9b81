"""A training run used by the end-to-end tests; options inject the situations under test.

It prints ``UPSTREAM_CLEARML_ACTIVE=<bool>`` (whether Ultralytics' own ClearML callback is enabled
and would run) and ``TRAIN_DONE`` once ``model.train`` has returned.
"""

import argparse
import json
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--task", choices=("detect", "classify"), default="detect")
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--project", default=None, help="Ultralytics project (default: --out)")
parser.add_argument("--name", default=None, help="Ultralytics run name (default: the task)")
parser.add_argument("--save-period", type=int, default=-1)
parser.add_argument("--shim-import", choices=("none", "before", "after"), default="none")
parser.add_argument("--user-task", action="store_true", help="call Task.init before training")
parser.add_argument("--break-reporting", action="store_true", help="make ClearML's report_scalar raise")
parser.add_argument("--raise-in-callback", action="store_true", help="a user callback raises ValueError")
parser.add_argument("--print-task-id", action="store_true", help="print the current ClearML Task's id at the end")
parser.add_argument("--odd-metrics", action="store_true", help="add NaN, inf and tensor metric values")
parser.add_argument("--clearml-subprocess", action="store_true", help="keep ClearML's forked reporting process")
parser.add_argument("--exit-code", type=int, default=0, help="sys.exit with this code at the end")
parser.add_argument("--clearml-threads", action="store_true", help="ClearML reports from threads, without the shim")
parser.add_argument("--nan-epoch", type=int, default=None, help="force Ultralytics' NaN recovery at this epoch")
parser.add_argument("--hold-setup", action="store_true", help="hold the setup until trainer.stop is set (max 60 s)")
parser.add_argument("--time", type=float, default=None, help="Ultralytics' time= (hours)")
parser.add_argument("--batch", type=int, default=8)
parser.add_argument("--nbs", type=int, default=64)
parser.add_argument("--queue", default=None, help="configure(queue=...): send the training to this ClearML queue")
opts = parser.parse_args()

if opts.shim_import == "before":
    import yolo_clearml_patch  # noqa: F401

from ultralytics import YOLO  # noqa: E402
from ultralytics.utils import SETTINGS  # noqa: E402
from ultralytics.utils.callbacks import clearml as upstream  # noqa: E402

if opts.shim_import == "after":
    import yolo_clearml_patch  # noqa: F401

print(f"UPSTREAM_CLEARML_ACTIVE={bool(SETTINGS['clearml'] and upstream.callbacks)}", flush=True)

if opts.queue:
    import yolo_clearml_patch

    yolo_clearml_patch.configure(queue=opts.queue)

if opts.user_task:
    from clearml import Task

    Task.set_offline(True)
    user_task = Task.init(project_name="user-project", task_name="user-task")
    print(f"USER_TASK_ID={user_task.id}", flush=True)

if opts.clearml_subprocess:  # for comparison only: undo the shim's switch to thread-based reporting
    from clearml import Task

    _init = Task.init.__func__

    def _init_with_subprocess(cls, *args, **kwargs):
        cls._report_subprocess_enabled = True
        return _init(cls, *args, **kwargs)

    Task.init = classmethod(_init_with_subprocess)

if opts.clearml_threads:  # an upstream baseline that cannot hang at exit in ClearML's forked reporting
    from clearml import Task

    Task._report_subprocess_enabled = False

if opts.break_reporting:
    from clearml import Logger

    def _broken(*args, **kwargs):
        raise RuntimeError("injected reporting failure")

    Logger.report_scalar = _broken

model = YOLO("yolov8n.yaml" if opts.task == "detect" else "yolov8n-cls.yaml")
# the end of training (last epoch and final validation), before the shim's train-end reporting runs
model.add_callback("on_train_end", lambda trainer: print(f"TRAIN_END_AT={time.time()}", flush=True))

if opts.raise_in_callback:

    def _user_callback(trainer):
        raise ValueError("user callback failed on purpose")

    model.add_callback("on_train_epoch_end", _user_callback)

if opts.odd_metrics:

    def _odd_metrics(trainer):
        import torch

        trainer.metrics.update({"metrics/nan": float("nan"), "metrics/inf": float("inf")})
        trainer.metrics["metrics/tensor"] = torch.tensor(0.5)

    model.add_callback("on_fit_epoch_end", _odd_metrics)

if opts.nan_epoch is not None:  # as Ultralytics' own test_nan_recovery: a NaN loss in the epoch's first pass
    passes = {}

    def _count_pass(trainer):
        passes[trainer.epoch] = passes.get(trainer.epoch, 0) + 1

    def _poison(trainer):
        if trainer.epoch == opts.nan_epoch and passes.get(trainer.epoch) == 1:
            trainer.loss = trainer.loss * float("nan")

    model.add_callback("on_train_epoch_start", _count_pass)
    model.add_callback("on_train_batch_end", _poison)
    from ultralytics.engine.trainer import BaseTrainer

    print(f"NAN_RECOVERY={hasattr(BaseTrainer, '_handle_nan_recovery')}", flush=True)

if opts.hold_setup:  # a slow dataset check: Ultralytics' setup (detect) waits here until a stop is asked for
    from ultralytics.models.yolo.detect import DetectionTrainer

    _plot_labels = DetectionTrainer.plot_training_labels

    def _held(self):
        print("SETUP_HELD", flush=True)
        deadline = time.monotonic() + 60
        while not getattr(self, "stop", False) and time.monotonic() < deadline:
            time.sleep(0.1)
        print(f"SETUP_RELEASED stop={getattr(self, 'stop', False)}", flush=True)
        return _plot_labels(self)

    DetectionTrainer.plot_training_labels = _held

extra_args = {"time": opts.time} if opts.time is not None else {}
model.train(
    **extra_args,
    data=opts.data,
    epochs=opts.epochs,
    imgsz=64 if opts.task == "detect" else 32,
    batch=opts.batch,
    nbs=opts.nbs,
    device="cpu",
    workers=0,
    project=opts.project or opts.out,
    name=opts.name or opts.task,
    exist_ok=True,
    plots=True,
    save_period=opts.save_period,
    verbose=False,
)
print(f"TRAIN_RETURNED_AT={time.time()}", flush=True)

if opts.user_task:
    from clearml.binding.frameworks.pytorch_bind import PatchPyTorchModelIO
    from clearml.binding.matplotlib_bind import PatchedMatplotlib

    bound = {"pytorch": PatchPyTorchModelIO._current_task, "matplotlib": PatchedMatplotlib._current_task}
    print("BINDINGS=" + json.dumps({name: task is not None for name, task in bound.items()}), flush=True)
print(f"SAVE_DIR={model.trainer.save_dir}", flush=True)
used = {k: getattr(model.trainer.args, k) for k in ("epochs", "lr0", "patience", "batch", "optimizer")}
print("ARGS=" + json.dumps(used), flush=True)
if opts.print_task_id:
    from clearml import Task

    print(f"WORKER_TASK_ID={Task.current_task().id}", flush=True)
print("TRAIN_DONE", flush=True)
sys.exit(opts.exit_code)
