"""A training that learns the known-mistakes dataset by heart (see ``tests/known_mistakes.py``) and
validates on its hidden mistakes: only the last epoch and the final validation validate (``val=False``).

    python worst_job.py --data DATA --out DIR --task detect|segment|pose|obb [--epochs N] [--model YAML]
"""

import argparse

from ultralytics import YOLO

import yolo_clearml_patch  # noqa: F401

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--task", choices=("detect", "segment", "pose", "obb"), default="detect")
parser.add_argument("--epochs", type=int, default=100)
opts = parser.parse_args()

model = YOLO(
    {"detect": "yolov8n.yaml", "segment": "yolov8n-seg.yaml", "pose": "yolov8n-pose.yaml", "obb": "yolov8n-obb.yaml"}[
        opts.task
    ]
)
model.train(
    data=opts.data, epochs=opts.epochs, imgsz=64, batch=16, mosaic=0, val=False, optimizer="AdamW", lr0=0.005,
    warmup_epochs=0, device="cpu", workers=0, project=opts.out, name=opts.task, exist_ok=True, plots=False,
    verbose=False,
)  # fmt: skip
print(f"SAVE_DIR={model.trainer.save_dir}", flush=True)
print("TRAIN_DONE", flush=True)
