"""The architecture contract (setup.cfg's import-linter contracts) holds, and ARCHITECTURE.md names
every module of the package."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "yolo_clearml_patch"


def test_import_contracts_are_kept():
    """Layers import only downward (imports inside functions count), and the cheap path, the ClearML
    side and everything but the Ultralytics side stay free of what they must not import."""
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout and "KEPT" in proc.stdout


def test_architecture_md_names_every_module():
    text = (REPO / "ARCHITECTURE.md").read_text()
    modules = [
        p.relative_to(PACKAGE).with_suffix("").as_posix()
        for p in PACKAGE.rglob("*.py")
        if p.name not in {"__init__.py", "__main__.py"} and "__pycache__" not in p.parts
    ]
    named = {word for code in re.findall(r"`([^`]+)`", text) for word in re.findall(r"\w+", code)}
    missing = [m for m in modules if m.split("/")[-1] not in named]
    assert not missing, f"ARCHITECTURE.md does not name: {missing}"
    for layer in ("cli", "ultralytics_side", "reporting", "clearml_side", "base"):
        assert f"`{layer}/`" in text, layer
