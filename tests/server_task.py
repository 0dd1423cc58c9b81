"""Reading what the test ClearML server holds for one Task, with the same questions as an offline session."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from clearml_api import ClearMLState
from offline_session import EventQueries


@dataclass
class ServerTask(EventQueries):
    state: ClearMLState
    task_id: str

    @property
    def task(self) -> dict:
        with self.state.lock:
            return self.state.tasks[self.task_id]

    @property
    def events(self) -> list[dict]:
        return self.state.task_events(self.task_id)

    def duplicates(self) -> dict[tuple, int]:
        """Events received more than once (the real server would overwrite them, so a repeat is invisible there)."""
        return self.state.duplicates(self.task_id)

    def images(self, title: str) -> set[tuple[str, int]]:
        return {
            (e["variant"], e["iter"])
            for e in self.events
            if e.get("type") == "training_debug_image" and e.get("metric") == title and self.file(e.get("url"))
        }

    def file(self, url: str | None) -> bytes | None:
        """The bytes the file server holds at ``url``."""
        if not url:
            return None
        with self.state.lock:
            return self.state.files.get(unquote(urlparse(url).path.lstrip("/")))

    def plot_image_bytes(self, title: str) -> bytes | None:
        return self.file(self.plot_image_source(title))

    def stored_plot_images(self, title: str, suffix: str) -> list[bytes]:
        """Every image stored for this Task's plot ``title``, whatever name it was stored under."""
        with self.state.lock:
            paths = self.state.files.keys()  # a FileStore, not a dict
            names = [k for k in paths if f".{self.task_id}/" in k]
            return [
                self.state.files.get(k)
                for k in names
                if f"/{title}_plot image_" in "/" + k.rsplit("/", 1)[-1] and k.endswith(suffix)
            ]

    def hyperparams(self, section: str = "General") -> dict[str, str]:
        return {k: v.get("value") for k, v in self.task.get("hyperparams", {}).get(section, {}).items()}

    def stored_models(self) -> dict[str, bytes | None]:
        """The Task's output models: name -> the bytes stored at the model's URI."""
        with self.state.lock:
            ids = [m["model"] for m in self.task["models"].get("output", [])]
            models = [self.state.models[i] for i in ids]
        return {m["name"]: self.file(m.get("uri")) for m in models}
