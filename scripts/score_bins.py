#!/usr/bin/env python3
"""What YuNet's detection score says about a detection, by score bin, on an annotated split:
how many detections match no annotated face (IoU < 0.5), how often the classifier would vote
"mask" (probability > vote.high) on those, and its accuracy on the matched ones. This is how
``detector.classify_score`` was chosen (on the train split, never on val).

    python scripts/score_bins.py                         # kaggle853 train, the x86 config
    python scripts/score_bins.py --split val --min-score 0.2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from facemask.config import load_config  # noqa: E402
from facemask.datasets import load_voc_dataset  # noqa: E402
from facemask.geometry import box_iou  # noqa: E402
from facemask.pipeline import FramePipeline  # noqa: E402
from facemask.types import MASK  # noqa: E402

EDGES = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.01]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "kaggle853")
    p.add_argument("--split", default="train")
    p.add_argument("--config", default=str(REPO / "configs" / "config-x86.json"))
    p.add_argument("--min-score", type=float, default=EDGES[0], help="lowest score detected (default: %(default)s)")
    args = p.parse_args()
    cfg = load_config(args.config)
    if cfg.detector.type != "yunet":
        sys.exit("score_bins: the config's detector must be yunet")
    pipe = FramePipeline(cfg)
    data = load_voc_dataset(args.data, args.split)
    rows = []  # (score, matched an annotated face, its label or None, mask probability)
    for item in data:
        image = cv2.imread(str(item.image_path))
        if image is None:
            continue
        faces = pipe.detector.detect(image, args.min_score)
        pipe.classify(image, faces)  # the filters (size, edge) as configured, classify_score aside
        faces = [f for f in faces if f.mask_prob is not None or f.skip_reason == "low_score"]
        gt = np.asarray(item.boxes, np.float32).reshape(-1, 4)
        iou = box_iou(np.array([f.box for f in faces]).reshape(-1, 4), gt) if len(gt) else np.zeros((len(faces), 0))
        for k, f in enumerate(faces):
            if f.mask_prob is None:  # below classify_score: classify it here to see what it would say
                pipe.classifier.classify(image, [f])
            j = int(iou[k].argmax()) if iou.shape[1] else -1
            hit = j >= 0 and iou[k, j] >= 0.5
            rows.append((f.score, hit, item.labels[j] if hit else None, f.mask_prob))
    print(f"{args.split}: {len(data)} images, {len(rows)} detections of classifiable size")
    print(f"{'score':>9} {'dets':>6} {'no face':>8} {'mask vote on no face':>21} {'accuracy on faces':>18}")
    high = cfg.vote.high
    for lo, hi in zip(EDGES[:-1], EDGES[1:]):
        sel = [r for r in rows if lo <= r[0] < hi and r[0] >= args.min_score]
        if not sel:
            continue
        miss = [r for r in sel if not r[1]]
        hits = [r for r in sel if r[1]]
        acc = np.mean([(r[3] > 0.5) == (r[2] == MASK) for r in hits]) if hits else float("nan")
        vote = np.mean([r[3] > high for r in miss]) if miss else float("nan")
        print(f"{lo:.1f}-{min(hi, 1.0):.1f} {len(sel):>6} {len(miss) / len(sel):>8.1%} {vote:>21.1%} {acc:>18.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
