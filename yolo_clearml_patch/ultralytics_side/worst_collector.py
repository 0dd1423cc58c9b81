"""The worst images of a validation during training, collected batch by batch after Ultralytics'
``update_metrics`` (its own true-positive flags, confidences and targets: no second inference).

Ultralytics 8.4 appends one stats entry per image to ``validator.metrics.stats`` (numpy); 8.3
appends device tensors to ``validator.stats`` and skips an image with neither predictions nor
targets. An image's boxes are copied to the CPU only when it enters the bounded heap.
"""

from __future__ import annotations

import hashlib
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..base.files import write_atomically
from ..reporting.worst_images import (
    CONF,
    MAX_DRAWN_PREDICTIONS,
    ImageRecord,
    Judged,
    WorstImages,
    judge_batch,
    xywhr_polys,
    xyxy_polys,
)

TP_KEY = {"segment": "tp_m", "pose": "tp_p"}  # the task's own matches; boxes for detect and obb


def _numpy(value: Any) -> np.ndarray:
    return value.cpu().numpy() if hasattr(value, "cpu") else np.asarray(value)


class WorstCollector:
    """The worst ``size`` images of one validation (see :mod:`..reporting.worst_images`)."""

    def __init__(self, size: int, threshold: float = CONF) -> None:
        self.images = WorstImages(size)
        self.threshold = threshold
        self.seen = 0
        self.predicted: set[int] = set()  # classes predicted at or above the threshold
        self.protos: Any = None  # 8.3 segment: the batch's mask prototypes
        self.kpt_shape: tuple | None = None  # 8.3 pose: (keypoints, 2 or 3)
        self.overlap = False  # segment: the batch's masks are one index map per image

    def add_batch(self, validator: Any, preds: Any, batch: dict) -> None:
        """After ``update_metrics(preds, batch)``: judge each image of the batch, keep the worst."""
        self.protos = None
        if isinstance(preds, tuple):  # 8.3 segment: (predictions, protos)
            preds, self.protos = preds[0], preds[1]
        self.kpt_shape = tuple(getattr(validator, "kpt_shape", None) or ()) or None
        self.overlap = bool(getattr(validator.args, "overlap_mask", False))
        size = len(preds)
        if not size:
            return
        counts = np.bincount(_numpy(batch["batch_idx"]).astype(int), minlength=size)
        key = TP_KEY.get(getattr(validator.args, "task", ""), "tp")
        metrics_stats = getattr(getattr(validator, "metrics", None), "stats", None)
        if size and isinstance(preds[0], dict) and isinstance(metrics_stats, dict):  # 8.4: one entry per image
            rows = list(range(size))
            stats = {k: metrics_stats[k][-size:] for k in (key, "conf", "pred_cls")}
        else:  # 8.3: entries only for images with predictions or targets
            rows = [si for si in range(size) if len(preds[si]) or counts[si]]
            n = len(rows)
            stats = {k: [_numpy(v) for v in validator.stats[k][-n:]] if n else [] for k in (key, "conf", "pred_cls")}
        # one pass over the batch in numpy: each image's confident predictions and hits
        empty_tp, empty = np.zeros(0, dtype=bool), np.zeros(0)
        tps, confs = [empty_tp] * size, [empty] * size
        classes = []
        for i, si in enumerate(rows):
            conf = np.asarray(stats["conf"][i])
            tp = np.asarray(stats[key][i])
            confs[si] = conf
            tps[si] = tp[:, 0] if tp.ndim == 2 and tp.shape[1] and len(tp) == len(conf) else np.zeros(len(conf), bool)
            pred_cls = np.asarray(stats["pred_cls"][i])
            if len(pred_cls) == len(conf):
                classes.append(pred_cls[conf >= self.threshold])
        if classes:
            self.predicted.update(int(c) for c in np.unique(np.concatenate(classes)))
        self.seen += size
        for si, judged in enumerate(judge_batch(tps, confs, counts[:size], self.threshold)):
            self.images.offer(judged, lambda si=si, judged=judged: self._record(
                preds[si], batch, si, tps[si], confs[si], judged))  # fmt: skip

    def _record(self, pred: Any, batch: dict, si: int, tp: np.ndarray, conf: np.ndarray, judged: Judged) -> ImageRecord:
        keep = np.flatnonzero(conf >= self.threshold)[:MAX_DRAWN_PREDICTIONS]
        h, w = (int(v) for v in batch["img"].shape[2:])
        rotated = _numpy(batch["bboxes"]).shape[-1] == 5  # obb: xywhr
        pred_kpts = pred_masks = None
        if isinstance(pred, dict):  # 8.4
            boxes, cls = _numpy(pred["bboxes"])[keep], _numpy(pred["cls"])[keep]
            if "keypoints" in pred:
                pred_kpts = _numpy(pred["keypoints"])[keep]
            if "masks" in pred:
                pred_masks = _numpy(pred["masks"])[keep]
        else:  # 8.3: rows of [x1, y1, x2, y2, conf, cls, extra...] (obb: [x, y, w, h, conf, cls, angle])
            array = _numpy(pred)[keep] if len(pred) else np.zeros((0, 6))
            cls = array[:, 5]
            boxes = np.concatenate([array[:, :4], array[:, 6:7]], 1) if rotated else array[:, :4]
            if getattr(self, "kpt_shape", None) and array.shape[1] > 6:
                pred_kpts = array[:, 6:].reshape(len(array), *self.kpt_shape)
            if self.protos is not None and len(array):
                pred_masks = _masks_from_protos(self.protos[si], array)
        mine = _numpy(batch["batch_idx"]) == si
        gt = _numpy(batch["bboxes"])[mine] * ([w, h, w, h, 1] if rotated else [w, h, w, h])
        if rotated:
            gt_polys = xywhr_polys(gt)
        else:
            gt_polys = xyxy_polys(np.concatenate([gt[:, :2] - gt[:, 2:4] / 2, gt[:, :2] + gt[:, 2:4] / 2], 1))
        gt_kpts = None
        if pred_kpts is not None and "keypoints" in batch:
            kpts = _numpy(batch["keypoints"])[mine]
            gt_kpts = kpts * np.array([w, h, 1][: kpts.shape[-1]])
        return ImageRecord(
            file=str(batch["im_file"][si]),
            judged=judged,
            imgsz=(h, w),
            ori_shape=tuple(int(v) for v in batch["ori_shape"][si]),
            ratio_pad=batch["ratio_pad"][si],
            pred_polys=xywhr_polys(boxes) if rotated else xyxy_polys(boxes),
            pred_conf=conf[keep],
            pred_cls=np.asarray(cls),
            pred_tp=tp[keep].astype(bool),
            gt_polys=gt_polys,
            gt_cls=_numpy(batch["cls"])[mine].reshape(-1),
            pred_masks=pred_masks,
            gt_masks=_gt_masks(batch, si, mine, self.overlap) if pred_masks is not None else None,
            pred_kpts=pred_kpts,
            gt_kpts=gt_kpts,
        )


def _gt_masks(batch: dict, si: int, mine: np.ndarray, overlap: bool) -> np.ndarray | None:
    """The image's ground-truth masks, one per object: from its index map (``overlap_mask``: object
    ``k`` has value ``k + 1``), or the batch's per-object masks."""
    if "masks" not in batch:
        return None
    masks = _numpy(batch["masks"])
    if overlap:
        return np.stack([masks[si] == k + 1 for k in range(int(mine.sum()))]).astype(np.uint8) if mine.any() else None
    return masks[mine].astype(np.uint8)


def _masks_from_protos(protos: Any, rows: np.ndarray) -> np.ndarray:
    """8.3 segment: the kept predictions' masks from the prototypes and their coefficients (as
    Ultralytics' ``process_mask``), at the prototypes' resolution."""
    protos = _numpy(protos).astype(np.float32)
    c, mh, mw = protos.shape
    coefficients = rows[:, 6 : 6 + c].astype(np.float32)
    masks = 1 / (1 + np.exp(-(coefficients @ protos.reshape(c, -1)))).reshape(-1, mh, mw)
    return (masks > 0.5).astype(np.uint8)


# ---- multi-GPU (DDP) validation, Ultralytics 8.4: each rank validates its share of the images --------
#
# Ranks above 0 leave their worst images in a file just before Ultralytics gathers the validation's
# statistics (a collective every rank enters); rank 0 reads them after it, when every rank has written.
# Every rank counts its validator's gatherings, so the count names the same validation on all of them.
# A file that is missing (a rank without the shim) or from another validation is left out: rank 0
# then reports the worst images of the shares it has.


def _share_file(validator: Any, rank: int) -> Path:
    key = hashlib.sha1(str(Path(str(getattr(validator, "save_dir", ""))).resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"yolo_clearml_worst_{key}_rank{rank}.pkl"


def leave_share(collector: WorstCollector, validator: Any, rank: int, validation: int) -> None:
    """Rank > 0: this rank's worst images of the validator's ``validation``-th validation, for rank 0."""
    share = {"validation": validation, "kept": collector.images.kept(), "predicted": collector.predicted,
             "seen": collector.seen}  # fmt: skip
    write_atomically(_share_file(validator, rank), pickle.dumps(share))


def merge_shares(collector: WorstCollector, validator: Any, world_size: int, validation: int) -> int:
    """Rank 0: the other ranks' worst images of the same validation merged into its own; how many
    ranks' shares were found."""
    found = 0
    for rank in range(1, world_size):
        path = _share_file(validator, rank)
        try:
            share = pickle.loads(path.read_bytes())
            path.unlink()
        except (OSError, pickle.PickleError, EOFError):
            continue
        if share.get("validation") != validation:
            continue
        for judged, record in share["kept"]:
            collector.images.offer(judged, lambda record=record: record)
        collector.predicted |= set(share["predicted"])
        collector.seen += int(share["seen"])
        found += 1
    return found
