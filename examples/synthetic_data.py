"""Generate tiny image datasets for YOLO training without any download.

Detection: coloured rectangles (class 0) and circles (class 1) on noise, with YOLO labels.
Classification: one folder per class (``rect`` / ``circle``) under ``train/`` and ``val/``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

CLASS_NAMES = ("rect", "circle")


def _draw_image(rng: np.random.Generator, size: int, n_objects: int) -> tuple[np.ndarray, list[tuple]]:
    """Return one image and its YOLO labels ``(cls, xc, yc, w, h)``, normalised."""
    img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    labels = []
    for _ in range(n_objects):
        cls = int(rng.integers(0, len(CLASS_NAMES)))
        w, h = (int(v) for v in rng.integers(size // 6, size // 3, 2))
        x0, y0 = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
        colour = tuple(int(c) for c in rng.integers(120, 256, 3))
        if cls == 0:
            cv2.rectangle(img, (x0, y0), (x0 + w, y0 + h), colour, -1)
        else:
            cv2.ellipse(img, (x0 + w // 2, y0 + h // 2), (w // 2, h // 2), 0, 0, 360, colour, -1)
        labels.append((cls, (x0 + w / 2) / size, (y0 + h / 2) / size, w / size, h / size))
    return img, labels


def make_detect_dataset(
    root: str | Path, n_train: int = 16, n_val: int = 8, size: int = 64, seed: int = 0, names: tuple = CLASS_NAMES
) -> Path:
    """Write a detection dataset under ``root`` and return its data YAML path.

    Objects are of the first two classes; ``names`` may list more (to test many-class datasets).
    """
    root = Path(root).resolve()
    rng = np.random.default_rng(seed)
    for split, count in (("train", n_train), ("val", n_val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            img, labels = _draw_image(rng, size, int(rng.integers(1, 4)))
            cv2.imwrite(str(root / "images" / split / f"{i:04d}.jpg"), img)
            lines = [f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}" for c, x, y, w, h in labels]
            (root / "labels" / split / f"{i:04d}.txt").write_text("\n".join(lines) + "\n")
    names_yaml = "\n".join(f"  {i}: {n}" for i, n in enumerate(names))
    data_yaml = root / "data.yaml"
    data_yaml.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names_yaml}\n")
    return data_yaml


def make_classify_dataset(root: str | Path, n_per_class: int = 8, size: int = 32, seed: int = 0) -> Path:
    """Write a 2-class classification dataset (``train/`` and ``val/``) and return its root."""
    root = Path(root).resolve()
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        for cls, name in enumerate(CLASS_NAMES):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n_per_class):
                img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
                colour = tuple(int(c) for c in rng.integers(120, 256, 3))
                if cls == 0:
                    cv2.rectangle(img, (size // 4, size // 4), (3 * size // 4, 3 * size // 4), colour, -1)
                else:
                    cv2.circle(img, (size // 2, size // 2), size // 4, colour, -1)
                cv2.imwrite(str(folder / f"{i:04d}.jpg"), img)
    return root
