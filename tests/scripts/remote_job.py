"""A training whose Task holds values edited in ClearML, as under clearml-agent after a UI or HPO edit.

No clearml-agent or server can run here, so the Task that supplies the edits is a stand-in whose
``connect`` returns them the way ClearML does remotely (typed like the local value, "None" as a
string for None). Reporting still goes to a real ClearML offline Task. Prints ``ARGS=<json>``.
Usage: remote_job.py DATA OUT EDITS_JSON
"""

import json
import sys

from yolo_clearml_patch.ultralytics_side import remote_overrides

data, out, edits = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])


class TaskEditedInClearML:
    def connect(self, mutable, name=None):
        assert name == "General"
        return {**mutable, **edits}


remote_overrides.remote_task = lambda project, name: TaskEditedInClearML()

from ultralytics import YOLO  # noqa: E402

model = YOLO("yolov8n.yaml")
model.train(data=data, epochs=3, imgsz=64, batch=8, device="cpu", workers=0, project=out, name="remote", exist_ok=True)
args = model.trainer.args
print("ARGS=" + json.dumps({k: getattr(args, k) for k in ("epochs", "batch", "time", "plots", "imgsz")}), flush=True)
print("TRAIN_DONE", flush=True)
