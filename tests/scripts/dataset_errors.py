"""``model.train(data=URI)`` for each URI given, under the shim; prints ``ERROR=<uri> :: <type>: <message>``
for each (or ``TRAINED=<uri>``). Usage: dataset_errors.py URI [URI ...]"""

import sys

from ultralytics import YOLO

import yolo_clearml_patch  # noqa: F401

for uri in sys.argv[1:]:
    try:
        YOLO("yolov8n.yaml").train(data=uri, epochs=1, imgsz=32, batch=8, device="cpu", workers=0, plots=False)
        print(f"TRAINED={uri}", flush=True)
    except Exception as exc:
        print(f"ERROR={uri} :: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", flush=True)
