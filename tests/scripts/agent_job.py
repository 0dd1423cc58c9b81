"""A training as a user writes it for clearml-agent: values in the script, no command-line arguments.

The agent runs a copy of this script that ClearML stored on the Task (it is outside any git
repository), so the dataset and output folder come from the environment the agent passes on:
``AGENT_JOB_DATA`` and ``AGENT_JOB_OUT``. Prints ``ARGS=<json>`` and ``TRAIN_DONE``.
"""

import json
import os

from ultralytics import YOLO

model = YOLO("yolov8n.yaml")
model.train(
    data=os.environ["AGENT_JOB_DATA"],
    project=os.environ["AGENT_JOB_OUT"],
    name="agent",
    epochs=2,
    imgsz=64,
    batch=8,
    device="cpu",
    workers=0,
    exist_ok=True,
    verbose=False,
)
used = {k: getattr(model.trainer.args, k) for k in ("epochs", "lr0", "optimizer", "batch")}
print("ARGS=" + json.dumps(used), flush=True)
print("TRAIN_DONE", flush=True)
