"""``yolo-clearml dataset upload DATA_YAML --project P --name N``: a local YOLO dataset as a ClearML
dataset version, to train on anywhere with ``data=clearml://...``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..base.settings import ConfigurationError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="yolo-clearml dataset",
        description="ClearML datasets for Ultralytics: upload a local YOLO dataset as a dataset version.",
    )
    verbs = parser.add_subparsers(dest="verb", required=True)
    up = verbs.add_parser("upload", help="upload a local YOLO dataset (its data yaml) as a ClearML dataset version")
    up.add_argument("data", type=Path, help="the dataset's YOLO data yaml (its path:, train:, val:, names:)")
    up.add_argument("--project", required=True, help="the ClearML project of the dataset")
    up.add_argument("--name", required=True, help="the dataset's name in that project")
    up.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str]) -> int:
    """Run ``dataset upload``; 0 on success, 2 on bad input or configuration (nothing created)."""
    args = _parser().parse_args(argv)
    from ..clearml_side.dataset_upload import read_local, upload
    from ..clearml_side.datasets import SCHEME

    try:
        local = read_local(args.data)
        print(f"{args.data}: {len(local.files)} files under {local.root}")
        done = upload(local, args.project, args.name, progress=not args.no_progress)
    except ConfigurationError as exc:
        print(f"yolo-clearml dataset: {exc}", file=sys.stderr)
        return 2
    if done.created:
        print(f"new version {done.version}: {done.added} added, {done.modified} changed, {done.removed} removed")
    else:
        print(f"unchanged: the latest version {done.version} holds the same files; no new version")
    print(f"dataset id: {done.id}")
    by_name = f"{SCHEME}{args.project}/{args.name}" + (f"@{done.version}" if done.version else "")
    print(f"train with: data={SCHEME}{done.id}  (or data={by_name})")
    return 0
