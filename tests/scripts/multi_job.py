"""Several trainings in one process, as a notebook or a loop over models does.

Usage: multi_job.py DATA OUT [--runs N] [--user-task] [--crash RUN] [--cli-runs K]
Trains ``run1`` ... ``runN`` in turn; ``--crash RUN`` makes that training raise ValueError (caught
here, as a notebook would show it, then the loop goes on); ``--cli-runs K`` then starts K
``yolo train`` subprocesses. Prints ``CRASHED=<type>`` and ``TRAIN_DONE``.
"""

import argparse
import os
import subprocess
import sys

parser = argparse.ArgumentParser()
parser.add_argument("data")
parser.add_argument("out")
parser.add_argument("--runs", type=int, default=2)
parser.add_argument("--user-task", action="store_true")
parser.add_argument("--crash", default=None)
parser.add_argument("--cli-runs", type=int, default=0)
parser.add_argument("--export", action="store_true", help="export the last model to TorchScript")
parser.add_argument("--val", action="store_true", help="validate the last model after training")
opts = parser.parse_args()

from ultralytics import YOLO  # noqa: E402

if opts.user_task:
    from clearml import Task

    Task.set_offline(True)
    print(f"USER_TASK_ID={Task.init(project_name='user-project', task_name='user-task').id}", flush=True)

common = dict(data=opts.data, imgsz=64, batch=8, device="cpu", workers=0, project=opts.out, exist_ok=True)
for i in range(1, opts.runs + 1):
    name = f"run{i}"
    model = YOLO("yolov8n.yaml")
    if name == opts.crash:

        def crash(trainer):
            raise ValueError("crashed on purpose")

        model.add_callback("on_train_epoch_end", crash)
    try:
        model.train(epochs=1 + i % 2, name=name, plots=True, verbose=False, **common)
    except ValueError as exc:
        print(f"CRASHED={type(exc).__name__}", flush=True)

if opts.val:
    print(f"MAP50={model.val(data=opts.data, imgsz=64, batch=8, device='cpu', plots=True).box.map50}", flush=True)

if opts.export:
    print(f"EXPORTED={model.export(format='torchscript', imgsz=64, device='cpu')}", flush=True)

yolo = os.path.join(os.path.dirname(sys.executable), "yolo")  # Ultralytics' console script, beside python
for i in range(1, opts.cli_runs + 1):
    args = [f"{k}={v}" for k, v in common.items()]
    subprocess.run([yolo, "train", "model=yolov8n.yaml", "epochs=1", f"name=cli{i}", *args], check=True, timeout=280)
print("TRAIN_DONE", flush=True)
