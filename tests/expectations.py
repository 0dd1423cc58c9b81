"""What a finished training should have reported, derived from the run's own files on disk."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from yolo_clearml_patch.reporting.upstream_titles import metric_title


def results_rows(run_dir: Path) -> list[dict[str, float]]:
    with open(run_dir / "results.csv", newline="") as f:
        return [{k.strip(): float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _monitor(key: tuple) -> bool:
    """ClearML's own resource monitor (``:monitor:machine``): it samples at the Task's current
    iteration, so a training slowed down by a loaded machine can get two samples at one iteration
    (the server keeps the last). Not what the shim reports."""
    return str(key[1]).startswith(":monitor:")


def _again_in_a_repeated_pass(key: tuple, repeated_epochs: frozenset) -> bool:
    if not repeated_epochs:
        return False
    return (key[0] == "training_stats_scalar" and key[3] in repeated_epochs) or key[0] == "training_debug_image"


def assert_complete(
    session: Any, run_dir: Path, plot_links: bool = True, synced: bool = False, repeated_epochs: frozenset = frozenset()
) -> None:
    """Every event upstream reports, plus the final tail, with the values of results.csv, nothing twice.

    ``session`` is an OfflineSession or a ServerTask (what the test ClearML server holds): both answer
    the same questions.

    ``plot_links=False``: each plot's image is in the session, but its link is not checked (ClearML
    renames an image after linking it when a child process reports to its parent's Task).

    ``synced=True``: reported by ``sync`` from the run directory, which knows each epoch's time only
    from results.csv's ``time`` column (Ultralytics 8.4; 8.3 has none).

    ``repeated_epochs``: epochs Ultralytics ran twice (NaN recovery). Their scalars may come twice,
    once per pass, never more (the server keeps the last), and so may the samples the repeated pass
    drew again (a Mosaic batch of that epoch); everything else still comes once.
    """
    again = {
        k: n
        for k, n in session.duplicates().items()
        if not _again_in_a_repeated_pass(k, repeated_epochs) and not _monitor(k)
    }
    assert again == {}, f"reported twice: {again}"
    assert all(n <= 2 for n in session.duplicates().values()), session.duplicates()
    rows = results_rows(run_dir)
    epochs = len(rows)

    # per-epoch scalars: train losses, lr, val losses, val metrics, with the values in results.csv
    for epoch, row in enumerate(rows):
        for column, value in row.items():
            if column in {"epoch", "time"}:
                continue
            prefix = column.split("/")[0]
            title = prefix if prefix in {"train", "lr"} else metric_title(column)  # as the installed upstream
            reported = session.scalars(title, column)
            assert epoch in reported, f"{title}/{column} missing at epoch {epoch}"
            assert abs(reported[epoch] - value) <= 1e-4 + 1e-3 * abs(value), (column, epoch, reported[epoch], value)
    if not synced or "time" in rows[0]:
        assert set(range(epochs)) <= set(session.scalars("Epoch Time", "Epoch Time"))

    # single values: model info at epoch 0, final metrics at train end
    singles = session.single_values()
    assert "model/parameters" in singles and singles["model/parameters"] > 1000
    metric_columns = {c for c in rows[0] if c.startswith("metrics/")}
    assert metric_columns <= set(singles), metric_columns - set(singles)

    # debug samples: Mosaic batches and validation images, as Ultralytics wrote them
    mosaic = {
        ("train.jpg", int(m.group(1))) for p in run_dir.glob("train_batch*.jpg") if (m := re.search(r"(\d+)", p.name))
    }
    assert mosaic and mosaic <= session.images("Mosaic")
    validation = {(re.sub(r"_batch\d+", "", p.name), 0) for p in run_dir.glob("val_batch0*.jpg")}
    assert validation and validation <= session.images("Validation")

    # final plots: every non-batch image Ultralytics saved in the run directory
    images = [p for p in run_dir.iterdir() if p.suffix in {".png", ".jpg"} and "batch" not in p.name]
    plots = {p.stem for p in images}
    assert plots and plots <= session.titles("plot"), plots - session.titles("plot")
    for plot in images:  # each one shows the very image Ultralytics saved, stored in the session
        if plot_links:
            assert session.plot_image_bytes(plot.stem) == plot.read_bytes(), plot.name
        else:
            stored = session.stored_plot_images(plot.stem, plot.suffix)
            assert stored == [plot.read_bytes()], (plot.name, len(stored))

    # hyperparameters under "General"; best.pt as the one output model, stored byte-identical
    params = session.hyperparams("General")
    assert params.get("epochs") == str(epochs) and params.get("name") == run_dir.name
    models = session.stored_models()
    assert list(models) == [run_dir.name], models.keys()
    assert models[run_dir.name] == (run_dir / "weights" / "best.pt").read_bytes()
