"""Collect unlabeled face crops from a video, a few per tracked person, to grow the training set.

``python -m facemask collect --config configs/config-x86.json --video FILE --out DIR
[--per-person 5] [--size 64] [--max-frames N]``

The video runs through the app's own pipeline and tracker (VideoSession), so the faces are the
ones the app sees. Only faces detected on a detection frame, matched to a confirmed track and
classified (no filter skip reason) are candidates. When a track ends, its candidates are split
into ``per-person`` consecutive stretches of its life and the best candidate of each stretch is
kept (best = sharpest crop, Laplacian variance at the crop size, times the detection score), so
the crops are spread over the track instead of being near-copies of one moment.

Crops are cut by :func:`facemask.crops.face_crop` with ``classifier.crop_pad``, exactly as for
training and inference, and written as ``DIR/unlabeled/<video stem>_t<track>_f<frame>.jpg``;
``DIR/index.csv`` has one row per crop (rows of other videos already there are kept). Every
file is written to a temp name and renamed.
"""

from __future__ import annotations

import argparse
import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from tqdm import tqdm

from ..config import Config, load_config
from ..crops import face_crop
from ..errors import InputError
from ..io.sinks import write_csv
from ..io.sinks.base import FrameOutput
from ..types import Event, Face

if TYPE_CHECKING:
    from ..video import VideoSession

INDEX_FILE = "index.csv"
HEADER = ["file", "video", "track", "frame", "time_s", "x1", "y1", "x2", "y2", "face_px", "score", "mask_prob", "sharpness"]
MAX_CANDIDATES = 256  # per track; beyond it every other candidate is dropped (keeps the spread)


@dataclass
class Candidate:
    frame: int
    time_s: float
    face: Face
    crop: np.ndarray  # RGB, size x size
    sharpness: float

    @property
    def quality(self) -> float:
        return self.sharpness * float(self.face.score)


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of the grey crop: low for blurred or upscaled tiny faces."""
    return float(cv2.Laplacian(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), cv2.CV_32F).var())


def pick_spread(candidates: list[Candidate], n: int) -> list[Candidate]:
    """The best candidate of each of ``n`` consecutive, equal stretches (time order kept)."""
    if len(candidates) <= n:
        return list(candidates)
    return [max(chunk, key=lambda c: c.quality) for chunk in np.array_split(np.array(candidates, dtype=object), n)]


class Collector:
    """Feed it every frame's FrameResult; it writes crops as tracks end."""

    def __init__(self, out_dir: Path, video_stem: str, per_person: int, size: int, pad: float):
        self.dir = out_dir / "unlabeled"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.stem, self.per_person, self.size, self.pad = video_stem, per_person, size, pad
        self.pending: dict[int, list[Candidate]] = {}
        self.rows: list[list] = []

    def add(self, frame: np.ndarray, index: int, time_s: float, faces: list[Face]) -> None:
        for face in faces:
            if face.track_id is None or face.skip_reason is not None or face.mask_prob is None:
                continue
            crop = face_crop(frame, face.box, self.size, self.pad)
            cands = self.pending.setdefault(int(face.track_id), [])
            cands.append(Candidate(index, time_s, face, crop, sharpness(crop)))
            if len(cands) > MAX_CANDIDATES:
                del cands[1::2]

    def close_tracks(self, alive: set[int] | None = None) -> None:
        """Write the crops of every pending track not in ``alive`` (None: all of them)."""
        for track in [t for t in self.pending if alive is None or t not in alive]:
            for c in pick_spread(self.pending.pop(track), self.per_person):
                self._write(track, c)

    def _write(self, track: int, c: Candidate) -> None:
        name = f"{self.stem}_t{track}_f{c.frame}.jpg"
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(c.crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
            raise InputError(f"cannot encode {name}")
        tmp = self.dir / (name + ".part")
        tmp.write_bytes(data.tobytes())
        os.replace(tmp, self.dir / name)
        box = [round(float(v), 1) for v in c.face.box]
        self.rows.append([f"unlabeled/{name}", self.stem, track, c.frame, round(c.time_s, 3), *box,
                          round(c.face.size, 1), round(float(c.face.score), 4), round(float(c.face.mask_prob or 0.0), 4),  # candidates all have one
                          round(c.sharpness, 1)])


def write_index(out_dir: Path, video_stem: str, rows: list[list]) -> Path:
    """``index.csv``: this video's rows replace its earlier ones; other videos' rows stay."""
    path = out_dir / INDEX_FILE
    kept: list[list] = []
    if path.is_file():
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            if next(reader, None) != HEADER:
                raise InputError(f"{path}: not an index written by this version of collect (header differs)")
            kept = [r for r in reader if r[1] != video_stem]
    write_csv(path, HEADER, kept + sorted(rows, key=lambda r: (r[2], r[3])))
    return path


class CollectSink:
    """The runner's sink of ``collect``: faces of full-detection frames go to the collector, and
    the crops of tracks that ended are written."""

    def __init__(self, session: "VideoSession", collector: Collector):
        self.session, self.collector = session, collector
        self._detected = 0

    def on_frame(self, out: FrameOutput) -> None:
        if self.session.detected_frames > self._detected:  # carried faces are Kalman boxes, not detections
            self._detected = self.session.detected_frames
            frame = out.frame
            self.collector.add(frame.image, frame.index, frame.time_s, out.result.faces)
            tracker = self.session.tracker
            assert tracker is not None
            self.collector.close_tracks({t.id for t in tracker.tracks if t.id is not None})

    def on_event(self, event: Event) -> None:
        pass

    def close(self) -> None:
        self.collector.close_tracks()

    def abort(self) -> None:
        pass  # crops written so far are complete files; the index is not written


def collect(cfg: Config, video: str, out_dir: Path, per_person: int = 5, size: int = 64,
            max_frames: int | None = None, progress: bool = True) -> tuple[Path, list[list]]:
    from ..io.sources import open_source
    from ..run import Runner
    from ..video import VideoSession

    if not cfg.tracker.enabled:
        raise InputError("collect needs tracking (tracker.enabled is false in the config)")
    source = open_source(video)
    session = VideoSession(cfg, source.info.fps, camera=Path(video).stem)
    collector = Collector(out_dir, Path(video).stem, per_person, size, cfg.classifier.crop_pad)
    total = source.info.frames if max_frames is None else min(source.info.frames or max_frames, max_frames)
    with source, tqdm(total=total, unit="frame", disable=not progress, dynamic_ncols=True) as bar:
        Runner(source, session, [CollectSink(session, collector)], max_frames=max_frames,
               on_progress=lambda n: bar.update(n - bar.n)).run()
    return write_index(out_dir, collector.stem, collector.rows), collector.rows


def main(argv: list[str] | None = None) -> int:
    from ..cli import report_errors

    p = argparse.ArgumentParser(prog="python -m facemask collect", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="configs/config-x86.json", help="JSON config (default: %(default)s)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--video", required=True, help="video file")
    p.add_argument("--out", required=True, type=Path, help="dataset folder (crops go to OUT/unlabeled/)")
    p.add_argument("--per-person", type=int, default=5, help="crops kept per tracked person (default 5)")
    p.add_argument("--size", type=int, default=64, help="crop side in pixels (default 64, prepare's store_size)")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)

    def run() -> int:
        if args.per_person < 1 or not 16 <= args.size <= 512:
            raise InputError("--per-person must be >= 1 and --size 16..512")
        cfg = load_config(args.config, args.overrides)
        index, rows = collect(cfg, args.video, args.out, args.per_person, args.size, args.max_frames, not args.no_progress)
        print(f"{len(rows)} crops of {len({r[2] for r in rows})} tracks -> {args.out / 'unlabeled'}; index {index}")
        return 0

    return report_errors(run)
