#!/usr/bin/env python3
"""How much each track's look changes: the measure behind ``filters.static_max_change``.

A track that has not moved is static (a poster, a painting) when its first box's grey patch
mostly keeps its look: the mean grey-level change from the first detection exceeds
``static_max_change`` on fewer than half of its detections (``facemask.tracking.Track``). This
runs a clip through the video session (the config given, the default x86 one otherwise) and
prints, per track, its final status, its motion, and the change of its look on each detection:
the median and the share above a few thresholds.

    python scripts/static_looks.py ../shared/videos/mask_putting_on_4people_diazoniclabs.mp4
    python scripts/static_looks.py ../shared/videos/mask_putting_on_4people_diazoniclabs.mp4 --start 300
    python scripts/static_looks.py ../shared/videos/towncentre_clip_1080p.mp4
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
from facemask.tracking import Track, look  # noqa: E402
from facemask.video import VideoSession  # noqa: E402

THRESHOLDS = (4.0, 5.0, 6.0, 8.0)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("video")
    p.add_argument("--config", default=str(REPO / "configs" / "config-x86.json"))
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--start", type=int, default=0, help="first frame (the clip from there on)")
    args = p.parse_args()
    cfg = load_config(args.config, args.overrides)
    changes: dict[int, list[float]] = {}  # id(track) -> change at each compared detection
    tracks: dict[int, Track] = {}
    compare = Track._compare_look

    def recording(self: Track, image: np.ndarray, box: np.ndarray, max_change: float) -> None:
        if self._ref_box is not None and self._ref_look is not None:
            now = look(image, self._ref_box)
            if now is not None:
                changes.setdefault(id(self), []).append(float(np.abs(now - self._ref_look).mean()))
                tracks[id(self)] = self
        compare(self, image, box, max_change)

    Track._compare_look = recording  # type: ignore[method-assign]
    cap = cv2.VideoCapture(args.video)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    cap.set(cv2.CAP_PROP_POS_FRAMES, args.start)
    session = VideoSession(cfg, fps)
    index = 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        session.process(image, index)
        index += 1
    cap.release()
    session.finish()
    status = {e.track_id: e.status for e in session.pop_events() if e.kind.value == "track_ended"}
    print(f"{Path(args.video).name} from frame {args.start}: {index} frames; static_max_change "
          f"{cfg.filters.static_max_change}, static_after_frames {cfg.filters.static_after_frames}")
    print(f"{'track':>5s}  {'final status':14s}{'motion':>7s}{'looks':>6s}{'median':>8s}"
          + "".join(f"{'> ' + format(t, 'g'):>7s}" for t in THRESHOLDS))
    for key, values in sorted(changes.items(), key=lambda kv: tracks[kv[0]].id or 0):
        track = tracks[key]
        if track.id is None:
            continue  # never confirmed
        v = np.array(values)
        print(f"{track.id:5d}  {status.get(track.id, '?'):14s}{track.motion:7.2f}{len(v):6d}{np.median(v):8.2f}"
              + "".join(f"{(v > t).mean():7.2f}" for t in THRESHOLDS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
