"""``model.tune()``, as a user runs it. Usage: tune_job.py DATA OUT ITERATIONS"""

import sys

from ultralytics import YOLO

data, out, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3])
YOLO("yolov8n.yaml").tune(
    data=data,
    epochs=1,
    iterations=iterations,
    imgsz=64,
    batch=8,
    device="cpu",
    workers=0,
    project=out,
    name="tune",
    plots=False,
)
print("TUNE_DONE", flush=True)
