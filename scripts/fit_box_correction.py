#!/usr/bin/env python3
"""Fit YuNet's landmark box correction on kaggle853 train, then measure it on val.

YuNet's boxes sit higher than kaggle853's (forehead to chin) and, on masked faces, stop near the
mask's top edge. For every YuNet face matched to an annotated face (IoU >= 0.3, train split),
each side's offset to the annotation (in box widths / heights) is fitted by least squares on the
landmark features of ``facemask.detectors.yunet.correction_features`` (outliers beyond 3 MADs
dropped, then refitted). Printed: the coefficients to paste into ``yunet.CORRECTION``, then val
recall / AP50 (IoU 0.5) without correction, with the median shift alone and with the fit, and
where box bottoms end on masked and unmasked faces.

    python scripts/fit_box_correction.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from facemask.config import load_config  # noqa: E402
from facemask.detectors import build_detector  # noqa: E402
from facemask.detectors.yunet import correct_boxes, correction_features  # noqa: E402
from facemask.evaluation.data import load_voc  # noqa: E402
from facemask.evaluation.metrics import (  # noqa: E402
    ImageEval,
    detection_report,
    match_all,
    match_image,
)
from facemask.io.sources import read_image  # noqa: E402
from facemask.types import MASK, NO_MASK  # noqa: E402


def detect(det, items):
    """Per image: (item, boxes, landmarks, scores) of YuNet without correction."""
    out = []
    for item in items:
        faces = det.detect(read_image(item.image_path))
        out.append((item, np.array([f.box for f in faces]).reshape(-1, 4),
                    np.array([f.landmarks for f in faces]).reshape(-1, 5, 2), np.array([f.score for f in faces])))
    return out


def pairs(runs, iou: float):
    feats, targets, labels, rel_bottom = [], [], [], []
    for item, boxes, marks, scores in runs:
        m = match_image(boxes, scores, item.boxes, iou)
        for i in np.nonzero(m >= 0)[0]:
            p, g = boxes[i], item.boxes[m[i]]
            w, h = p[2] - p[0], p[3] - p[1]
            feats.append(correction_features(p[None], marks[i][None])[0])
            targets.append((g - p) / [w, h, w, h])
            labels.append(item.labels[m[i]])
            rel_bottom.append((p[3] - g[1]) / max(g[3] - g[1], 1e-3))
    return np.array(feats), np.array(targets), labels, np.array(rel_bottom)


def fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    coef = np.zeros((y.shape[1], x.shape[1]))
    for k in range(y.shape[1]):
        c = np.linalg.lstsq(x, y[:, k], rcond=None)[0]
        r = y[:, k] - x @ c
        mad = np.median(np.abs(r - np.median(r))) + 1e-9
        keep = np.abs(r - np.median(r)) < 3 * 1.4826 * mad
        coef[k] = np.linalg.lstsq(x[keep], y[keep, k], rcond=None)[0]
    return coef


def scored(runs, boxes_of) -> dict:
    evals = [ImageEval(item.name, item.boxes, list(item.labels), boxes_of(boxes, marks), scores)
             for item, boxes, marks, scores in runs]
    match_all(evals, 0.5)
    rep = detection_report(evals)
    return {"recall": rep["all"]["recall"], "recall<32": rep["<32"]["recall"], "precision": rep["all"]["precision"],
            "ap50": rep["all"]["ap50"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "kaggle853"))
    p.add_argument("--config", default=str(REPO / "configs" / "config-x86.json"))
    p.add_argument("--iou", type=float, default=0.3, help="IoU of the pairs fitted (default %(default)s)")
    args = p.parse_args()
    cfg = load_config(args.config, ["detector.box_correction=none"])
    det = build_detector(cfg)
    train = detect(det, load_voc(args.data, "train"))
    x, y, _, _ = pairs(train, args.iou)
    coef = fit(x, y)
    median = np.median(y, axis=0)
    print(f"train: {len(x)} matched faces (IoU >= {args.iou}); coefficients (x1, y1, x2, y2 x features):")
    print("CORRECTION = np.array([\n" + "".join(f"    [{', '.join(f'{v:.4f}' for v in row)}],  # {side}\n"
                                                  for row, side in zip(coef, ("x1", "y1", "x2", "y2"))) + "], np.float64)")
    print(f"median shift alone (x1, y1, x2, y2): {np.round(median, 3).tolist()}")

    val = detect(det, load_voc(args.data, "val"))
    rows = {
        "as detected": scored(val, lambda b, m: b),
        "median shift (train)": scored(val, lambda b, m: b + np.column_stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]] * 2)[:, [0, 1, 0, 1]] * median),
        "landmark fit (train)": scored(val, lambda b, m: correct_boxes(b, m, coef)),
    }
    print("\nval, IoU 0.5:")
    print(f"{'boxes':24s}{'recall':>8s}{'<32 px':>8s}{'prec.':>8s}{'AP50':>8s}")
    for name, r in rows.items():
        print(f"{name:24s}{r['recall']:8.3f}{r['recall<32']:8.3f}{r['precision']:8.3f}{r['ap50']:8.3f}")
    # where the box bottom ends, in annotated face heights from the annotated top (val, IoU >= 0.3)
    for name, fn in (("as detected", lambda b, m: b), ("landmark fit", lambda b, m: correct_boxes(b, m, coef))):
        runs = [(item, fn(b, m), m, s) for item, b, m, s in val]
        _, _, lab, bottom = pairs(runs, 0.3)
        lab = np.array(lab)
        parts = []
        for cls in (MASK, NO_MASK):
            sel = bottom[lab == cls]
            parts.append(f"{cls} median {np.median(sel):.2f}, < 0.8: {np.mean(sel < 0.8):.1%} (n={len(sel)})")
        print(f"box bottom / face height, {name}: " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
