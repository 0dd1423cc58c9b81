"""A simulated long run for benchmarks/run.py: the shim's CPU per epoch early and late.

Usage: long_run_child.py DATA OUT EPOCHS. A real DetectionTrainer is built (dataset checked, nothing
trained) and the shim's dispatch gets its events as a training gives them: pretrain start, then the
train-epoch and fit-epoch ends of every epoch, with fresh losses, learning rates and metrics each
time, into a real offline Task. Prints ``EARLY_MS=`` (median of epochs 3-12) and ``LATE_MS=`` (the
last ten epochs): the shim's CPU per epoch on the training thread.
"""

import os
import statistics
import sys
import time

os.environ["CLEARML_OFFLINE_MODE"] = "1"
os.environ["YOLO_CLEARML_PATCH_STRICT"] = "1"  # an error in the shim fails the benchmark

import torch  # noqa: E402
from ultralytics.models.yolo.detect import DetectionTrainer  # noqa: E402

import yolo_clearml_patch  # noqa: E402, F401
from yolo_clearml_patch.ultralytics_side import dispatch as runs  # noqa: E402

data, out, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
overrides = dict(model="yolov8n.yaml", data=data, imgsz=64, epochs=epochs, device="cpu", workers=0)
trainer = DetectionTrainer(overrides={**overrides, "project": out, "name": "long", "exist_ok": True, "plots": False})
trainer.loss_names = ("box_loss", "cls_loss", "dfl_loss")
runs.on_trainer_event(trainer, "on_pretrain_routine_start")
runs._started_run(trainer).ready()  # the Task exists: each epoch's reports go out at once, not kept
try:
    trainer.label_loss_items({"box_loss": 1.0}, prefix="train")
    LOSSES_AS_DICT = True
except (AttributeError, TypeError, ValueError):
    LOSSES_AS_DICT = False
keys = ("precision(B)", "recall(B)", "mAP50(B)", "mAP50-95(B)")
cost = {}
for epoch in range(2, epochs):  # epoch 0 reports the model info and epoch 1 the Mosaic: one-time work
    trainer.epoch = epoch
    losses = torch.rand(3)  # Ultralytics 8.4 keeps the mean losses as a dict, 8.3 as a tensor
    trainer.tloss = dict(zip(trainer.loss_names, losses)) if LOSSES_AS_DICT else losses
    trainer.lr = {f"lr/pg{i}": 0.01 / (epoch + 1) for i in range(3)}
    trainer.metrics = {**{f"val/{k}": float(v) for k, v in zip(trainer.loss_names, torch.rand(3))}}
    trainer.metrics.update({f"metrics/{k}": float(v) for k, v in zip(keys, torch.rand(4))})
    trainer.epoch_time, trainer.fitness = 1.0, float(torch.rand(1))
    start = time.thread_time()
    runs.on_trainer_event(trainer, "on_train_epoch_end")
    runs.on_trainer_event(trainer, "on_fit_epoch_end")
    cost[epoch] = time.thread_time() - start
print(f"EARLY_MS={statistics.median(cost[e] for e in range(3, 13)) * 1e3:.3f}")
print(f"LATE_MS={statistics.median(cost[e] for e in range(epochs - 10, epochs)) * 1e3:.3f}", flush=True)
