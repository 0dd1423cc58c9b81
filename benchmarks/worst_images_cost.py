"""What the worst images and per-class metrics cost the training thread (issue: at most 5 ms per
epoch at N=8, memory bounded in N, ranking within 2 % of validation time on 1000 images).

    python benchmarks/worst_images_cost.py               # 1000 validation images, N = 8 and 0
    python benchmarks/worst_images_cost.py --val 300 --epochs 2

One training per setting, offline, under the shim, with the shim's own hooks timed on the training
thread: the per-batch collection after ``update_metrics``, the arming at ``on_val_start`` and the
hand-over at ``on_val_end`` (ranking, per-class values, queuing the drawings; the drawing itself
runs on the Task's delivery thread). Prints ``name: value`` lines, as ``benchmarks/run.py`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "examples"))

CHILD = r"""
import json, sys, time, tracemalloc
import yolo_clearml_patch
from yolo_clearml_patch.ultralytics_side import dispatch
from yolo_clearml_patch.reporting import training_run

spent = {"collect": 0.0, "val_events": 0.0, "val_wall": 0.0, "peak_heap": 0}
_collect, _event = dispatch.after_update_metrics, dispatch.on_validator_event
starts = {}

def collect(validator, preds, batch):
    t = time.perf_counter(); _collect(validator, preds, batch); spent["collect"] += time.perf_counter() - t
    c = dispatch._collectors.get(validator)
    if c is not None:
        spent["peak_heap"] = max(spent["peak_heap"], sum(r.pred_polys.nbytes + r.gt_polys.nbytes + 64
                                                         for r in c.images.worst_first()))

def event(validator, name):
    t = time.perf_counter()
    if name == "on_val_start":
        starts[id(validator)] = t
    _event(validator, name)
    spent["val_events"] += time.perf_counter() - t
    if name == "on_val_end" and id(validator) in starts:
        spent["val_wall"] += time.perf_counter() - starts.pop(id(validator))

dispatch.after_update_metrics, dispatch.on_validator_event = collect, event
from ultralytics import YOLO
data, out, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
YOLO("yolov8n.yaml").train(data=data, project=out, name="run", epochs=epochs, imgsz=64, batch=16, device="cpu",
                           workers=0, plots=False, exist_ok=True, verbose=False)
print("COST=" + json.dumps(spent), flush=True)
"""


def figure(name: str, value: object) -> None:
    print(f"{name}: {value}", flush=True)


def main() -> None:
    from synthetic_data import make_detect_dataset

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--val", type=int, default=1000, help="validation images")
    parser.add_argument("--epochs", type=int, default=2)
    opts = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="worst-bench-"))
    data = make_detect_dataset(root / "data", n_train=16, n_val=opts.val)
    for size in (8, 0):
        env = {**os.environ, "HOME": str(root / f"home-{size}"), "CLEARML_OFFLINE_MODE": "1",
               "YOLO_CLEARML_WORST_IMAGES": str(size), "MPLBACKEND": "Agg"}  # fmt: skip
        (root / f"home-{size}").mkdir()
        proc = subprocess.run([sys.executable, "-c", CHILD, str(data), str(root / f"runs-{size}"), str(opts.epochs)],
                              env=env, capture_output=True, text=True, timeout=1800)  # fmt: skip
        line = next((x for x in proc.stdout.splitlines() if x.startswith("COST=")), None)
        if line is None:
            raise SystemExit((proc.stdout + proc.stderr)[-3000:])
        cost = json.loads(line[5:])
        per_epoch_ms = 1000 * (cost["collect"] + cost["val_events"]) / (opts.epochs + 1)  # + the final validation
        figure(f"n{size}_training_thread_ms_per_epoch", f"{per_epoch_ms:.1f}")
        figure(f"n{size}_collect_share_of_validation", f"{100 * cost['collect'] / max(cost['val_wall'], 1e-9):.2f} %")
        figure(f"n{size}_heap_bytes", cost["peak_heap"])


if __name__ == "__main__":
    main()
