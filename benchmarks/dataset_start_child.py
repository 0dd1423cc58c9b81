"""One training's time to start, for ``benchmarks/dataset_start.py``: from this process's start to
Ultralytics' ``on_train_start`` (the dataset resolved and checked, the dataloaders built). Usage:
dataset_start_child.py DATA OUT; prints ``START_S=<seconds>``."""

import sys
import time

started = time.time()

from ultralytics import YOLO  # noqa: E402

import yolo_clearml_patch  # noqa: E402, F401

data, out = sys.argv[1], sys.argv[2]
model = YOLO("yolov8n.yaml")
model.add_callback("on_train_start", lambda trainer: print(f"START_S={time.time() - started:.3f}", flush=True))
model.train(data=data, project=out, name="run", epochs=1, imgsz=32, batch=16, device="cpu", workers=0,
            plots=False, val=False, exist_ok=True, verbose=False)  # fmt: skip
