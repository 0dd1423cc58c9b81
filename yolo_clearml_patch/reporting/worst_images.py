"""The worst validation images of one validation: ranked by F1, kept in a bounded heap, drawn.

Ranking uses the matches Ultralytics already made (its per-prediction true-positive flags at IoU 0.5),
for the predictions at or above a confidence threshold (0.25, as YOLOv5's ClearML logger drew):
``F1 = 2 TP / (2 TP + FP + FN)``; an image with nothing to find and nothing found has F1 = 1. Ties go
to the image with more mistakes. Only the ``N`` worst are kept (:class:`WorstImages`); an image's
boxes are copied only when it enters the heap, so memory is bounded by ``N``, not by the validation
set, and the training thread only compares numbers.

Drawing (:func:`draw`) happens off the training thread: the image file is read again, the boxes are
mapped back to it, and true positives (green), false positives (red) and missed objects (orange)
are drawn with class names and confidences, with a legend.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CONF = 0.25  # predictions at or above this confidence are the ones judged and drawn
MAX_DRAWN_PREDICTIONS = 100
TP_COLOR, FP_COLOR, FN_COLOR = (60, 200, 60), (40, 40, 230), (0, 150, 255)  # BGR: green, red, orange


@dataclass
class Judged:
    """One image's counts at the threshold."""

    tp: int
    fp: int
    fn: int

    @property
    def f1(self) -> float:
        found = 2 * self.tp + self.fp + self.fn
        return 1.0 if found == 0 else 2 * self.tp / found


def judge_batch(
    tps: list[np.ndarray], confs: list[np.ndarray], targets: np.ndarray, threshold: float = CONF
) -> list[Judged]:
    """TP, FP and FN of each image of a batch, in one numpy pass: ``tps[i]`` are Ultralytics'
    true-positive flags (IoU 0.5) of image ``i``'s predictions, ``confs[i]`` their confidences,
    ``targets[i]`` its number of labelled objects; the predictions at or above ``threshold`` count."""
    size = len(confs)
    if not size:
        return []
    image = np.repeat(np.arange(size), [len(c) for c in confs])
    confident = np.concatenate(confs) >= threshold if len(image) else np.zeros(0, bool)
    found = np.bincount(image, weights=confident, minlength=size).astype(int)
    hits_flags = confident & np.concatenate(tps).astype(bool) if len(image) else confident
    hits = np.bincount(image, weights=hits_flags, minlength=size).astype(int)
    return [Judged(int(h), int(f - h), max(0, int(t) - int(h))) for h, f, t in zip(hits, found, targets)]


def slot_history(epochs: int) -> int:
    """How many iterations a worst-image slot keeps: every epoch's validation and the final one."""
    return int(epochs or 0) + 2


@dataclass
class ImageRecord:
    """What drawing one image needs, as CPU numpy, in the validator's letterboxed pixels.

    Boxes are polygons (4 corners; rotated for obb). Masks (segment) are uint8 at the mask
    resolution of the letterboxed batch; keypoints (pose) are (n, k, 2 or 3).
    """

    file: str
    judged: Judged
    imgsz: tuple[int, int]  # (h, w) of the letterboxed batch
    ori_shape: tuple[int, int]
    ratio_pad: Any  # ((gain_y, gain_x), (pad_x, pad_y)), as Ultralytics gives it
    pred_polys: np.ndarray  # (n, 4, 2)
    pred_conf: np.ndarray
    pred_cls: np.ndarray
    pred_tp: np.ndarray  # (n,) bool
    gt_polys: np.ndarray  # (m, 4, 2)
    gt_cls: np.ndarray
    pred_masks: np.ndarray | None = None
    gt_masks: np.ndarray | None = None
    pred_kpts: np.ndarray | None = None
    gt_kpts: np.ndarray | None = None


def xyxy_polys(boxes: np.ndarray) -> np.ndarray:
    """(n, 4) xyxy boxes as (n, 4, 2) corner polygons."""
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    x1, y1, x2, y2 = boxes.T
    return np.stack([np.stack([x1, y1], 1), np.stack([x2, y1], 1), np.stack([x2, y2], 1), np.stack([x1, y2], 1)], 1)


def xywhr_polys(boxes: np.ndarray) -> np.ndarray:
    """(n, 5) rotated xywhr boxes as (n, 4, 2) corner polygons."""
    import cv2

    boxes = np.asarray(boxes, dtype=float).reshape(-1, 5)
    return np.array([cv2.boxPoints(((x, y), (w, h), np.degrees(r))) for x, y, w, h, r in boxes]).reshape(-1, 4, 2)


class WorstImages:
    """The ``size`` images with the lowest F1 seen so far in one validation."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._heap: list[tuple[tuple[float, int, int], ImageRecord]] = []
        self._order = itertools.count()

    def badness(self, judged: Judged) -> tuple[float, int, int]:
        return (-judged.f1, judged.fp + judged.fn, -next(self._order))

    def offer(self, judged: Judged, record: Callable[[], ImageRecord]) -> None:
        """Keep the image if it is among the worst; ``record()`` is called only then."""
        if self.size <= 0:
            return
        key = self.badness(judged)
        if len(self._heap) < self.size:
            heapq.heappush(self._heap, (key, record()))
        elif key > self._heap[0][0]:
            heapq.heapreplace(self._heap, (key, record()))

    def kept(self) -> list[tuple[Judged, ImageRecord]]:
        """The kept images with their counts (to merge into another heap with :meth:`offer`)."""
        return [(record.judged, record) for _, record in self._heap]

    def worst_first(self) -> list[ImageRecord]:
        """The kept images, the worst first."""
        return [record for _, record in sorted(self._heap, key=lambda item: item[0], reverse=True)]

    def __len__(self) -> int:
        return len(self._heap)


def _bounds(polys: np.ndarray) -> np.ndarray:
    return np.concatenate([polys.min(1), polys.max(1)], 1) if len(polys) else np.zeros((0, 4))


def missed_targets(record: ImageRecord) -> np.ndarray:
    """Which ground-truth objects no true positive at the threshold found (same class, IoU ≥ 0.5 of
    their bounds, greedy by confidence), as a boolean mask over ``gt_polys``."""
    missed = np.ones(len(record.gt_polys), dtype=bool)
    hits = np.flatnonzero(record.pred_tp)
    if not len(hits) or not len(record.gt_polys):
        return missed
    order = hits[np.argsort(-record.pred_conf[hits])]
    import torch
    from ultralytics.utils.metrics import box_iou

    iou = box_iou(*(torch.from_numpy(_bounds(p)).float() for p in (record.pred_polys[order], record.gt_polys))).numpy()
    for row, pred in enumerate(order):
        candidates = np.flatnonzero(missed & (record.gt_cls == record.pred_cls[pred]) & (iou[row] >= 0.5))
        if len(candidates):
            missed[candidates[np.argmax(iou[row][candidates])]] = False
    return missed


def title_of(record: ImageRecord) -> str:
    j = record.judged
    return f"{record.file.rsplit('/', 1)[-1]}  F1 {j.f1:.2f}  TP {j.tp}  FP {j.fp}  FN {j.fn}"


def _to_original(points: np.ndarray, record: ImageRecord) -> np.ndarray:
    """Letterboxed pixel coordinates (..., 2) on the image file, as Ultralytics' ``scale_boxes``."""
    (gain_y, gain_x), (pad_x, pad_y) = record.ratio_pad
    out = np.array(points, dtype=float)
    out[..., 0] = (out[..., 0] - pad_x) / gain_x
    out[..., 1] = (out[..., 1] - pad_y) / gain_y
    return out


def _mask_to_original(mask: np.ndarray, record: ImageRecord) -> np.ndarray:
    """A letterboxed mask (any resolution of the batch) on the image file: upsampled, unpadded, resized."""
    import cv2

    h, w = record.imgsz
    (_, _), (pad_x, pad_y) = record.ratio_pad
    full = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
    top, left = int(round(pad_y - 0.1)), int(round(pad_x - 0.1))
    bottom, right = h - int(round(pad_y + 0.1)), w - int(round(pad_x + 0.1))
    crop = full[top : max(bottom, top + 1), left : max(right, left + 1)]
    return cv2.resize(crop, (int(record.ori_shape[1]), int(record.ori_shape[0])), interpolation=cv2.INTER_NEAREST)


def draw(record: ImageRecord, names: dict[int, str]) -> np.ndarray:
    """The image with its true positives (green), false positives (red) and missed objects (orange,
    dashed) drawn, masks and keypoints in the same colors, and a legend naming the file and counts."""
    import cv2

    image = cv2.imread(record.file)
    if image is None:
        raise FileNotFoundError(record.file)
    if image.shape[:2] != tuple(record.ori_shape):
        image = cv2.resize(image, (int(record.ori_shape[1]), int(record.ori_shape[0])))
    scale = max(1.0, 640 / max(image.shape[:2]))  # small images are enlarged so labels stay legible
    missed = missed_targets(record)
    shown = np.arange(min(len(record.pred_conf), MAX_DRAWN_PREDICTIONS))
    pred_colors = [TP_COLOR if record.pred_tp[i] else FP_COLOR for i in shown]
    for masks, indices, colors in ((record.gt_masks, np.flatnonzero(missed), [FN_COLOR] * int(missed.sum())),
                                   (record.pred_masks, shown, pred_colors)):  # fmt: skip
        for i, color in zip(indices, colors):
            if masks is not None and i < len(masks):
                area = _mask_to_original(masks[i], record).astype(bool)
                image[area] = (0.5 * image[area] + 0.5 * np.array(color)).astype(np.uint8)
    if scale > 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    thickness = max(1, round(max(image.shape[:2]) / 320))

    def polygon(poly: np.ndarray, color: tuple, label: str, dashed: bool = False) -> None:
        corners = [tuple(int(round(v)) for v in p) for p in _to_original(poly, record) * scale]
        for a, b in zip(corners, corners[1:] + corners[:1]):
            if not dashed:
                cv2.line(image, a, b, color, thickness)
                continue
            n = max(1, int(np.hypot(b[0] - a[0], b[1] - a[1]) // 8))
            for k in range(0, n, 2):
                p = (int(a[0] + (b[0] - a[0]) * k / n), int(a[1] + (b[1] - a[1]) * k / n))
                q = (int(a[0] + (b[0] - a[0]) * (k + 1) / n), int(a[1] + (b[1] - a[1]) * (k + 1) / n))
                cv2.line(image, p, q, color, thickness)
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        place_label(label, (min(xs), min(ys), max(xs), max(ys)), color)

    placed: list[tuple[int, int, int, int]] = []  # the labels drawn so far, so that none covers another

    def place_label(label: str, box: tuple[int, int, int, int], color: tuple) -> None:
        """Above the box, else below it, else inside its top; else the first free line further down."""
        font, size = cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thickness
        (w, h), base = cv2.getTextSize(label, font, size, thickness)
        height, width = image.shape[:2]
        x = max(0, min(box[0], width - w))
        tops = [box[1] - h - base - 2, box[3] + 2, box[1] + 2]
        tops += [box[1] - h - base - 2 + k * (h + base + 2) for k in range(1, 12)]
        for top in tops:
            if top >= 0 and top + h + base <= height:
                rect = (x, top, x + w, top + h + base)
                if not any(r[0] < rect[2] and rect[0] < r[2] and r[1] < rect[3] and rect[1] < r[3] for r in placed):
                    break
        else:
            top = max(0, min(box[1] - h - base - 2, height - h - base))
            rect = (x, top, x + w, top + h + base)
        placed.append(rect)
        cv2.rectangle(image, (rect[0], rect[1]), (rect[2], rect[3]), (255, 255, 255), -1)
        cv2.putText(image, label, (x, top + h), font, size, color, thickness)

    def points(kpts: np.ndarray | None, i: int, color: tuple) -> None:
        if kpts is None or i >= len(kpts):
            return
        for p in _to_original(kpts[i][:, :2], record) * scale:
            if p[0] > 0 and p[1] > 0:
                cv2.circle(image, (int(p[0]), int(p[1])), 2 * thickness, color, -1)

    def name(c: Any) -> str:
        return str(names.get(int(c), int(c)))

    for i in np.flatnonzero(missed):
        polygon(record.gt_polys[i], FN_COLOR, f"missed {name(record.gt_cls[i])}", dashed=True)
        points(record.gt_kpts, i, FN_COLOR)
    for i, color in zip(shown, pred_colors):
        polygon(record.pred_polys[i], color, f"{name(record.pred_cls[i])} {record.pred_conf[i]:.2f}")
        points(record.pred_kpts, i, color)
    legend = np.full((44 * thickness + 8, image.shape[1], 3), 255, dtype=np.uint8)
    x = 4
    for text, color in (("TP", TP_COLOR), ("FP", FP_COLOR), ("missed", FN_COLOR)):
        cv2.rectangle(legend, (x, 6), (x + 12 * thickness, 6 + 12 * thickness), color, -1)
        cv2.putText(legend, text, (x + 14 * thickness, 6 + 11 * thickness), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4 * thickness, (0, 0, 0), thickness)  # fmt: skip
        x += (14 + 9 * len(text)) * thickness + 10
    cv2.putText(legend, title_of(record), (4, 38 * thickness), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thickness,
                (0, 0, 0), thickness)  # fmt: skip
    return np.vstack([image, legend])


TITLE = "Worst images"


def report_worst(out: Any, records: list[ImageRecord], names: dict[int, str], iteration: int, history: int) -> None:
    """Draw each record and report it in its slot ``worst_00``, ``worst_01``, ... (the worst first);
    on the Task's delivery thread. An image that cannot be drawn leaves its slot out."""
    import tempfile

    import cv2

    from ..base.guard import guarded

    folder = tempfile.mkdtemp(prefix="yolo_clearml_worst_")
    for slot, record in enumerate(records):
        path = f"{folder}/worst_{slot:02d}_{iteration}.jpg"

        def one(record: ImageRecord = record, path: str = path, slot: int = slot) -> None:
            image = draw(record, names)
            if not cv2.imwrite(path, image, [cv2.IMWRITE_JPEG_QUALITY, 90]):
                raise OSError(f"could not write {path}")
            out.image(TITLE, f"worst_{slot:02d}", iteration, Path(path), history)

        guarded(f"drawing worst image {slot} ({record.file})", one)
