"""A dataset whose validation labels hold known mistakes, for detect, segment, pose and obb.

The training split holds the validation images with their true labels (four copies each), so a
short training learns them by heart. The validation split then hides mistakes:

- the class "circle" has no labels at all (its detections become false positives);
- one image of rectangles has an empty label file (every object in it is unlabelled).

So the images with unlabelled objects (``MISTAKES``) are the worst a model can do on, and the
per-class metrics of "circle" are 0 while those of "rect" are not.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

NAMES = ("rect", "circle")
SIZE = 64  # objects are told apart by shape and colour (rects blue, circles yellow: never the red drawn)
CELL = SIZE // 2
# the validation images: the classes of their objects (0 rect, 1 circle), one object per cell (2 x 2)
LAYOUT = ([0], [0, 0], [0], [0, 0], [1], [1, 1], [0, 1], [0, 0])
EMPTY_LABELS = 7  # this image's objects are all unlabelled
MISTAKES = {f"{i:04d}.jpg" for i, classes in enumerate(LAYOUT) if 1 in classes or i == EMPTY_LABELS}
COPIES = 4


def _image(rng: np.random.Generator, classes: list[int]) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """An image and its objects as (class, outline polygon in pixels)."""
    img = rng.integers(0, 60, (SIZE, SIZE, 3), dtype=np.uint8)
    cells = rng.permutation(4)[: len(classes)]
    objects = []
    for cls, cell in zip(classes, cells):
        w, h = (int(v) for v in rng.integers(CELL // 2, CELL * 4 // 5 + 1, 2))
        x0 = (cell % 2) * CELL + int(rng.integers(1, CELL - w))
        y0 = (cell // 2) * CELL + int(rng.integers(1, CELL - h))
        low, high = [int(v) for v in rng.integers(0, 90, 2)], [int(v) for v in rng.integers(150, 256, 2)]
        colour = (high[0], low[0], low[1]) if cls == 0 else (low[0], high[0], high[1])  # BGR: blue, yellow
        if cls == 0:
            outline = np.array([[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]])
            cv2.rectangle(img, (x0, y0), (x0 + w, y0 + h), colour, -1)
        else:
            outline = cv2.ellipse2Poly((x0 + w // 2, y0 + h // 2), (w // 2, h // 2), 0, 0, 360, 20)
            cv2.fillPoly(img, [outline], colour)
        objects.append((cls, outline.astype(float)))
    return img, objects


def _label(task: str, cls: int, outline: np.ndarray) -> str:
    x0, y0 = outline.min(0)
    x1, y1 = outline.max(0)
    box = [(x0 + x1) / 2 / SIZE, (y0 + y1) / 2 / SIZE, (x1 - x0) / SIZE, (y1 - y0) / SIZE]
    if task == "segment":
        return " ".join([str(cls), *(f"{v / SIZE:.6f}" for v in outline.reshape(-1))])
    if task == "obb":  # the four corners of the (here unrotated) box
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        return " ".join([str(cls), *(f"{v / SIZE:.6f}" for corner in corners for v in corner)])
    if task == "pose":  # four keypoints: the corners of the object's box, visible
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        points = [f"{x / SIZE:.6f} {y / SIZE:.6f} 2" for x, y in corners]
        return " ".join([str(cls), *(f"{v:.6f}" for v in box), *points])
    return " ".join([str(cls), *(f"{v:.6f}" for v in box)])


def make_known_mistakes(root: Path, task: str = "detect", seed: int = 3) -> Path:
    """Write the dataset for ``task`` (detect, segment, pose or obb) under ``root``; return its data yaml."""
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    for i, classes in enumerate(LAYOUT):
        img, objects = _image(rng, classes)
        true = "".join(_label(task, cls, outline) + "\n" for cls, outline in objects)
        for copy in range(COPIES):
            cv2.imwrite(str(root / "images" / "train" / f"{i:04d}_{copy}.jpg"), img)
            (root / "labels" / "train" / f"{i:04d}_{copy}.txt").write_text(true)
        cv2.imwrite(str(root / "images" / "val" / f"{i:04d}.jpg"), img)
        hidden = [] if i == EMPTY_LABELS else [(c, o) for c, o in objects if c != 1]
        (root / "labels" / "val" / f"{i:04d}.txt").write_text("".join(_label(task, c, o) + "\n" for c, o in hidden))
    names = "".join(f"  {i}: {n}\n" for i, n in enumerate(NAMES))
    extra = "kpt_shape: [4, 3]\nflip_idx: [1, 0, 3, 2]\n" if task == "pose" else ""
    data = root / "data.yaml"
    data.write_text(f"path: {root}\ntrain: images/train\nval: images/val\n{extra}names:\n{names}")
    return data
