#!/usr/bin/env python3
"""Speed and per-frame face recall of ``tracker.detect_every`` on a video, end to end.

For each value, runs the video command exactly as a user does (decode, detect on one frame in N,
track, classify, draw, encode the output video, write the reports) and reads:

* fps: the command's own end-to-end figure (frames / wall time of its frame loop);
* CPU ms per frame: user + system time of the command (all threads) per frame, less the time of
  the same command stopped after its first frame (imports, model loading): on a shared machine
  this says what the wall-clock fps would be on idle cores (2 cores: at most 2000 / this);
* per-frame face recall against the reference, the detector on every frame at its own score
  threshold (``detect_every = 1``, ``tracker.keep_score = 1``: no weaker faces kept by tracks):
  the faces of every frame (detected, or carried by the tracker) matched one-to-one to the
  reference faces at IoU >= 0.5; also for the reference faces of at least ``--min-size`` px (those
  the classifier sees);
* extra: the % of a run's faces that match no reference face (weak faces kept on tracks, boxes
  carried where the detector lost the face, or false detections); "near": the % of those that
  overlap a reference face within 5 frames.

The "lag 1" line is the reference against itself one frame earlier: how much of a frame's
faces the detector's own previous frame matches at IoU >= 0.5. Small faces jitter from frame to
frame, so carrying boxes over frames without detection cannot beat it by much.

    python scripts/bench_detect_every.py                       # Town Centre 1080p, N = 1..5
    python scripts/bench_detect_every.py --every 1 3 --repeat 3 --set detector.upscale=1.0
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from facemask.geometry import box_iou  # noqa: E402

DEFAULT_VIDEO = REPO.parent / "shared" / "videos" / "towncentre_clip_1080p.mp4"


def unmatched(r: np.ndarray, t: np.ndarray, thr: float = 0.5) -> np.ndarray:
    """The test faces left after greedy one-to-one matching to the reference faces, best IoU first."""
    if len(r) == 0 or len(t) == 0:
        return t
    iou = box_iou(r, t)
    used = np.zeros(len(t), bool)
    while True:
        i, j = np.unravel_index(np.argmax(iou), iou.shape)
        if iou[i, j] < thr:
            return t[~used]
        used[j] = True
        iou[i, :] = -1
        iou[:, j] = -1


def matched(ref: np.ndarray, test: np.ndarray, thr: float = 0.5) -> int:
    return len(test) - len(unmatched(ref, test, thr))


def extra(ref: list[np.ndarray], test: list[np.ndarray]) -> float:
    """% of the test faces matched to no reference face in the same frame."""
    total = sum(len(t) for t in test)
    return 100.0 * (total - sum(matched(r, t) for r, t in zip(ref, test))) / total if total else float("nan")


def extra_near(ref: list[np.ndarray], test: list[np.ndarray], window: int = 5) -> float:
    """% of the extra faces that overlap (IoU >= 0.3) a reference face within ``window`` frames:
    a face the detector does find around then, kept on a weaker score or carried."""
    near = total = 0
    for k, (r, t) in enumerate(zip(ref, test)):
        for box in unmatched(r, t):
            total += 1
            near += any(len(ref[j]) and box_iou(box[None], ref[j]).max() >= 0.3
                        for j in range(max(0, k - window), min(len(ref), k + window + 1)))
    return 100.0 * near / total if total else float("nan")


def recall(ref: list[np.ndarray], test: list[np.ndarray], min_size: float = 0.0) -> float:
    """% of the reference faces (min side >= min_size) matched in the same frame."""
    hit = total = 0
    for r, t in zip(ref, test):
        r = r[np.minimum(r[:, 2] - r[:, 0], r[:, 3] - r[:, 1]) >= min_size]
        hit += matched(r, t)
        total += len(r)
    return 100.0 * hit / total if total else float("nan")


def boxes_per_frame(jsonl: Path) -> list[np.ndarray]:
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    return [np.array([f["box"] for f in r["faces"]], np.float64).reshape(-1, 4) for r in rows]


REFERENCE = "ref"  # the detector alone on every frame


def video_command(video: Path, config: str, every: int | str, overrides: list[str], out: Path,
                  max_frames: int | None = None) -> tuple[str, float]:
    """Run inference_video.py; its stdout and the CPU seconds it used (all threads)."""
    cmd = [sys.executable, str(REPO / "inference_video.py"), "--config", config, "--input_video_path", str(video),
           "--output_video", str(out), "--no-progress"]
    settings = ["tracker.detect_every=1", "tracker.keep_score=1"] if every == REFERENCE else [f"tracker.detect_every={every}"]
    for item in overrides + settings:
        cmd += ["--set", item]
    if max_frames is not None:
        cmd += ["--max-frames", str(max_frames)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"detect_every={every}: the video command failed:\n{proc.stderr.strip()}")
    return proc.stdout, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run(video: Path, config: str, every: int | str, overrides: list[str], out_dir: Path,
        max_frames: int | None = None) -> tuple[float, float, list[np.ndarray]]:
    out = out_dir / f"every{every}.mp4"
    _, fixed_cpu = video_command(video, config, every, overrides, out_dir / "first.mp4", max_frames=1)
    stdout, cpu = video_command(video, config, every, overrides, out, max_frames)
    fps = float(re.search(r"^\s*fps: ([\d.]+)", stdout, re.MULTILINE).group(1))
    frames = int(re.search(r"^\s*frames: (\d+)", stdout, re.MULTILINE).group(1))
    return fps, 1e3 * (cpu - fixed_cpu) / max(frames - 1, 1), boxes_per_frame(out.with_suffix(".jsonl"))


def table(args, values, overrides: list[str], label: str) -> dict:
    """Run every value with ``overrides`` and print its table; fps per value."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_every_") as tmp:
        for every in values:
            runs = [run(args.video, args.config, every, overrides, Path(tmp), args.max_frames) for _ in range(args.repeat)]
            results[every] = max(runs, key=lambda r: r[0])
            time.sleep(0.1)
    ref = results[REFERENCE][2]
    ref_total = sum(len(b) for b in ref)
    if label:
        print(f"\n== {label}")
    print(f"\nreference (ref): the detector on every frame at its threshold, {ref_total} faces in {len(ref)} frames")
    print(f"lag 1 (reference vs its previous frame): recall {recall(ref[1:], ref[:-1]):.2f} %, "
          f">= {args.min_size} px: {recall(ref[1:], ref[:-1], args.min_size):.2f} %")
    print(f"{'detect_every':>12} {'fps':>7} {'cpu ms/frame':>13} {'faces':>7} {'extra %':>8} {'near %':>7} {'recall %':>9} {'loss':>6} "
          f"{'recall >= ' + str(args.min_size) + ' px %':>18} {'loss':>6}")
    for every in values:
        fps, cpu_ms, boxes = results[every]
        if len(boxes) != len(ref):
            sys.exit(f"detect_every={every}: {len(boxes)} frames, reference has {len(ref)}")
        r_all, r_big = recall(ref, boxes), recall(ref, boxes, args.min_size)
        print(f"{every:>12} {fps:>7.1f} {cpu_ms:>13.1f} {sum(len(b) for b in boxes):>7} {extra(ref, boxes):>8.2f} {extra_near(ref, boxes):>7.1f} {r_all:>9.2f} {100 - r_all:>6.2f} "
              f"{r_big:>18.2f} {100 - r_big:>6.2f}")
    return {every: results[every][0] for every in values}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    p.add_argument("--config", default="configs/config-x86.json")
    p.add_argument("--every", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    p.add_argument("--repeat", type=int, default=1, help="runs per value; the fastest is reported")
    p.add_argument("--max-frames", type=int, default=None, help="first frames only")
    p.add_argument("--min-size", type=int, default=16, help="face size for the second recall column (default: %(default)s, filters.min_face_size)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--baseline", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="also run every value with these overrides added, in the same run (repeatable), "
                        "e.g. --baseline detector.runtime=opencv")
    args = p.parse_args()
    if not args.video.is_file():
        sys.exit(f"{args.video}: no such video")
    values = [REFERENCE] + sorted(set(args.every))
    print(f"video {args.video.name}, config {args.config} {' '.join(args.overrides)}")
    print(f"{os.cpu_count()} CPUs, load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    runs_of = {"": args.overrides}
    if args.baseline:
        runs_of["baseline " + " ".join(args.baseline)] = args.overrides + args.baseline
    fps_of = {}
    for label, overrides in runs_of.items():
        fps_of[label] = table(args, values, overrides, label)
    if args.baseline:
        (now, base) = fps_of.values()
        print("fps ratio to the baseline: " + ", ".join(f"detect_every {e}: {now[e] / base[e]:.2f}" for e in now))
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
