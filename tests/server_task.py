"""Reading what the test ClearML server holds for one Task, with the same questions as an offline session."""

from __future__ import annotations

import collections
import json
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from clearml_api import ClearMLState
from offline_session import SINGLE_VALUE_ITER


@dataclass
class ServerTask:
    state: ClearMLState
    task_id: str

    @property
    def task(self) -> dict:
        with self.state.lock:
            return self.state.tasks[self.task_id]

    @property
    def events(self) -> list[dict]:
        return self.state.task_events(self.task_id)

    def keys(self) -> list[tuple]:
        return [(e.get("type"), e.get("metric"), e.get("variant"), e.get("iter")) for e in self.events]

    def duplicates(self) -> dict[tuple, int]:
        """Events received more than once (the real server would overwrite them, so a repeat is invisible there)."""
        return self.state.duplicates(self.task_id)

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

    def images(self, title: str) -> set[tuple[str, int]]:
        return {
            (e["variant"], e["iter"])
            for e in self.events
            if e.get("type") == "training_debug_image" and e.get("metric") == title and self.file(e.get("url"))
        }

    def plots(self, title: str) -> dict[str, dict]:
        return {
            e["variant"]: json.loads(e["plot_str"])
            for e in self.events
            if e.get("type") == "plot" and e.get("metric") == title
        }

    def file(self, url: str | None) -> bytes | None:
        """The bytes the file server holds at ``url``."""
        if not url:
            return None
        with self.state.lock:
            return self.state.files.get(unquote(urlparse(url).path.lstrip("/")))

    def plot_image_bytes(self, title: str) -> bytes | None:
        figure = self.plots(title).get("plot image")
        images = (figure or {}).get("layout", {}).get("images") or [{}]
        return self.file(images[0].get("source"))

    def hyperparams(self, section: str = "General") -> dict[str, str]:
        return {k: v.get("value") for k, v in self.task.get("hyperparams", {}).get(section, {}).items()}

    def stored_models(self) -> dict[str, bytes | None]:
        """The Task's output models: name -> the bytes stored at the model's URI."""
        with self.state.lock:
            ids = [m["model"] for m in self.task["models"].get("output", [])]
            models = [self.state.models[i] for i in ids]
        return {m["name"]: self.file(m.get("uri")) for m in models}

    def counts(self) -> collections.Counter:
        return collections.Counter(e["type"] for e in self.events)
