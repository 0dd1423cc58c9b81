"""Launch a training the way Ultralytics launches multi-GPU training, on a machine with no GPU.

``BaseTrainer.__init__`` with ``device="0,1"`` leaves a trainer with ``ddp=True`` whose callbacks
never run; ``BaseTrainer.train`` then runs the command from ``generate_ddp_command`` in a fresh
interpreter. Here the trainer is built in that state and the command is a fresh ``sys.executable``
running ``train_job.py`` (the worker), since torch.distributed.run needs GPUs, with ``LOCAL_RANK``
set as torch.distributed.run sets it for every worker. ``train`` is real.
Usage: ddp_launch.py DATA OUT
"""

import sys
from pathlib import Path

import ultralytics.engine.trainer as trainer_module
from ultralytics.cfg import get_cfg
from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.utils import callbacks

data, out = sys.argv[1], sys.argv[2]
worker = [sys.executable, str(Path(__file__).with_name("train_job.py")), "--data", data, "--out", out, "--epochs", "1"]
# (8.4 calls generate_ddp_command(trainer), 8.3 generate_ddp_command(world_size, trainer))
trainer_module.generate_ddp_command = lambda *args: (["env", "LOCAL_RANK=0", *worker, "--print-task-id"], None)

trainer = DetectionTrainer.__new__(DetectionTrainer)
overrides = {"model": "yolov8n.yaml", "data": data, "epochs": 1, "project": out, "name": "detect", "device": "0,1"}
trainer.args = get_cfg(overrides=overrides)
trainer.ddp, trainer.world_size = True, 2  # what 8.4's __init__ sets; 8.3's train() reads the device instead
trainer.callbacks = callbacks.get_default_callbacks()  # __init__ sets them before deciding on DDP
trainer.train()

from clearml import Task  # noqa: E402

print(f"LAUNCHER_TASK_ID={Task.current_task().id}", flush=True)
