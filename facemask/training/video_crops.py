"""Hand-labelled face crops of video clips: the labels file, re-cutting the crops, the hold-out.

The labels (``training.video_labels``, e.g. ``facemask/training/video_labels.csv``) name a clip,
a frame and a face box (as ``python -m facemask collect`` found them: YuNet's video boxes, no box
correction) with a label and hard-case groups. They carry no pixels: the crops are cut again from
the clips, found by file name in ``training.video_dirs``, with :func:`facemask.crops.face_crop`
and ``classifier.crop_pad``, exactly as video inference cuts them.

Columns: ``video`` (file name), ``frame`` (0-based index of the decoded frame), ``x1 y1 x2 y2``
(pixels), ``label`` (``mask``, ``no_mask``, ``not_face``, ``unclear``), ``groups``
(``;``-separated, from :data:`GROUPS`), ``track`` (collect's track id), ``person`` (the clip's
people.json id where the crop could be tied to one, else empty) and ``note``.

The hold-out is chosen per person, not per crop, so near-copies of one face never straddle train
and hold-out: the key is the clip and the person id, or the track where there is no person id.
"""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..crops import face_crop
from ..errors import InputError

LABELS = ("mask", "no_mask", "not_face", "unclear")
TRAINED = ("mask", "no_mask")  # not_face and unclear crops are reported, never trained on
GROUPS = ("glasses", "teeth", "beard", "dark_mask", "from_above", "hat", "profile", "hand",
          "mask_under_nose_or_chin", "blurred")
HEADER = ["video", "frame", "x1", "y1", "x2", "y2", "label", "groups", "track", "person", "note"]


@dataclass(frozen=True)
class VideoLabel:
    video: str
    frame: int
    box: tuple[float, float, float, float]
    label: str
    groups: tuple[str, ...]
    track: int
    person: str = ""
    note: str = ""

    @property
    def person_key(self) -> str:
        """Who this is, for the hold-out: the people.json id where known, else the track."""
        return f"{self.video}/{self.person or 't' + str(self.track)}"

    @property
    def name(self) -> str:
        return f"vid_{Path(self.video).stem}_t{self.track}_f{self.frame}"


def resolve(path: str | Path) -> Path:
    """A relative labels path is looked up from the working folder, then from the folder that
    holds the ``facemask`` package (so the packaged ``facemask/training/video_labels.csv`` is
    found from any folder)."""
    p = Path(path)
    if p.is_absolute() or p.is_file():
        return p
    packaged = Path(__file__).resolve().parents[2] / p
    return packaged if packaged.is_file() else p


def read_labels(path: str | Path) -> list[VideoLabel]:
    p = resolve(path)
    if not p.is_file():
        raise InputError(f"training.video_labels: file {p} not found")
    rows: list[VideoLabel] = []
    with open(p, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or list(reader.fieldnames) != HEADER:
            raise InputError(f"{p}: header must be {','.join(HEADER)}")
        for n, r in enumerate(reader, start=2):
            groups = tuple(g for g in r["groups"].split(";") if g)
            bad = [g for g in groups if g not in GROUPS]
            if r["label"] not in LABELS or bad:
                raise InputError(f"{p}:{n}: label {r['label']!r} not one of {', '.join(LABELS)}"
                                 if r["label"] not in LABELS else f"{p}:{n}: unknown group(s) {', '.join(bad)}")
            box = (float(r["x1"]), float(r["y1"]), float(r["x2"]), float(r["y2"]))
            rows.append(VideoLabel(r["video"], int(r["frame"]), box, r["label"], groups, int(r["track"]),
                                   r["person"], r["note"]))
    return rows


def write_labels(path: str | Path, rows: Iterable[VideoLabel]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(HEADER)
        for r in sorted(rows, key=lambda r: (r.video, r.track, r.frame)):
            w.writerow([r.video, r.frame, *(f"{v:g}" for v in r.box), r.label, ";".join(r.groups), r.track,
                        r.person, r.note])


def in_holdout(label: VideoLabel, fraction: float) -> bool:
    digest = hashlib.sha1(label.person_key.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


def find_video(name: str, dirs: Sequence[str | Path]) -> Path | None:
    for d in dirs:
        p = Path(d) / name
        if p.is_file():
            return p
    return None


def cut_crops(labels: Sequence[VideoLabel], dirs: Sequence[str | Path], size: int, pad: float,
              shift: float = 0.0) -> tuple[list[tuple[VideoLabel, np.ndarray]], list[str]]:
    """Every labelled crop (RGB, ``size`` px) cut from its clip's frame; and the clips not found.

    Each clip is decoded once from the start (frame indices are those of collect's sequential
    decode; seeking is not frame-exact for every codec)."""
    by_video: dict[str, list[VideoLabel]] = defaultdict(list)
    for r in labels:
        by_video[r.video].append(r)
    out: list[tuple[VideoLabel, np.ndarray]] = []
    missing: list[str] = []
    for video, rows in sorted(by_video.items()):
        path = find_video(video, dirs)
        if path is None:
            missing.append(video)
            continue
        wanted: dict[int, list[VideoLabel]] = defaultdict(list)
        for r in rows:
            wanted[r.frame].append(r)
        cap = cv2.VideoCapture(str(path))
        try:
            index, last = 0, max(wanted)
            while index <= last:
                ok, frame = cap.read()
                if not ok:
                    raise InputError(f"{path}: ends at frame {index}, labels need frame {last}")
                for r in wanted.get(index, ()):
                    out.append((r, face_crop(frame, r.box, size, pad, shift)))
                index += 1
        finally:
            cap.release()
    return out, missing
