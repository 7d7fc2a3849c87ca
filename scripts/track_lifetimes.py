#!/usr/bin/env python
"""How long tracks live with each face detector, on CCTV clips (towncentre, vtest).

Each detector runs on one frame in ``tracker.detect_every``, as in a video run, and its faces go
through the project's tracker (facemask.tracking.FaceTracker) with configs/config-x86.json's
tracker settings, or with ``--detect-every``. For every
clip and detector the script prints: faces per frame, confirmed tracks, and the tracks' life
(frames from first to last detection): median, mean, and how many lived at least a second.
The same people followed by fewer, longer tracks means fewer identity switches and more votes
per person. No ground truth: compare detectors with each other on the same clip.

    python scripts/track_lifetimes.py [--frames N] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from facemask.config import TrackerConfig, load_config, parse_config  # noqa: E402
from facemask.detectors import build_detector  # noqa: E402
from facemask.tracking import FaceTracker  # noqa: E402

VIDEOS = REPO.parent / "shared" / "videos"
CLIPS = ("towncentre_clip_1080p.mp4", "vtest_480x360.avi")
BASE = load_config(REPO / "configs" / "config-x86.json")
YUNET = BASE.detector.model_dump()
POSENET = {"type": "posenet", "model": "posenet_mobilenet_v1_075_481_641_quant"}
DETECTORS: dict[str, dict] = {
    "yunet": YUNET,
    "posenet-481x641": POSENET,
    "posenet-721x1281": {"type": "posenet", "model": "posenet_mobilenet_v1_075_721_1281_quant"},
    "movenet-256-2x2": {"type": "movenet", "input_size": 256, "tiles": [2, 2]},
    "fusion-yunet+posenet481": {"type": "fusion", "detectors": [YUNET, POSENET]},
}


def run(clip: Path, det_cfg: dict, max_frames: int, tracker_cfg: TrackerConfig) -> dict:
    detector = build_detector(parse_config({"detector": det_cfg}))
    tracker = FaceTracker(tracker_cfg, BASE.vote, BASE.filters)
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    ended, faces_seen, n = [], 0, 0
    while n < max_frames:
        ok, frame = cap.read()
        if not ok:
            break
        if n % tracker_cfg.detect_every == 0:
            faces = detector.detect(frame)
            faces_seen += len(faces)
            ended += tracker.update(n / 25, faces, frame).ended
        else:
            ended += tracker.update(n / 25, None).ended
        n += 1
    cap.release()
    tracks = [t for t in ended + tracker.finish() if t.id is not None]
    spans = np.array([t.span for t in tracks]) if tracks else np.zeros(1)
    return {
        "frames": n,
        "faces/detection": faces_seen / max(-(-n // tracker_cfg.detect_every), 1),
        "tracks": len(tracks),
        "median": float(np.median(spans)),
        "mean": float(np.mean(spans)),
        ">=1s": int(np.sum(spans >= fps)) if tracks else 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=150, help="frames per clip, at most (default: %(default)s)")
    parser.add_argument("--only", nargs="*", choices=sorted(DETECTORS), help="detectors to run (default: all)")
    parser.add_argument("--detect-every", type=int, default=BASE.tracker.detect_every,
                        help="run the detector on one frame in N (default: the x86 config's, %(default)s)")
    args = parser.parse_args(argv)
    tracker_cfg = TrackerConfig.model_validate({**BASE.tracker.model_dump(), "detect_every": args.detect_every})
    for clip in CLIPS:
        print(f"{clip} (first {args.frames} frames at most, detect_every {args.detect_every}); track life in frames")
        print(f"  {'detector':24s} {'frames':>6s} {'faces/det':>9s} {'tracks':>6s} {'median':>7s} {'mean':>7s} {'>=1s':>5s}")
        for name in args.only or DETECTORS:
            r = run(VIDEOS / clip, DETECTORS[name], args.frames, tracker_cfg)
            print(f"  {name:24s} {r['frames']:6d} {r['faces/detection']:9.1f} {r['tracks']:6d} "
                  f"{r['median']:7.1f} {r['mean']:7.1f} {r['>=1s']:5d}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
