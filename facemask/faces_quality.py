"""Is a detected box a whole face? Box shape and YuNet's five landmarks.

A mask classifier judges the lower half of a face: a box that holds only the eyes and forehead
(the nose and mouth below it), only the chin and a mask, a chest, a hand or a phone is no
evidence either way, yet the classifier answers for it. Such boxes are still tracked and drawn,
but not classified (``filters.whole_face``; skip reason ``not_whole_face``), so they never vote.

With landmarks as fractions of the box (0 = top / left edge, 1 = bottom / right), a whole face
from YuNet has its eyes at 0.29-0.47 and its mouth corners at 0.69-0.82 of the box height (5th-95th
percentiles on the development clips, faces looking down included) and a height / width of
1.05-1.66 (profiles reach 1.9). The rule rejects only what lies far outside that:

* height / width outside [``MIN_ASPECT``, ``MAX_ASPECT``] (a flat box on a hand or a bag, a tall one
  on a body);
* eyes below ``MAX_EYE_Y`` of the box or mouth below its bottom edge (a box on the eyes and forehead);
* eyes above ``MIN_EYE_Y`` or mouth above ``MIN_MOUTH_Y`` (a box on the lower face or the chest);
* eyes and mouth closer than ``MIN_EYE_MOUTH`` box heights (landmarks squeezed: no face structure).

Faces without landmarks (from a pose) are judged by the box shape only.
"""

from __future__ import annotations

import numpy as np

from .types import Face

MIN_ASPECT, MAX_ASPECT = 0.9, 2.0
MIN_EYE_Y, MAX_EYE_Y = 0.15, 0.6
MIN_MOUTH_Y, MAX_MOUTH_Y = 0.55, 1.0
MIN_EYE_MOUTH = 0.2


def landmark_geometry(face: Face) -> dict[str, float] | None:
    """Landmark positions as fractions of the box: eye_y, nose_y, mouth_y (means of the pairs)."""
    if face.landmarks is None:
        return None
    w, h = max(face.width, 1e-6), max(face.height, 1e-6)
    rel = (np.asarray(face.landmarks, np.float64) - np.asarray(face.box[:2], np.float64)) / (w, h)
    return {"eye_y": float(rel[:2, 1].mean()), "nose_y": float(rel[2, 1]), "mouth_y": float(rel[3:, 1].mean())}


def whole_face_problem(face: Face) -> str | None:
    """None for a whole face, else a few words saying what is wrong."""
    if face.width <= 0 or face.height <= 0:
        return "empty box"
    aspect = face.height / face.width
    if not MIN_ASPECT <= aspect <= MAX_ASPECT:
        return f"box height/width {aspect:.2f}"
    g = landmark_geometry(face)
    if g is None:
        return None
    if g["eye_y"] > MAX_EYE_Y or g["mouth_y"] > MAX_MOUTH_Y:
        return "nose and mouth below the box"
    if g["eye_y"] < MIN_EYE_Y or g["mouth_y"] < MIN_MOUTH_Y:
        return "eyes above the box"
    if g["mouth_y"] - g["eye_y"] < MIN_EYE_MOUTH:
        return "landmarks squeezed"
    return None


def is_whole_face(face: Face) -> bool:
    return whole_face_problem(face) is None
