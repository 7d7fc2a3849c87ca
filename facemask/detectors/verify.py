"""A second opinion on large faces the detector doubts (``filters.verify_large``, video).

YuNet's confident large faces are real on the development clips; its doubtful large ones often
are not. On Town Centre a 160-260 px box over a whole woman walking far away scores 0.51-0.79,
on wst54_mask2 a phone and the back of a wheelchair score 0.73-0.82, on the crowd walking toward
the camera the backs of heads and blurred people behind score 0.5-0.8; each such box that reaches
``detector.classify_score`` casts "no mask" votes, and becomes a person. The masked-face detector
UltraFace (ultraface_rfb640_masked_face_v2), run on the face with a margin around it, finds none of
those and finds the real large faces, masked or not, that YuNet doubts.

A face of at least ``MIN_FACE`` px that the detector scored under ``MAX_SCORE`` is classified only
when UltraFace finds a face scoring at least ``SCORE`` that overlaps it by ``IOU``; otherwise it is
tracked and drawn with skip reason ``not_verified``. ``python scripts/verify_large.py CLIP`` shows
every such face of a clip with both detectors' view of it.
"""

from __future__ import annotations

import numpy as np

from ..geometry import box_iou
from ..models import resolve
from ..types import Face
from .base import Detector
from .configs import UltraFaceConfig

MIN_FACE = 64  # px, the box's smaller side in the frame
MAX_SCORE = 0.85  # YuNet's large faces above this were all real on the development clips
MARGIN = 1.0  # face sizes of context on each side of the crop UltraFace sees
SCORE = 0.3
IOU = 0.2


def doubtful(face: Face) -> bool:
    """Does ``face`` need a second opinion?"""
    return face.size >= MIN_FACE and face.score < MAX_SCORE and face.source.startswith("yunet")


def crop_for(frame: np.ndarray, face: Face) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``frame`` the second detector looks at for ``face``, and its (x, y) origin."""
    h, w = frame.shape[:2]
    m = MARGIN * max(face.width, face.height)
    x1, y1 = max(int(face.box[0] - m), 0), max(int(face.box[1] - m), 0)
    x2, y2 = min(int(np.ceil(face.box[2] + m)), w), min(int(np.ceil(face.box[3] + m)), h)
    return frame[y1:y2, x1:x2], np.array([x1, y1], np.float32)


def best_overlap(face: Face, others: list[Face]) -> float:
    """The largest IoU of ``face`` with any of ``others`` (0 without any)."""
    if not others:
        return 0.0
    return float(box_iou(np.array([face.box], np.float64), np.array([o.box for o in others], np.float64)).max())


class LargeFaceVerifier:
    """UltraFace's view of the large faces YuNet doubts; the model loads at the first such face."""

    def __init__(self, num_threads: int = 1, detector: Detector | None = None):
        self.num_threads = num_threads
        self._detector = detector
        self.asked = self.rejected = 0
        if detector is None:
            resolve(UltraFaceConfig().model)  # fetched (and checked) now, not at the first such face

    @property
    def detector(self) -> Detector:
        if self._detector is None:
            from .ultraface import UltraFaceDetector

            self._detector = UltraFaceDetector(UltraFaceConfig(num_threads=self.num_threads))
        return self._detector

    def overlap(self, frame: np.ndarray, face: Face) -> float:
        """IoU of ``face`` with the best face UltraFace finds around it (frame pixels)."""
        crop, origin = crop_for(frame, face)
        found = self.detector.detect(crop, SCORE)
        for o in found:
            o.box = o.box + np.tile(origin, 2)
        return best_overlap(face, found)

    def confirms(self, frame: np.ndarray, face: Face) -> bool:
        self.asked += 1
        ok = self.overlap(frame, face) >= IOU
        self.rejected += not ok
        return ok
