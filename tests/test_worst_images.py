"""The worst images and per-class metrics: ranking, heap and drawing on hand-made matches; then
real trainings (detect, segment, pose, obb) on a dataset with known mistakes (``known_mistakes.py``)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import SCRIPTS, TRAIN_TIMEOUT, run_python
from known_mistakes import MISTAKES, SIZE
from offline_session import sessions_under

from yolo_clearml_patch.reporting.worst_images import (
    FN_COLOR,
    FP_COLOR,
    TP_COLOR,
    ImageRecord,
    WorstImages,
    draw,
    judge_batch,
    missed_targets,
    slot_history,
    xyxy_polys,
)


def _judge(tp, conf, n_targets):
    return judge_batch([np.asarray(tp, bool)], [np.asarray(conf, float)], np.array([n_targets]))[0]


def test_judging_counts_only_confident_predictions():
    tp = np.array([True, False, True, False])
    conf = np.array([0.9, 0.8, 0.1, 0.05])  # the last two are below 0.25: not judged
    judged = _judge(tp, conf, n_targets=3)
    assert (judged.tp, judged.fp, judged.fn) == (1, 1, 2)
    assert judged.f1 == pytest.approx(2 / (2 + 1 + 2))
    assert _judge(np.zeros(0, bool), np.zeros(0), 0).f1 == 1.0  # nothing to find, nothing found
    assert _judge(np.array([False]), np.array([0.9]), 0).f1 == 0.0  # only a false positive


def test_a_batch_is_judged_image_by_image():
    # image 0: one hit, one confident miss; image 1: no predictions, two objects; image 2: nothing at all
    tps = [np.array([True, False, True]), np.zeros(0, bool), np.zeros(0, bool)]
    confs = [np.array([0.9, 0.5, 0.1]), np.zeros(0), np.zeros(0)]
    judged = judge_batch(tps, confs, np.array([2, 2, 0]))
    assert [(j.tp, j.fp, j.fn) for j in judged] == [(1, 1, 1), (0, 0, 2), (0, 0, 0)]
    assert [j.f1 for j in judged] == [pytest.approx(0.5), 0.0, 1.0]
    assert judge_batch([np.zeros(0, bool)] * 2, [np.zeros(0)] * 2, np.array([1, 0]))[0].fn == 1  # no predictions at all
    assert slot_history(3) == 5  # three epochs' validations and the final one fit in a slot


def test_the_heap_keeps_the_worst_and_copies_only_what_enters():
    heap = WorstImages(3)
    copied = []
    rng = np.random.default_rng(0)
    f1s = {}
    for i in range(1000):
        n_tp, n_fp, n_fn = (int(v) for v in rng.integers(0, 4, 3))
        tp = np.array([True] * n_tp + [False] * n_fp)
        judged = _judge(tp, np.ones(len(tp)), n_tp + n_fn)
        f1s[i] = judged.f1
        heap.offer(judged, lambda i=i: copied.append(i) or i)
    assert len(heap) == 3
    assert sorted(f1s[i] for i in heap.worst_first()) == sorted(f1s.values())[:3]
    assert len(copied) < 60  # about N·ln(M/N) copies, not M


def _record(tmp_path) -> ImageRecord:
    image = np.full((100, 100, 3), 128, np.uint8)
    path = tmp_path / "img.jpg"
    cv2.imwrite(str(path), image)
    return ImageRecord(
        file=str(path),
        judged=_judge(np.array([True, False]), np.array([0.9, 0.8]), 2),
        imgsz=(100, 100),
        ori_shape=(100, 100),
        ratio_pad=((1.0, 1.0), (0.0, 0.0)),
        pred_polys=xyxy_polys(np.array([[10.0, 10, 40, 40], [60, 10, 90, 40]])),  # a hit, a false positive
        pred_conf=np.array([0.9, 0.8]),
        pred_cls=np.array([0.0, 1.0]),
        pred_tp=np.array([True, False]),
        gt_polys=xyxy_polys(np.array([[11.0, 11, 41, 41], [10, 60, 40, 90]])),  # found, missed
        gt_cls=np.array([0.0, 0.0]),
    )


def test_the_missed_objects_are_the_ones_no_hit_found(tmp_path):
    assert missed_targets(_record(tmp_path)).tolist() == [False, True]


def test_the_drawing_tells_hits_false_positives_and_missed_objects_apart(tmp_path):
    drawn = draw(_record(tmp_path), {0: "square", 1: "circle"})
    scale = 640 / 100  # small images are enlarged

    def has(color, box) -> bool:
        x1, y1, x2, y2 = (int(v * scale) for v in box)
        region = drawn[y1 : y2 + 1, x1 : x2 + 1].reshape(-1, 3).astype(int)
        return bool((np.abs(region - np.array(color)).sum(1) < 60).any())

    assert has(TP_COLOR, [10, 10, 40, 40]) and not has(FP_COLOR, [10, 10, 40, 40])
    assert has(FP_COLOR, [60, 10, 90, 40])
    assert has(FN_COLOR, [10, 60, 40, 90])
    assert drawn.shape[0] > 640  # the legend below the image


# ---- real trainings on known mistakes -------------------------------------------------------------

EPOCHS = 100  # enough to learn the 8 images by heart (about 40 s on 2 CPU cores); val=False: the last
# epoch and the final validation validate


def _which_file(stored: np.ndarray, val_images: dict[str, np.ndarray]) -> str:
    """The validation image a drawn worst image shows (the picture above the legend, scaled back)."""
    picture = stored[: stored.shape[1]]  # square images: the legend is below
    small = cv2.resize(picture, (SIZE, SIZE), interpolation=cv2.INTER_AREA).astype(float)
    distance = {name: float(np.abs(small - image).mean()) for name, image in val_images.items()}
    best, second = sorted(distance.values())[:2]
    assert best < 0.6 * second, distance  # one image is clearly the one drawn
    return min(distance, key=distance.get)


def _red_pixels(image: np.ndarray) -> int:
    """Pixels of the false positives' red (BGR 40, 40, 230), allowing for JPEG."""
    b, g, r = (image[..., k].astype(int) for k in range(3))
    return int(((r > 170) & (g < 100) & (b < 100)).sum())


@pytest.mark.parametrize("task", ["detect", "segment", "pose", "obb"])
def test_the_worst_slots_hold_the_images_with_unlabelled_objects(task, tmp_path, child_env, home):
    from known_mistakes import make_known_mistakes

    data = make_known_mistakes(tmp_path / "data", task)
    env = {**child_env, "CLEARML_OFFLINE_MODE": "1", "YOLO_CLEARML_WORST_IMAGES": str(len(MISTAKES))}
    args = [str(SCRIPTS / "worst_job.py"), "--data", str(data), "--out", str(tmp_path / "runs"), "--task", task]
    proc = run_python([*args, "--epochs", str(EPOCHS)], env, cwd=tmp_path, timeout=TRAIN_TIMEOUT)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "TRAIN_DONE" in proc.stdout, output[-5000:]
    assert "did not confirm" not in output, output[-3000:]
    (session,) = sessions_under(home)

    last, final = EPOCHS - 1, EPOCHS  # the last epoch's validation; the final one (best.pt) after it
    slots = {f"worst_{k:02d}" for k in range(len(MISTAKES))}
    events = [e for e in session.events if e.get("type") == "training_debug_image" and e["metric"] == "Worst images"]
    assert {(e["variant"], e["iter"]) for e in events} == {(s, i) for s in slots for i in (last, final)}

    val_images = {p.name: cv2.imread(str(p)).astype(float) for p in (data.parent / "images" / "val").glob("*.jpg")}
    for iteration in (last, final):
        shown = {}
        for event in (e for e in events if e["iter"] == iteration):
            stored = cv2.imread(event["url"])
            assert stored is not None, event["url"]
            shown[event["variant"]] = (_which_file(stored, val_images), stored)
        assert {name for name, _ in shown.values()} == MISTAKES, iteration  # exactly those images
        # an image of circles only: no labels, so all it shows are false positives, drawn red
        circles_only = next(stored for name, stored in shown.values() if name == "0004.jpg")
        assert _red_pixels(circles_only) > 200

    # per-class metrics: the class without labels is 0, the other is not
    circle = session.scalars("per-class AP50-95", "circle")  # of masks for segment, keypoints for pose
    rect = session.scalars("per-class AP50-95", "rect")
    assert set(circle) == set(rect) == {last, final}
    assert all(v == 0 for v in circle.values()) and all(v > 0.3 for v in rect.values()), (circle, rect)
    assert all(session.scalars(f"per-class {m}", "circle")[last] == 0 for m in ("AP50", "P", "R"))
