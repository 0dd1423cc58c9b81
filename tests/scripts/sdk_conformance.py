"""The real clearml SDK against a ClearML server: what an optimizer, a dataset user and a remote run
call. Prints one ``RESULT=<json>`` line with what each call gave back; the test asserts on it.

Usage: sdk_conformance.py WORK_DIR   (the server is given by the CLEARML_* variables)
"""

import json
import sys
from pathlib import Path

from clearml import Dataset, OutputModel, Task

work = Path(sys.argv[1])

# Report from threads, as the shim's own Tasks do. ClearML's default on Linux forks a reporting process in
# Task.init; the child inherits the parent's pooled keep-alive connections, and when both processes use one
# socket at once, one reads the other's reply and waits for its own until the 300 s read timeout (measured
# here: 12 of 37 runs stalled). A keep-alive server (the real one served by werkzeug, threaded) shows it.
Task._report_subprocess_enabled = False
result = {}

# a Task that reports, as a training does
task = Task.init(project_name="conformance", task_name="base task", auto_connect_frameworks=False)
task.connect({"lr0": 0.01, "epochs": 3}, name="General")
logger = task.get_logger()
for i, value in enumerate([0.5, 0.2, 0.4]):
    logger.report_scalar("metrics", "mAP50", value, iteration=i)
logger.report_single_value("best", 0.5)
weights = work / "weights.bin"
weights.write_bytes(b"weights" * 100)
model = OutputModel(task=task, name="base model")
model.update_weights(str(weights))
model.report_scalar("model metrics", "accuracy", 0.75, iteration=2)
task.flush(wait_for_uploads=True)
result["last_scalar_metrics"] = task.get_last_scalar_metrics()
result["reported_scalars"] = task.get_reported_scalars()
result["model_id"] = model.id
task_id = task.id
task.close()  # completed
task = Task.get_task(task_id=task_id)

# a finished Task refuses edits; a clone is a fresh, editable copy
try:
    task.set_parameters({"General/lr0": 0.1})
    result["edit_completed"] = "accepted"
except Exception as exc:
    result["edit_completed"] = f"{type(exc).__name__}: {exc}"
clone = Task.clone(source_task=task, name="clone of base")
clone.set_parameters({"General/lr0": 0.02})
result["clone"] = {
    "status": str(clone.get_status()),
    "parent": clone.parent,
    "lr0": clone.get_parameters()["General/lr0"],
    "output_models": len(clone.models["output"]),
}
Task.enqueue(clone, queue_name="default")
result["enqueued_status"] = str(Task.get_task(task_id=clone.id).get_status())
Task.dequeue(clone)
result["dequeued_status"] = str(Task.get_task(task_id=clone.id).get_status())

# ClearML datasets: create, upload, finalize, get, a local copy, delete
data = work / "data"
(data / "sub").mkdir(parents=True)
(data / "a.txt").write_text("alpha")
(data / "sub" / "b.txt").write_text("beta")
dataset = Dataset.create(dataset_project="conformance", dataset_name="toy data")
dataset.add_files(str(data))
dataset.upload()
dataset.finalize()
found = Dataset.get(dataset_project="conformance", dataset_name="toy data")
copy = Path(found.get_local_copy())
result["dataset"] = {
    "same_id": found.id == dataset.id,
    "files": sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()),
    "content": (copy / "sub" / "b.txt").read_text(),
}
Dataset.delete(dataset_id=dataset.id, force=True)
try:
    Dataset.get(dataset_id=dataset.id)
    result["dataset"]["after_delete"] = "found"
except Exception as exc:
    result["dataset"]["after_delete"] = type(exc).__name__
print("RESULT=" + json.dumps(result), flush=True)
