"""Print how many events ``sync`` finds a Task holding, reading them ``--page`` at a time."""

import argparse

from clearml import Task

from yolo_clearml_patch import run_sync

parser = argparse.ArgumentParser()
parser.add_argument("task_id")
parser.add_argument("--page", type=int, default=run_sync.EVENTS_PAGE)
args = parser.parse_args()
run_sync.EVENTS_PAGE = args.page
held = run_sync.holdings(Task.get_task(task_id=args.task_id))
print(f"HELD_EVENTS={len(held.events)}")
print(f"HELD_MODELS={sorted(held.models)}")
