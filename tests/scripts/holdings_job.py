"""Print how many events ``sync`` finds a Task holding, reading them ``--page`` at a time."""

import argparse

from clearml import Task

from yolo_clearml_patch.clearml_side.holdings import EVENTS_PAGE, holdings

parser = argparse.ArgumentParser()
parser.add_argument("task_id")
parser.add_argument("--page", type=int, default=EVENTS_PAGE)
args = parser.parse_args()
held = holdings(Task.get_task(task_id=args.task_id), page=args.page)
print(f"HELD_EVENTS={len(held.events)}")
print(f"HELD_MODELS={sorted(held.models)}")
