"""A standalone validation: ``YOLO(weights).val(...)``. Usage: val_job.py WEIGHTS DATA OUT"""

import sys

from ultralytics import YOLO

weights, data, out = sys.argv[1:4]
metrics = YOLO(weights).val(data=data, imgsz=64, batch=8, device="cpu", project=out, name="val", plots=True)
print(f"MAP50={metrics.box.map50}", flush=True)
print("VAL_DONE", flush=True)
