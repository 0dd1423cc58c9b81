"""A local YOLO dataset uploaded as a ClearML dataset version (``yolo-clearml dataset upload``).

The version holds the images, the labels and the data yaml rewritten with relative split paths and
no ``path:`` (a ``clearml://`` training points it at its local copy). The files are compared by
content (sha256, as ClearML hashes them) with the latest finalized version of the same project and
name: unchanged data makes no new version; changed data makes a child version that uploads only what
changed (ClearML's ``sync_folder``). A failed upload deletes its unfinished version.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .datasets import SPLITS, DatasetError, inside, need_server, short_error

SKIPPED_SUFFIXES = {".cache"}  # Ultralytics' label caches: rebuilt wherever the data is used


@dataclass
class LocalYoloDataset:
    """A local YOLO dataset: its root, its yaml rewritten for the upload, and the files under the root."""

    yaml_name: str
    root: Path
    data: dict[str, Any]
    files: list[str] = field(default_factory=list)  # posix paths relative to the root


@dataclass
class Uploaded:
    """The version that holds the data: new, or the latest one when nothing changed."""

    id: str
    version: str | None
    created: bool
    added: int = 0
    modified: int = 0
    removed: int = 0


def read_local(data_yaml: Path) -> LocalYoloDataset:
    """Read and check a local YOLO data yaml; raises DatasetError (nothing is written)."""
    import yaml

    if not data_yaml.is_file():
        raise DatasetError(f"{data_yaml}: no such data yaml")
    try:
        data = yaml.safe_load(data_yaml.read_text())
    except Exception as exc:
        raise DatasetError(f"{data_yaml} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not any(k in data for k in ("train", "val")):
        raise DatasetError(f"{data_yaml} is not a YOLO data yaml (no train: or val:)")
    root = _root(data_yaml, data.get("path"))
    if not root.is_dir():
        raise DatasetError(f"{data_yaml}: its dataset root {root} is not a directory")
    splits, outside = {}, []
    for key in SPLITS:
        value = data.get(key)
        if value is None:
            continue
        paths = [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
        relative = [_relative(root, p) for p in paths]
        outside += [f"{key}: {p}" for p, r in zip(paths, relative) if r is None]
        if not outside:
            splits[key] = relative if isinstance(value, (list, tuple)) else relative[0]
        for r in relative:
            if r is not None and not (root / r).exists():
                raise DatasetError(f"{data_yaml}: the {key} split {root / r} does not exist")
    if outside:
        raise DatasetError(f"{data_yaml}: split paths outside the dataset root {root}: {'; '.join(outside)}")
    rewritten = {k: v for k, v in data.items() if k not in {"path", "download"}}
    rewritten.update(splits)
    files = sorted(  # the root's yamls are left out: the copy's root holds only the rewritten one
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix not in SKIPPED_SUFFIXES and not (p.parent == root and p.suffix in {".yaml", ".yml"})
    )
    return LocalYoloDataset(data_yaml.name, root, rewritten, files)


def _root(data_yaml: Path, path: Any) -> Path:
    """The dataset root as Ultralytics reads it: ``path:`` (relative: to the working directory if it
    exists there, else to the yaml's folder), or the yaml's folder."""
    if not path:
        return data_yaml.resolve().parent
    given = Path(str(path)).expanduser()
    if given.is_absolute():
        return given
    return given.resolve() if given.exists() else (data_yaml.resolve().parent / given).resolve()


def _relative(root: Path, path: str) -> str | None:
    """``path`` relative to ``root`` (posix), or None when it leaves the root."""
    if os.path.isabs(path):
        try:
            return Path(os.path.normpath(path)).relative_to(root.resolve()).as_posix()
        except ValueError:
            return None
    return Path(os.path.normpath(path)).as_posix() if inside(root, path) else None


def upload(local: LocalYoloDataset, project: str, name: str, progress: bool = True) -> Uploaded:
    """Upload ``local`` as the next version of ``project``/``name`` (see the module's docstring)."""
    import yaml
    from clearml import Dataset

    need_server(f"uploading {project}/{name}")
    staging = Path(tempfile.mkdtemp(prefix="yolo_clearml_dataset_"))
    try:
        for rel in local.files:
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(local.root / rel, target)
        (staging / local.yaml_name).write_text(yaml.safe_dump(local.data, sort_keys=False))
        hashes = _hashes(staging, [*local.files, local.yaml_name], progress)
        latest = _latest(project, name)
        before = {rel: entry.hash for rel, entry in latest.file_entries_dict.items()} if latest else {}
        if latest is not None and before == hashes:
            return Uploaded(latest.id, latest.version, created=False)
        added = sum(rel not in before for rel in hashes)
        modified = sum(rel in before and before[rel] != h for rel, h in hashes.items())
        removed = sum(rel not in hashes for rel in before)
        try:
            dataset = Dataset.create(
                dataset_name=name, dataset_project=project, parent_datasets=[latest.id] if latest else None
            )
        except Exception as exc:
            raise DatasetError(f"ClearML did not create the dataset {project}/{name}: {short_error(exc)}") from exc
        try:
            dataset.sync_folder(str(staging))
            dataset.upload(show_progress=progress)
            dataset.finalize()
        except BaseException as exc:
            _delete_unfinished(dataset.id)
            if isinstance(exc, Exception):
                raise DatasetError(f"uploading {project}/{name} failed: {short_error(exc)}") from exc
            raise
        return Uploaded(dataset.id, dataset.version, True, added, modified, removed)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _hashes(staging: Path, files: list[str], progress: bool) -> dict[str, str]:
    """sha256 of each file's content, as ClearML hashes dataset files; a progress bar over the files."""
    from tqdm import tqdm

    hashes = {}
    for rel in tqdm(files, desc="hashing", unit="file", disable=not progress, file=sys.stderr):
        digest = hashlib.sha256()
        with open(staging / rel, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        hashes[rel] = digest.hexdigest()
    return hashes


def _latest(project: str, name: str) -> Any:
    """The latest finalized version of ``project``/``name``, or None when there is none yet."""
    from clearml import Dataset

    try:
        return Dataset.get(
            dataset_project=project, dataset_name=name, only_completed=True, _dont_populate_runtime_props=True
        )
    except ValueError:  # ClearML: "Could not find Dataset ..."
        return None


def _delete_unfinished(dataset_id: str) -> None:
    from clearml import Dataset

    try:
        Dataset.delete(dataset_id=dataset_id, force=True)
        print(f"the unfinished dataset version {dataset_id} was deleted", file=sys.stderr)
    except Exception as exc:
        print(f"the unfinished dataset version {dataset_id} could not be deleted: {exc}", file=sys.stderr)
