"""Snapshots: the best crop of each person (largest, sharpest, most frontal face the classifier
judged: the frames its decision rests on, not a low-score box the track also took), written
as a JPEG when the person is decided (and again at the end if a better one came later), with its
path in SQLite (:mod:`.records`); files past ``snapshots.retention_days`` or beyond
``snapshots.max_files`` are deleted. With ``privacy.blur_faces`` the face in the crop is
blurred like every other output; with ``privacy.store_images: false`` nothing is written (the
factory builds no snapshot sink).
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...config import Config
from ...filters import is_frontal
from ...privacy import hide_faces
from ...types import Event, EventKind, Face
from .atomic import write_image
from .base import FrameOutput, SinkBase
from .records import Records

log = logging.getLogger("facemask")

DECIDED = ("mask", "no_mask", "mask_incorrect")


def quality(image: np.ndarray, face: Face) -> float:
    """Bigger, sharper and frontal is better: face side x sharpness factor x frontal factor."""
    x1, y1, x2, y2 = (int(round(v)) for v in face.box)
    h, w = image.shape[:2]
    roi = image[max(y1, 0):min(y2, h), max(x1, 0):min(x2, w)]
    if roi.size == 0:
        return 0.0
    grey = cv2.cvtColor(roi, cv2.COLOR_BGR2GRAY) if roi.ndim == 3 else roi
    sharp = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    return face.size * (0.4 + 0.6 * min(sharp / 300.0, 1.0)) * (1.0 if is_frontal(face) else 0.6)


def crop(image: np.ndarray, face: Face, pad: float, max_px: int,
         others: list[Face] | None = None) -> tuple[np.ndarray, list[Face]]:
    """The face grown by ``pad`` face sizes, at most ``max_px`` on its longer side, and the face
    (first) and ``others`` that reach into the crop, in the crop's pixels."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in face.box)
    m = pad * max(x2 - x1, y2 - y1)
    cx1, cy1 = max(int(x1 - m), 0), max(int(y1 - m), 0)
    cx2, cy2 = min(int(np.ceil(x2 + m)), w), min(int(np.ceil(y2 + m)), h)
    out = image[cy1:cy2, cx1:cx2].copy()
    scale = min(1.0, max_px / max(out.shape[:2]))
    if scale < 1.0:
        out = cv2.resize(out, (max(int(out.shape[1] * scale), 1), max(int(out.shape[0] * scale), 1)),
                         interpolation=cv2.INTER_AREA)
    inside = []
    for f in [face, *(o for o in others or [] if o is not face)]:
        bx1, by1, bx2, by2 = (float(v) for v in f.box)
        if bx2 > cx1 and by2 > cy1 and bx1 < cx2 and by1 < cy2:
            inside.append(Face(box=np.array([bx1 - cx1, by1 - cy1, bx2 - cx1, by2 - cy1], np.float32) * scale,
                               score=f.score))
    return out, inside


@dataclass
class Best:
    quality: float
    image: np.ndarray
    written: float = -1.0  # quality of the written file; -1: none


class SnapshotSink(SinkBase):
    def __init__(self, cfg: Config, camera: str, db_path: str | Path):
        self.cfg, self.camera = cfg, camera
        self.scfg = cfg.snapshots
        self.folder = Path(self.scfg.dir) / camera
        self.folder.mkdir(parents=True, exist_ok=True)
        self.records = Records(db_path)
        self._best: dict[int, Best] = {}  # track id -> best crop so far
        self._decided: dict[int, str] = {}  # track id -> person id, once decided
        self.written = 0
        self.prune()

    @staticmethod
    def url(person: str, base: str = "") -> str:
        return f"{base}/api/snapshots/{urllib.parse.quote(person, safe='/')}.jpg"

    def path_for(self, person: str) -> Path:
        return self.folder / (person.split("/", 1)[-1].replace("/", "-") + ".jpg")

    def on_frame(self, out: FrameOutput) -> None:
        image = out.frame.image
        for face in out.result.faces:
            if face.track_id is None or face.source == "tracker":  # carried boxes are predictions, not faces
                continue
            # an unclassified box (low score, too small, not a whole face) is often not the face:
            # on andrewendlesss the largest boxes of two tracks were a hand and a coat
            if face.mask_prob is None:
                continue
            q = quality(image, face)
            best = self._best.get(face.track_id)
            if best is None or q > best.quality:
                # a neighbour's face inside the crop is blurred as well as the person's own
                picture, inside = crop(image, face, self.scfg.pad, self.scfg.max_px, out.result.faces)
                hide_faces(picture, inside, self.cfg.privacy)
                self._best[face.track_id] = Best(q, picture, best.written if best else -1.0)

    def _write(self, track_id: int, person: str, decision: str) -> None:
        best = self._best.get(track_id)
        if best is None or best.quality <= best.written:
            if best is not None:
                self.records.set_snapshot_decision(person, decision)
            return
        path = self.path_for(person)
        write_image(path, best.image, self.scfg.jpeg_quality)
        best.written = best.quality
        self.records.put_snapshot(person, self.camera, decision, round(best.quality, 2), str(path))
        self.written += 1
        if self.written % 100 == 0:
            self.prune()

    def on_event(self, event: Event) -> None:
        if event.kind in (EventKind.PERSON, EventKind.DECIDED, EventKind.DECISION_CHANGED):
            if event.status == "person" and event.decision in DECIDED:
                self._decided[event.track_id] = event.person
                self._write(event.track_id, event.person, event.decision)
        elif event.kind == EventKind.TRACK_ENDED:
            person = self._decided.pop(event.track_id, None)
            if person is not None and event.status == "person":
                self._write(event.track_id, person, event.decision)  # a better crop came after the decision
            self._best.pop(event.track_id, None)

    def prune(self, now: float | None = None) -> int:
        """Delete snapshot files past the retention or beyond ``max_files``; return how many."""
        cutoff = (time.time() if now is None else now) - self.scfg.retention_days * 86400
        old = self.records.expired_snapshots(cutoff, self.scfg.max_files)
        for row in old:
            try:
                Path(row["path"]).unlink(missing_ok=True)
            except OSError as exc:
                log.warning("snapshots: cannot delete %s: %s", row["path"], exc)
        self.records.delete_snapshots([r["person"] for r in old])
        return len(old)

    def close(self) -> None:
        self.records.close()

    def abort(self) -> None:
        self.close()
