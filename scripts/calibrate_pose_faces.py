#!/usr/bin/env python
"""Measure the pose -> face box geometry (facemask.detectors.pose_to_face.GEOMETRY) on kaggle853 train.

For every pose PoseNet and MoveNet find on the train split and every method that applies to it,
the method's reference point is matched to the ground-truth face whose centre is nearest (within
one face size); the script prints, per method, the medians of
  scale  = face width / the method's size,
  dy     = (face centre y - reference y) / face width,
  aspect = face height / face width,
which are the numbers GEOMETRY holds. The validation split is never read.

    python scripts/calibrate_pose_faces.py [--limit N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from facemask.config import parse_config  # noqa: E402
from facemask.datasets import load_voc_dataset  # noqa: E402
from facemask.detectors import build_detector  # noqa: E402
from facemask.detectors.pose_to_face import ESTIMATORS  # noqa: E402

DETECTORS = {
    "posenet": {"type": "posenet", "model": "posenet_mobilenet_v1_075_481_641_quant"},
    "movenet": {"type": "movenet", "input_size": 512},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "kaggle853"))
    parser.add_argument("--limit", type=int, default=0, help="first N train images only (0: all)")
    parser.add_argument("--keypoint-threshold", type=float, default=0.3)
    args = parser.parse_args(argv)

    items = load_voc_dataset(args.data, "train")
    if args.limit:
        items = items[: args.limit]
    samples: dict[str, list[tuple[float, float, float]]] = {m: [] for m in ESTIMATORS}
    for name, det_cfg in DETECTORS.items():
        detector = build_detector(parse_config({"detector": det_cfg}))
        for item in items:
            image = cv2.imread(str(item.image_path))
            if image is None or len(item.boxes) == 0:
                continue
            gt = item.boxes
            gw, gh = gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]
            centres = (gt[:, :2] + gt[:, 2:]) / 2
            kps, _ = detector.poses(image)
            for pose in kps:
                for method, estimate in ESTIMATORS.items():
                    est = estimate(pose, args.keypoint_threshold)
                    if est is None:
                        continue
                    dist = np.linalg.norm(centres - est.ref, axis=1)
                    j = int(np.argmin(dist))
                    if dist[j] > max(gw[j], gh[j]):
                        continue
                    samples[method].append((gw[j] / est.size, (centres[j, 1] - est.ref[1]) / gw[j], gh[j] / gw[j]))
        print(f"{name}: {len(items)} train images done", file=sys.stderr)

    print(f"{'method':10s} {'n':>5s} {'scale':>7s} {'dy':>7s} {'aspect':>7s}   (medians; IQR of scale)")
    for method, rows in samples.items():
        if not rows:
            print(f"{method:10s} {0:5d}")
            continue
        a = np.array(rows)
        q1, q3 = np.percentile(a[:, 0], [25, 75])
        med = np.median(a, axis=0)
        print(f"{method:10s} {len(a):5d} {med[0]:7.3f} {med[1]:7.3f} {med[2]:7.3f}   [{q1:.3f}, {q3:.3f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
