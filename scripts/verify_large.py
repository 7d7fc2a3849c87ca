#!/usr/bin/env python3
"""The large faces YuNet doubts, and what UltraFace sees there: the measure behind ``filters.verify_large``.

Every ``--every``-th frame of a clip is run through the config's detector (whole-frame detection,
as on a video's full-detection frames). Each face of at least ``verify.MIN_FACE`` px scoring under
``verify.MAX_SCORE`` is printed with its score, its size, the IoU of the best UltraFace face around
it and the verdict; ``--montage FILE.png`` writes the crops (green: confirmed, red: not verified),
so that what was kept and what was dropped can be looked at.

    python scripts/verify_large.py ../shared/videos/towncentre_clip_1080p.mp4 --every 5
    python scripts/verify_large.py ../shared/videos/pedestrians_toward_camera_360p.mp4 --montage /tmp/ptc.png
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
from facemask.detectors.verify import IOU, LargeFaceVerifier, doubtful  # noqa: E402
from facemask.pipeline import FramePipeline, video_config  # noqa: E402

TILE = (100, 120)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("video")
    p.add_argument("--config", default=str(REPO / "configs" / "config-x86.json"))
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--every", type=int, default=3, help="every n-th frame")
    p.add_argument("--min-score", type=float, default=None,
                   help="only faces scoring at least this (default: detector.classify_score, the ones that would vote)")
    p.add_argument("--montage", type=Path, default=None, help="a PNG of the crops, up to 80")
    args = p.parse_args()
    cfg = load_config(args.config, args.overrides)
    pipeline = FramePipeline(video_config(cfg))
    detector = pipeline.detector
    min_score = args.min_score if args.min_score is not None else detector.classify_score
    verifier = LargeFaceVerifier()
    cap = cv2.VideoCapture(args.video)
    if not cap.isOpened():
        print(f"cannot open {args.video}", file=sys.stderr)
        return 2
    tiles: list[np.ndarray] = []
    index = kept = dropped = 0
    print(f"{'frame':>6} {'score':>6} {'size':>6} {'UltraFace IoU':>14}  verdict")
    while True:
        ok = cap.grab()
        if not ok:
            break
        if index % args.every == 0:
            _, image = cap.retrieve()
            for face in detector.detect(image):
                if not doubtful(face) or face.score < min_score:
                    continue
                iou = verifier.overlap(image, face)
                good = iou >= IOU
                kept, dropped = kept + good, dropped + (not good)
                print(f"{index:6d} {face.score:6.2f} {face.size:6.0f} {iou:14.2f}  {'confirmed' if good else 'not verified'}")
                if args.montage is not None and len(tiles) < 80:
                    x1, y1, x2, y2 = (int(v) for v in face.box)
                    tile = cv2.resize(image[max(y1, 0):y2, max(x1, 0):x2], TILE)
                    cv2.putText(tile, f"{index} {face.score:.2f} {iou:.2f}", (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                                (0, 200, 0) if good else (0, 0, 255), 1)
                    tiles.append(tile)
        index += 1
    cap.release()
    print(f"{kept + dropped} doubtful large faces scoring >= {min_score:g} in {index} frames (every {args.every}): "
          f"{kept} confirmed, {dropped} not verified")
    if args.montage is not None and tiles:
        blank = np.zeros((TILE[1], TILE[0], 3), np.uint8)
        rows = [np.hstack(tiles[i:i + 10] + [blank] * (10 - len(tiles[i:i + 10]))) for i in range(0, len(tiles), 10)]
        cv2.imwrite(str(args.montage), np.vstack(rows))
        print(f"montage: {args.montage}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
