"""COCO-style box AP (IoU 0.5:0.95) through pycocotools, overall and by face size."""

from __future__ import annotations

import contextlib
import io

import numpy as np

from .metrics import SIZE_BINS, ImageEval


def coco_ap(images: list[ImageEval]) -> dict:
    """AP@[.5:.95], AP50 and AP75 for one class 'face'; by size with COCO's area ranges set to
    the squares of ``SIZE_BINS`` (COCO bins faces by box area, not by the smaller side)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "face"}]}
    dets = []
    for img_id, im in enumerate(images, start=1):
        gt["images"].append({"id": img_id})
        for b in im.gt_boxes:
            w, h = float(b[2] - b[0]), float(b[3] - b[1])
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": img_id, "category_id": 1,
                                      "bbox": [float(b[0]), float(b[1]), w, h], "area": w * h, "iscrowd": 0})
        for b, s in zip(im.pred_boxes, im.pred_scores):
            dets.append({"image_id": img_id, "category_id": 1, "score": float(s),
                         "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]})
    keys = ["all"] + [name for name, _, _ in SIZE_BINS]
    if not gt["annotations"] or not dets:
        return {k: {"ap": 0.0 if gt["annotations"] else float("nan"), "ap50": 0.0, "ap75": 0.0} for k in keys}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(dets), "bbox")
        ev.params.maxDets = [1, 10, max(1000, max(len(im.pred_boxes) for im in images))]
        ev.params.areaRng = [[0.0, 1e10]] + [[lo * lo, min(hi * hi, 1e10)] for _, lo, hi in SIZE_BINS]
        ev.params.areaRngLbl = keys
        ev.evaluate()
        ev.accumulate()
    prec = ev.eval["precision"]  # [iou thresholds, recall points, classes, areas, max dets]
    out = {}
    for a, key in enumerate(keys):
        p = prec[:, :, 0, a, -1]

        def mean(x: np.ndarray) -> float:
            valid = x[x > -1]
            return round(float(valid.mean()), 4) if valid.size else float("nan")

        out[key] = {"ap": mean(p), "ap50": mean(p[0]), "ap75": mean(p[5])}
    return out
