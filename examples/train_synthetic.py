"""Main job: a real YOLO training on a generated dataset, reported to ClearML by the shim.

Run it with the shim on:  python -m yolo_clearml_patch examples/train_synthetic.py
The script itself has no ClearML code. Without a ClearML server the run lands in ClearML's offline
session, and the shim prints where it is and how to import it.

Options: --task detect|classify, --epochs N, --out DIR (default ./runs/synthetic).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from synthetic_data import make_classify_dataset, make_detect_dataset
from ultralytics import YOLO


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("detect", "classify"), default="detect")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default="runs/synthetic")
    parser.add_argument("--name", default=None)
    args = parser.parse_args()

    out = Path(args.out).resolve()
    if args.task == "detect":
        data, model, imgsz = make_detect_dataset(out / "data-detect"), YOLO("yolov8n.yaml"), 64
    else:
        data, model, imgsz = make_classify_dataset(out / "data-classify"), YOLO("yolov8n-cls.yaml"), 32
    model.train(
        data=str(data),
        epochs=args.epochs,
        imgsz=imgsz,
        batch=8,
        device="cpu",
        workers=0,
        project=str(out),
        name=args.name or args.task,
        exist_ok=True,
        plots=True,
        verbose=False,
    )
    print(f"training finished: {out / (args.name or args.task)}")


if __name__ == "__main__":
    main()
