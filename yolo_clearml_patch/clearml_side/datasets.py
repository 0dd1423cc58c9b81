"""ClearML datasets as Ultralytics data: ``clearml://`` resolved to a local copy, and its lineage.

``clearml://<dataset id>`` or ``clearml://<project>/<name>[@<version>]`` names a finalized ClearML
dataset version. :func:`resolve` fetches it into ClearML's cache (``get_local_copy``: a second run on
the same version reuses the copy, checked by ClearML) and finds the YOLO data yaml at the copy's
root. The cached files are never written: the yaml Ultralytics reads is a derived one beside the
cache (``<cache>/yolo_clearml_patch/datasets/<id>/``), with ``path:`` pointed at the copy. Each
process resolves once; every process of a machine shares ClearML's cache.

:func:`record_input` records the dataset on a Task as ClearML's own ``Dataset.get(alias=...)`` does:
the hyperparameter ``Datasets/data`` (the id; editable in a clone, and read back on an agent) and the
runtime properties ``datasets`` and ``orig_datasets.<name>/<version>``.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base import settings
from ..base.files import write_atomically
from ..base.log import logger
from ..base.settings import ConfigurationError
from .offline_policy import load_clearml_config, server_unusable
from .queues import field_of
from .remote_launch import running_on_an_agent
from .task_choice import detach_from_parent_task

SCHEME = "clearml://"
SECTION = "Datasets"  # ClearML's hyperparameter section for dataset inputs
ALIAS = "data"  # the Ultralytics argument the dataset is given as
SPLITS = ("train", "val", "test", "minival")
INHERITED_VAR = "YOLO_CLEARML_DATASETS"  # what this process resolved, for its child processes (DDP workers)
_ID = re.compile(r"^[0-9a-f]{32}$")


class DatasetError(ConfigurationError):
    """A ``clearml://`` dataset that cannot be used; the message names it."""


@dataclass(frozen=True)
class DatasetRef:
    """What a ``clearml://`` URI names: an id, or a project, a name and maybe a version."""

    uri: str
    id: str | None = None
    project: str | None = None
    name: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class LocalDataset:
    """A resolved dataset version: its identity, the cached copy, and what Ultralytics is given."""

    uri: str
    id: str
    name: str
    version: str | None
    root: Path
    data: str  # the derived data yaml; the copy's root for classification


def is_dataset_uri(value: Any) -> bool:
    """Whether ``value`` is a ``clearml://`` dataset URI."""
    return isinstance(value, str) and value.startswith(SCHEME)


def parse(uri: str) -> DatasetRef:
    """``clearml://<id>`` or ``clearml://<project path>/<name>[@<version>]``."""
    rest = uri[len(SCHEME) :].strip("/")
    if _ID.match(rest):
        return DatasetRef(uri, id=rest)
    path, _, version = rest.partition("@")
    project, _, name = path.rpartition("/")
    if not project or not name or (version == "" and "@" in rest):
        raise DatasetError(
            f"{uri!r} is not a ClearML dataset URI: use clearml://<dataset id> or"
            " clearml://<project>/<name>[@<version>]"
        )
    return DatasetRef(uri, project=project, name=name, version=version or None)


_resolved: dict[tuple[str, bool], LocalDataset] = {}
_lock = threading.Lock()


def resolve(uri: str, classify: bool = False) -> LocalDataset:
    """The local copy of ``uri``, fetched into ClearML's cache once per process; raises DatasetError.

    ``classify``: Ultralytics is given the copy's root (its class folders), not a data yaml.
    A dataset *id* already fetched on this machine (a finalized version never changes) is taken from
    the cache without asking the server, if its copy still holds all its files; not on an agent,
    where the Task may name another id.
    """
    with _lock:
        known = _resolved.get((uri, classify)) or _inherited(uri, classify)
        if known is not None and Path(known.data).exists():
            _resolved[(uri, classify)] = known
            return known
        ref = parse(uri)
        offline = os.environ.get("CLEARML_OFFLINE_MODE", "").strip().lower() in {"1", "true", "yes", "on"}
        if offline or settings.offline() == "1":
            need_server(uri, cached=True)  # raises, naming the cached copy
        local = _fetched_before(ref, classify)
        if local is None:
            need_server(uri, cached=True)
            local = _fetch(_as_edited_on_the_agent(ref), classify)
            logger().info(
                f"{uri} is ClearML dataset {local.id} ({local.name} {local.version}), local copy {local.root}"
            )
        else:
            logger().info(f"{uri} is ClearML dataset {local.id}, local copy {local.root} (fetched before)")
        _resolved[(uri, classify)] = local
        _hand_down(local, classify)
        return local


def _fetch(ref: DatasetRef, classify: bool) -> LocalDataset:
    dataset = _get(ref)
    try:
        root = Path(dataset.get_local_copy())
    except Exception as exc:
        raise DatasetError(f"{ref.uri}: the dataset {dataset.id} could not be fetched: {exc}") from exc
    data = str(root) if classify else str(derived_yaml(ref.uri, dataset.id, root))
    local = LocalDataset(ref.uri, dataset.id, dataset.name, getattr(dataset, "version", None), root, data)
    _remember(local, classify)
    return local


def _copy_files(root: Path) -> int:
    """The files of a copy, as ClearML fetched them (Ultralytics' ``*.cache`` files left out)."""
    return sum(1 for p in root.rglob("*") if not p.name.endswith(".cache") and p.is_file())


def _fetched_before(ref: DatasetRef, classify: bool) -> LocalDataset | None:
    """A dataset id fetched before on this machine whose copy is whole (see :func:`resolve`)."""
    if not ref.id or running_on_an_agent():
        return None
    item = _index().get(_key(ref.uri, classify))
    try:
        local = _from_item(ref.uri, item)
        if local.id == ref.id and Path(local.data).exists() and _copy_files(local.root) == item["files"]:
            return local
    except Exception:
        pass
    return None


def _as_item(local: LocalDataset) -> dict[str, Any]:
    """``local`` as JSON (the index beside the cache, and what a process hands down), without its URI."""
    return {"id": local.id, "name": local.name, "version": local.version, "root": str(local.root), "data": local.data}


def _from_item(uri: str, item: dict[str, Any]) -> LocalDataset:
    return LocalDataset(uri, item["id"], item["name"], item["version"], Path(item["root"]), item["data"])


def _key(uri: str, classify: bool) -> str:
    return f"{'classify ' if classify else ''}{uri}"


def _inherited(uri: str, classify: bool) -> LocalDataset | None:
    """What the parent process resolved ``uri`` to (a DDP worker, a tuner iteration): the same
    version from the same cache, without asking the server again."""
    try:
        local = _from_item(uri, json.loads(os.environ.get(INHERITED_VAR) or "{}").get(_key(uri, classify)))
    except Exception:
        return None
    logger().info(f"{uri} is ClearML dataset {local.id}, local copy {local.root} (as the parent process resolved it)")
    return local


def _hand_down(local: LocalDataset, classify: bool) -> None:
    """Child processes started from now on (DDP workers) take ``local`` as it is."""
    try:
        known = json.loads(os.environ.get(INHERITED_VAR) or "{}")
    except ValueError:
        known = {}
    known[_key(local.uri, classify)] = _as_item(local)
    os.environ[INHERITED_VAR] = json.dumps(known)


def need_server(subject: str, cached: bool = False) -> None:
    """``clearml://`` needs a server that answers; else a DatasetError about ``subject`` (with
    ``cached``: naming the cached copy of the URI ``subject``, if there is one)."""
    from clearml import Task

    load_clearml_config()
    if Task.is_offline() or settings.offline() == "1":
        reason: str | None = "ClearML is in offline mode"
    else:
        reason = server_unusable()
    if reason is None:
        return
    index = _index() if cached else {}
    copy = index.get(_key(subject, False)) or index.get(_key(subject, True))
    hint = ""
    if copy and Path(copy.get("data", "")).exists():
        hint = f" A local copy of it (dataset {copy['id']}) is cached here: train with data={copy['data']}"
    raise DatasetError(f"{subject}: clearml:// data needs a ClearML server, and {reason}.{hint}")


def _as_edited_on_the_agent(ref: DatasetRef) -> DatasetRef:
    """On a clearml-agent: the dataset id recorded in the Task's ``Datasets/data``, when it was
    recorded for this same URI (the id may have been edited in the UI); else the URI as it is."""
    if not running_on_an_agent():
        return ref
    from clearml.backend_api.session.client import APIClient
    from clearml.config import get_remote_task_id

    try:
        task = APIClient().tasks.get_by_id(task=get_remote_task_id())
        item = (field_of(task, "hyperparams") or {}).get(SECTION, {}).get(ALIAS)
    except Exception as exc:
        logger().debug(f"reading {SECTION}/{ALIAS} of the agent's Task: {exc}")
        return ref
    value, description = str(field_of(item, "value") or ""), field_of(item, "description")
    if item is None or description != ref.uri or not _ID.match(value):
        return ref
    if value != ref.id:
        logger().warning(f"{ref.uri}: the Task's {SECTION}/{ALIAS} names dataset {value}: using it")
    return DatasetRef(ref.uri, id=value)


def _get(ref: DatasetRef) -> Any:
    from clearml import Dataset

    detach_from_parent_task()  # Dataset.get asks for the current Task: never the parent process's
    try:
        if ref.id:
            dataset = Dataset.get(dataset_id=ref.id, _dont_populate_runtime_props=True)
        else:
            dataset = Dataset.get(
                dataset_project=ref.project,
                dataset_name=ref.name,
                dataset_version=ref.version,
                only_completed=True,
                _dont_populate_runtime_props=True,
            )
    except Exception as exc:
        what = f"dataset id {ref.id}" if ref.id else f"project {ref.project!r}, name {ref.name!r}"
        version = f", version {ref.version!r}" if ref.version else ""
        raise DatasetError(
            f"{ref.uri}: no finalized ClearML dataset with {what}{version} ({short_error(exc)})"
        ) from exc
    if not dataset.is_final():
        raise DatasetError(f"{ref.uri}: the dataset version {dataset.id} is not finalized (still being uploaded?)")
    return dataset


def short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def derived_yaml(uri: str, dataset_id: str, root: Path) -> Path:
    """The data yaml Ultralytics reads for the copy at ``root``: the one yaml at the root, checked,
    with ``path:`` set to the copy; written beside ClearML's cache, never into it."""
    import yaml

    found = sorted(p.name for p in root.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())
    if not found:
        raise DatasetError(f"{uri}: the dataset {dataset_id} has no YOLO data yaml at its root")
    if len(found) > 1:
        raise DatasetError(f"{uri}: the dataset {dataset_id} has several data yamls at its root: {', '.join(found)}")
    try:
        data = yaml.safe_load((root / found[0]).read_text())
    except Exception as exc:
        raise DatasetError(f"{uri}: {found[0]} in dataset {dataset_id} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise DatasetError(f"{uri}: {found[0]} in dataset {dataset_id} is not a YOLO data yaml (not a mapping)")
    outside = [f"{k}: {p}" for k in SPLITS for p in _split_paths(data.get(k)) if not inside(root, p)]
    if outside:
        raise DatasetError(
            f"{uri}: {found[0]} in dataset {dataset_id} has split paths outside the dataset: {'; '.join(outside)}"
        )
    data = {k: v for k, v in data.items() if k != "download"}  # Ultralytics would run a download script
    data["path"] = str(root)
    target = own_cache() / dataset_id / found[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, yaml.safe_dump(data, sort_keys=False))
    return target


def _split_paths(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def inside(root: Path, path: str) -> bool:
    """Whether ``path`` (relative to ``root``) stays inside ``root``, without following links."""
    if os.path.isabs(path):
        return False
    joined = os.path.normpath(os.path.join(str(root), path))
    return joined == os.path.normpath(str(root)) or joined.startswith(os.path.normpath(str(root)) + os.sep)


def own_cache() -> Path:
    """The shim's folder beside ClearML's default cache (ClearML's cache cleaning never removes it);
    found without importing clearml, so that a dataset fetched before costs nothing at start."""
    base = os.environ.get("CLEARML_CACHE_DIR") or os.path.join("~", ".clearml", "cache")
    return Path(base).expanduser() / "yolo_clearml_patch" / "datasets"


def _index() -> dict[str, Any]:
    try:
        return json.loads((own_cache() / "index.json").read_text())
    except Exception:
        return {}


def _remember(local: LocalDataset, classify: bool) -> None:
    """Which copy a URI resolved to: offline, the error names it; by id, the next run takes it."""
    try:
        index = _index()
        index[_key(local.uri, classify)] = {**_as_item(local), "files": _copy_files(local.root)}
        own_cache().mkdir(parents=True, exist_ok=True)
        write_atomically(own_cache() / "index.json", json.dumps(index, indent=1))
    except OSError as exc:
        logger().debug(f"recording {local.uri} in the datasets index: {exc}")


def record_input(task: Any, local: LocalDataset) -> None:
    """Record ``local`` on ``task`` as ClearML records a dataset input (see the module's docstring)."""
    task.set_parameter(f"{SECTION}/{ALIAS}", local.id, description=local.uri)
    runtime = dict(task._get_runtime_properties() or {})
    used = list(runtime.get("datasets") or [])
    if local.id not in used:
        used.append(local.id)
    label = f"{local.name}/{local.version}" if local.version else local.name
    task._set_runtime_properties({"datasets": used, f"orig_datasets.{label}": local.id})
