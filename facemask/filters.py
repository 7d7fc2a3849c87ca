"""Filters run before classifying. They mark a face with a ``skip_reason``; they never drop it,
so a face outside the detection area is still tracked and drawn (darker), just not classified."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .config import FiltersConfig, Margins
from .faces_quality import is_whole_face
from .types import Face

if TYPE_CHECKING:
    from .zones import Zones

TOO_SMALL = "too_small"
OUTSIDE_AREA = "outside_area"
NOT_FRONTAL = "not_frontal"
AT_EDGE = "at_edge"
LOW_SCORE = "low_score"  # below the detector's classify_score, or a weak face kept by a track
UNCERTAIN = "uncertain"  # photos: labelled, but the label's probability is below images.low_confidence
NOT_WHOLE_FACE = "not_whole_face"  # box shape / landmarks: part of a face, a hand, a bag (faces_quality)
NOT_VERIFIED = "not_verified"  # a large face YuNet doubts that UltraFace does not find (detectors.verify)


def detection_area(margins: Margins, width: int, height: int) -> tuple[float, float, float, float]:
    """(x1, y1, x2, y2) of the area where faces are classified; margins <= 1 are fractions."""

    def px(value: float, extent: int) -> float:
        return value * extent if value <= 1.0 else value

    return (
        px(margins.left, width),
        px(margins.top, height),
        width - px(margins.right, width),
        height - px(margins.bottom, height),
    )


def is_frontal(face: Face, min_eye_ratio: float = 0.2) -> bool:
    """Both eyes visible: from pose keypoints when present, else from YuNet's landmarks
    (eyes far enough apart for the box, nose between them). No landmarks: assume frontal."""
    if face.keypoints:
        kp = face.keypoints
        return all(name in kp and kp[name][2] > 0 for name in ("left_eye", "right_eye"))
    if face.landmarks is None:
        return True
    (rx, _), (lx, _), (nx, _) = face.landmarks[0], face.landmarks[1], face.landmarks[2]
    eye_dist = abs(lx - rx)
    if eye_dist < min_eye_ratio * max(face.width, 1.0):
        return False
    return min(rx, lx) <= nx <= max(rx, lx)


def apply_filters(faces: list[Face], cfg: FiltersConfig, width: int, height: int,
                  min_score: float | Sequence[float] = 0.0, zones: "Zones | None" = None) -> list[Face]:
    """Set ``skip_reason`` on faces that must not be classified; return the ones to classify.
    ``min_score`` (one for all faces, or one per face): faces the detector scored lower are often
    no face at all (the back of a head, a palm), which a mask classifier has never seen: followed
    and drawn, never classified. ``zones``: a camera's polygon areas (:mod:`facemask.zones`); a
    face outside all of them is outside the detection area too."""
    x1, y1, x2, y2 = detection_area(cfg.detection_area, width, height)
    keep = []
    mins = [float(min_score)] * len(faces) if isinstance(min_score, (int, float)) else list(min_score)
    for face, face_min in zip(faces, mins):
        cx, cy = face.center
        bx1, by1, bx2, by2 = face.box
        if face.size < cfg.min_face_size:
            face.skip_reason = TOO_SMALL
        elif not (x1 <= cx <= x2 and y1 <= cy <= y2) or (zones is not None and not zones.inside((cx, cy))):
            face.skip_reason = OUTSIDE_AREA
        elif cfg.edge_margin and min(bx1, by1, width - bx2, height - by2) < cfg.edge_margin:
            face.skip_reason = AT_EDGE
        elif face.score < face_min:
            face.skip_reason = LOW_SCORE
        elif cfg.whole_face and not is_whole_face(face):
            face.skip_reason = NOT_WHOLE_FACE
        elif cfg.frontal_only and not is_frontal(face):
            face.skip_reason = NOT_FRONTAL
        else:
            face.skip_reason = None
            keep.append(face)
    return keep


def area_is_full(cfg: FiltersConfig) -> bool:
    m = cfg.detection_area
    return not np.any([m.top, m.bottom, m.left, m.right])
