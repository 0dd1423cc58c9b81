"""A multi-GPU training as a user writes it (``device="0,1"``), run under the DDP simulation
(``tests/ddp_sim``: Ultralytics' real launch and workers, on CPUs with a gloo process group).

The user's own callback is defined here, in ``__main__``: since 8.4 Ultralytics cloudpickles
``trainer.callbacks`` for the workers, so it runs in rank 0's worker and prints the Task that worker
reports to (8.3 rebuilds the workers' trainers from the args alone: no user callback there).
Usage: ddp_launch.py DATA OUT. Prints ``WORKER_TASK_ID``, ``WORKER_RANK``, ``LAUNCHER_TASK_ID``, ``TRAIN_DONE``.
"""

import sys

from ultralytics import YOLO


def report_worker(trainer):
    import os

    from clearml import Task

    task = Task.current_task()
    print(f"WORKER_TASK_ID={task.id if task else None}", flush=True)
    print(f"WORKER_RANK={os.environ.get('RANK')}", flush=True)


data, out = sys.argv[1], sys.argv[2]
model = YOLO("yolov8n.yaml")
model.add_callback("on_train_end", report_worker)
model.train(
    data=data,
    project=out,
    name="detect",
    epochs=1,
    imgsz=32,
    batch=8,
    device="0,1",
    workers=0,
    exist_ok=True,
    verbose=False,
)

from clearml import Task  # noqa: E402

print(f"LAUNCHER_TASK_ID={Task.current_task().id}", flush=True)
print("TRAIN_DONE", flush=True)
