#!/usr/bin/env python
"""Compare face detectors on kaggle853 val: recall and precision at IoU 0.5, and ms per image.

Every detector runs with its config defaults plus the keys given below (YuNet as in
configs/config-x86.json). kaggle853 images are small (~400x300): YuNet upscales them 2x, PoseNet
letterboxes them into its fixed input (721x1281 is a 2.4x upscale) and MoveNet into
``input_size``. Matching is greedy by score, one ground truth per prediction. Recall is also
given by face size (the smaller box side), because small faces are where pose detectors matter.

    python scripts/compare_detectors.py [--only NAME ...] [--limit N]

Timings are wall-clock per image on this machine, one image at a time, after one warm-up call.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("FACEMASK_MODELS_DIR", str(REPO.parent / "shared" / "models"))

from facemask.config import load_config, parse_config  # noqa: E402
from facemask.datasets import load_voc_dataset  # noqa: E402
from facemask.detectors import build_detector  # noqa: E402
from facemask.detectors.fusion import box_iou  # noqa: E402

YUNET = load_config(REPO / "configs" / "config-x86.json").detector.model_dump()
POSENET_481 = {"type": "posenet", "model": "posenet_mobilenet_v1_075_481_641_quant"}
POSENET_721 = {"type": "posenet", "model": "posenet_mobilenet_v1_075_721_1281_quant"}
MOVENET = {"type": "movenet", "input_size": 512}
CANDIDATES: dict[str, dict] = {
    "yunet": YUNET,
    "posenet-481x641": POSENET_481,
    "posenet-721x1281": POSENET_721,
    "movenet-256": {"type": "movenet", "input_size": 256},
    "movenet-512": MOVENET,
    "fusion-yunet+posenet481": {"type": "fusion", "detectors": [YUNET, POSENET_481]},
    "fusion-yunet+posenet721": {"type": "fusion", "detectors": [YUNET, POSENET_721]},
    "fusion-yunet+movenet512": {"type": "fusion", "detectors": [YUNET, MOVENET]},
}
SIZE_BINS = ((0, 16), (16, 32), (32, 1e9))


def match(pred: np.ndarray, scores: np.ndarray, gt: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Per ground truth: matched or not (greedy, best prediction first)."""
    hit = np.zeros(len(gt), bool)
    if len(pred) == 0 or len(gt) == 0:
        return hit
    iou = box_iou(pred, gt)
    for i in np.argsort(-scores, kind="stable"):
        cand = np.where(hit, -1.0, iou[i])
        j = int(np.argmax(cand))
        if cand[j] >= iou_threshold:
            hit[j] = True
    return hit


def evaluate(name: str, det_cfg: dict, items, iou_threshold: float) -> dict:
    detector = build_detector(parse_config({"detector": det_cfg}))
    hits, sizes, n_pred, times = [], [], 0, []
    for k, item in enumerate(items):
        image = cv2.imread(str(item.image_path))
        if image is None:
            print(f"skipped {item.image_path}: not readable", file=sys.stderr)
            continue
        if k == 0:
            detector.detect(image)  # warm-up (interpreter allocation, first-call costs)
        t0 = time.perf_counter()
        faces = detector.detect(image)
        times.append(time.perf_counter() - t0)
        pred = np.array([f.box for f in faces], np.float64).reshape(-1, 4)
        scores = np.array([f.score for f in faces], np.float64)
        hit = match(pred, scores, item.boxes, iou_threshold)
        hits.append(hit)
        sizes.append(np.minimum(item.boxes[:, 2] - item.boxes[:, 0], item.boxes[:, 3] - item.boxes[:, 1]))
        n_pred += len(faces)
    hit, size = np.concatenate(hits), np.concatenate(sizes)
    row = {
        "detector": name,
        "recall": hit.mean(),
        "precision": hit.sum() / max(n_pred, 1),
        "ms": 1e3 * float(np.mean(times)),
    }
    for lo, hi in SIZE_BINS:
        sel = (size >= lo) & (size < hi)
        row[f"r{lo:g}-{hi:g}" if hi < 1e9 else f"r>={lo:g}"] = hit[sel].mean() if sel.any() else float("nan")
    row["n_gt"] = len(hit)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "kaggle853"))
    parser.add_argument("--split", default="val")
    parser.add_argument("--only", nargs="*", choices=sorted(CANDIDATES), help="detectors to run (default: all)")
    parser.add_argument("--iou", type=float, default=0.5)
    parser.add_argument("--limit", type=int, default=0, help="first N images only (0: all)")
    args = parser.parse_args(argv)

    items = load_voc_dataset(args.data, args.split)
    if args.limit:
        items = items[: args.limit]
    names = args.only or list(CANDIDATES)
    rows = []
    for name in names:
        rows.append(evaluate(name, CANDIDATES[name], items, args.iou))
        print(f"done {name}", file=sys.stderr)
    cols = [c for c in rows[0] if c not in ("detector", "n_gt")]
    print(f"kaggle853 {args.split}: {len(items)} images, {rows[0]['n_gt']} faces, IoU >= {args.iou}")
    print(f"{'detector':22s}" + "".join(f"{c:>10s}" for c in cols))
    for r in rows:
        print(f"{r['detector']:22s}" + "".join(f"{r[c]:10.1f}" if c == "ms" else f"{r[c]:10.3f}" for c in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
