#!/usr/bin/env python3
"""What YuNet's region search finds again: for each face the detector finds on the whole of frame
k that was also there on frame k-1 (IoU >= 0.3 with one of its faces), is it found at IoU >= 0.5
by a search only around frame k-1's faces? For search margins (in face sizes) and for regions cut
on YuNet's 32 px stride grid or anywhere (align 1).

    python scripts/region_agreement.py                    # Town Centre 1080p, first 40 frames
    python scripts/region_agreement.py --margins 1 2 3 --frames 100
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from facemask.config import load_config  # noqa: E402
from facemask.detectors import build_detector  # noqa: E402
from facemask.geometry import box_iou  # noqa: E402
from facemask.io.sources import VideoFileSource  # noqa: E402

DEFAULT_VIDEO = REPO.parent / "shared" / "videos" / "towncentre_clip_1080p.mp4"


def boxes(faces) -> np.ndarray:
    return np.array([f.box for f in faces], np.float32).reshape(-1, 4)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    p.add_argument("--config", default=str(REPO / "configs" / "config-x86.json"))
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--margins", type=float, nargs="+", default=[1.0, 2.0, 3.0])
    args = p.parse_args()
    if not args.video.is_file():
        sys.exit(f"{args.video}: no such video")
    det = build_detector(load_config(args.config))
    if not hasattr(det, "detect_regions"):
        sys.exit("region_agreement: the config's detector cannot search regions")
    with VideoFileSource(args.video) as source:
        frames = [f.image for _, f in zip(range(args.frames), source)]
    whole = [boxes(det.detect(f)) for f in frames]
    print(f"{args.video.name}, {len(frames)} frames, {sum(len(b) for b in whole)} faces on whole frames")
    print(f"{'margin':>6} {'align':>5} {'found again':>12} {'ms / frame':>11}")
    for margin in args.margins:
        for align in (1, 32):
            hit = total = 0
            seconds = 0.0
            for k in range(1, len(frames)):
                prev, ref = whole[k - 1], whole[k]
                if not len(prev) or not len(ref):
                    continue
                t = time.perf_counter()
                found = boxes(det.detect_regions(frames[k], prev, margin, align=align))
                seconds += time.perf_counter() - t
                there = box_iou(ref, prev).max(axis=1) >= 0.3
                total += int(there.sum())
                if len(found):
                    hit += int((box_iou(ref[there], found).max(axis=1) >= 0.5).sum())
            print(f"{margin:>6g} {align:>5} {hit:>5}/{total:<5} {100 * hit / max(total, 1):5.1f} % "
                  f"{1e3 * seconds / max(len(frames) - 1, 1):>6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
