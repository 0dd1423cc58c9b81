"""Export trained weights to TorchScript, as a user does after training. Usage: export_job.py WEIGHTS"""

import sys

from ultralytics import YOLO

exported = YOLO(sys.argv[1]).export(format="torchscript", imgsz=64, device="cpu")
print(f"EXPORTED={exported}", flush=True)
print("EXPORT_DONE", flush=True)
