#!/usr/bin/env python3
"""How fast a person's decision can change: votes per second per person, and what that means
for someone who puts a mask on after ``vote.cap`` votes for "no mask".

A decision flips once the balance crosses ``vote.min_votes`` the other way, so from a full
balance (-cap) it takes ``cap + min_votes`` mask votes; at the votes per second measured per
person (votes cast over the seconds the person was followed) that is the worst-case delay printed.
The observed decision changes to "mask" are printed too. Runs the video once per setting given
with ``--compare`` (each a list of section.key=value), e.g. local search on and off:

    python scripts/mask_change_delay.py
    python scripts/mask_change_delay.py --compare tracker.local_search=false
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from facemask.config import load_config  # noqa: E402
from facemask.io.sources import VideoFileSource  # noqa: E402
from facemask.types import MASK  # noqa: E402
from facemask.video import VideoSession  # noqa: E402

DEFAULT_VIDEO = REPO.parent / "shared" / "videos" / "mask_putting_on_4people_diazoniclabs.mp4"


def measure(config: str, overrides: list[str], video: Path) -> tuple[list[dict], float]:
    """Per person: votes per second and decision changes to mask; and the worst-case flip votes."""
    cfg = load_config(config, overrides)
    changes: dict[int, list[float]] = {}
    with VideoFileSource(video) as source:
        fps = source.info.fps
        session = VideoSession(cfg, fps)
        for frame in source:
            session.process(frame)
            for e in session.pop_events():
                if e.kind.value == "decision_changed" and e.decision == MASK:
                    changes.setdefault(e.track_id, []).append(e.time_s)
    session.finish()
    rows = []
    for row in session.stats.ended_rows:
        if row["status"] != "person":
            continue
        cast = row["mask_votes"] + row["no_mask_votes"] + row["mask_incorrect_votes"] + row["not_classified"]
        seconds = max(row["frames"], 1) / fps
        rows.append({"track": row["track_id"], "seconds": seconds, "votes_per_s": cast / seconds,
                     "changed_to_mask_s": changes.get(row["track_id"], [])})
    return rows, cfg.vote.cap + cfg.vote.min_votes


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    p.add_argument("--config", default=str(REPO / "configs" / "config-x86.json"))
    p.add_argument("--compare", action="append", nargs="+", default=[], metavar="SECTION.KEY=VALUE",
                   help="another setting to run (repeatable); the config as is always runs first")
    args = p.parse_args()
    if not args.video.is_file():
        sys.exit(f"{args.video}: no such video")
    for overrides in [[]] + args.compare:
        rows, flip_votes = measure(args.config, overrides, args.video)
        name = " ".join(overrides) or "config as is"
        print(f"\n{args.video.name}, {name}: {len(rows)} people")
        for r in rows:
            changed = ", ".join(f"{t:.2f}" for t in r["changed_to_mask_s"]) or "-"
            print(f"  track {r['track']:>3}: followed {r['seconds']:5.1f} s, {r['votes_per_s']:5.1f} votes/s, "
                  f"worst-case flip {flip_votes / max(r['votes_per_s'], 1e-9):5.1f} s; changed to mask at (s): {changed}")
        if rows:
            rate = float(np.median([r["votes_per_s"] for r in rows]))
            print(f"  median {rate:.1f} votes/s: from a full 'no mask' balance a mask wins after {flip_votes / rate:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
