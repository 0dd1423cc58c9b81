"""What training on ``data="clearml://..."`` costs at start, against the test ClearML server.

    python benchmarks/dataset_start.py              # 400 images of 160 px, 3 runs each
    python benchmarks/dataset_start.py --images 1000 --runs 5

The time from a training process's start to Ultralytics' ``on_train_start`` (the dataset resolved and
checked, the dataloaders built), under the shim, online, for:

- ``local``: the dataset's local data yaml;
- ``clearml_first``: ``clearml://<id>`` in a fresh HOME: ClearML fetches the version into its cache;
- ``clearml_cached``: ``clearml://<id>`` again in the same HOME: ClearML's cache is reused.

Prints ``name: value`` lines (medians and maxima in seconds), as ``benchmarks/run.py`` does; the goal
is ``clearml_cached`` within the spread of ``local``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "examples"))

from agents import user_env  # noqa: E402
from clearml_api import ClearMLTestServer  # noqa: E402
from synthetic_data import make_detect_dataset  # noqa: E402


def figure(name: str, value: object) -> None:
    print(f"{name}: {value}", flush=True)


def _run(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *args], env=env, cwd=str(cwd), capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[:4])} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return proc


def _start_s(data: str, env: dict, root: Path) -> float:
    proc = _run([str(HERE / "dataset_start_child.py"), data, str(root / "runs")], env, root)
    return float(re.search(r"^START_S=([\d.]+)$", proc.stdout, re.M).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=400, help="training images (validation: a quarter)")
    parser.add_argument("--runs", type=int, default=3)
    opts = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="dataset-bench-"))
    server = ClearMLTestServer().start()
    try:
        data_yaml = make_detect_dataset(root / "data", n_train=opts.images, n_val=opts.images // 4, size=160)
        size_mb = sum(p.stat().st_size for p in (root / "data").rglob("*") if p.is_file()) / 1e6
        figure("dataset", f"{opts.images + opts.images // 4} images, {size_mb:.1f} MB")
        up = ["-m", "yolo_clearml_patch", "dataset", "upload", str(data_yaml), "--project", "bench", "--name", "data"]
        proc = _run([*up, "--no-progress"], user_env(server, root / "uploader"), root)
        uri = "clearml://" + re.search(r"^dataset id: (\w+)$", proc.stdout, re.M).group(1)
        times: dict[str, list[float]] = {"local": [], "clearml_first": [], "clearml_cached": []}
        for i in range(opts.runs):
            times["local"].append(_start_s(str(data_yaml), user_env(server, root / f"local-{i}"), root))
            env = user_env(server, root / f"home-{i}")
            times["clearml_first"].append(_start_s(uri, env, root))
            times["clearml_cached"].append(_start_s(uri, env, root))
        for name, values in times.items():
            figure(f"{name}_s", f"median {statistics.median(values):.2f}, max {max(values):.2f}")
        extra = statistics.median(times["clearml_cached"]) - statistics.median(times["local"])
        figure("cached_minus_local_s", f"{extra:+.2f}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
