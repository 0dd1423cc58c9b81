"""Reading a ClearML offline session as written to disk (task.json, metrics.jsonl, models/)."""

from __future__ import annotations

import collections
import json
from dataclasses import dataclass
from pathlib import Path

SINGLE_VALUE_ITER = -(2**31)


class EventQueries:
    """Questions about a Task's events (``self.events``: ClearML event dicts), wherever they are stored."""

    events: list[dict]

    def keys(self) -> list[tuple]:
        """(type, title, series, iteration) of every event, repeats kept."""
        return [(e.get("type"), e.get("metric"), e.get("variant"), e.get("iter")) for e in self.events]

    def scalars(self, title: str, series: str) -> dict[int, float]:
        return {
            e["iter"]: e["value"]
            for e in self.events
            if e.get("type") == "training_stats_scalar" and e.get("metric") == title and e.get("variant") == series
        }

    def single_values(self) -> dict[str, float]:
        return {
            e["variant"]: e["value"]
            for e in self.events
            if e.get("type") == "training_stats_scalar" and e.get("iter") == SINGLE_VALUE_ITER
        }

    def titles(self, event_type: str) -> set[str]:
        return {e.get("metric") for e in self.events if e.get("type") == event_type}

    def plots(self, title: str) -> dict[str, dict]:
        """Plotly figures reported under ``title``, by series."""
        return {
            e["variant"]: json.loads(e["plot_str"])
            for e in self.events
            if e.get("type") == "plot" and e.get("metric") == title
        }

    def plot_image_source(self, title: str) -> str | None:
        """Where the image a plot reported as an image ("plot image") under ``title`` points."""
        figure = self.plots(title).get("plot image")
        images = (figure or {}).get("layout", {}).get("images") or [{}]
        return images[0].get("source")


@dataclass
class OfflineSession(EventQueries):
    folder: Path
    task: dict
    events: list[dict]

    @classmethod
    def load(cls, folder: Path) -> OfflineSession:
        events: list[dict] = []
        metrics = folder / "metrics.jsonl"
        if metrics.exists():
            for line in metrics.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    events.extend(row if isinstance(row, list) else [row])
        return cls(folder, json.loads((folder / "task.json").read_text()), events)

    def duplicates(self) -> dict[tuple, int]:
        return {k: n for k, n in collections.Counter(self.keys()).items() if n > 1}

    def images(self, title: str) -> set[tuple[str, int]]:
        return {
            (e["variant"], e["iter"])
            for e in self.events
            if e.get("type") == "training_debug_image" and e.get("metric") == title
        }

    def plot_image(self, title: str) -> Path | None:
        """The image file a plot reported as an image ("plot image") under ``title`` shows."""
        source = self.plot_image_source(title)
        return Path(source) if source else None

    def stored_plot_images(self, title: str, suffix: str) -> list[bytes]:
        """Every image stored in the session for plot ``title``, whatever name it was stored under."""
        return [f.read_bytes() for f in (self.folder / "data").rglob(f"{title}_plot image_*{suffix}")]

    def plot_image_bytes(self, title: str) -> bytes | None:
        """The bytes of the image a plot shows, if ClearML stored it in the session."""
        shown = self.plot_image(title)
        return shown.read_bytes() if shown is not None and shown.is_relative_to(self.folder) else None

    def stored_models(self) -> dict[str, bytes | None]:
        """The Task's output models: name -> the bytes ClearML stored in the session's ``models/``."""
        stored = {}
        for model in self.output_models():
            path = Path(model["weights"]["weights_filename"])
            inside = path.parent == self.folder / "models" and path.exists()
            stored[model["init"]["name"]] = path.read_bytes() if inside else None
        return stored

    def hyperparams(self, section: str = "General") -> dict[str, str]:
        return {k: v.get("value") for k, v in self.task.get("hyperparams", {}).get(section, {}).items()}

    def output_models(self) -> list[dict]:
        return self.task.get("offline_output_models") or []


def sessions_under(home: Path) -> list[OfflineSession]:
    """Every offline session under ``home``'s ClearML cache, oldest first."""
    root = home / ".clearml" / "cache" / "offline"
    folders = (
        sorted((p for p in root.glob("*") if p.is_dir()), key=lambda p: p.stat().st_mtime) if root.exists() else []
    )
    return [OfflineSession.load(p) for p in folders]
