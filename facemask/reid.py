"""Re-identify a person whose track broke: an appearance embedding and norfair's ReID distance.

A track breaks when the detector misses a face for longer than the tracker's ``hit_counter_max``
(a person turns away, walks behind someone, the face blurs). The detector then finds the face again
and a new track starts: without re-identification the same person is counted twice and their votes
are split. norfair keeps a dead track for ``reid_hit_counter_max`` more frames and, while a new
track is still initializing, compares the two with ``reid_distance_function``; below
``reid_distance_threshold`` the old track absorbs the new one (same id, one ballot box).

The distance here (:func:`make_reid_distance`) is an appearance distance behind two gates:

* the old track is a person's, not a static face's (a poster does not walk off and come back);
* time: the new track started after the old one was last seen (two faces seen together are two
  people);
* place and size: the new face is within ``reid_max_jump`` face sizes of where the old one was last
  seen, and its size within a factor of 2.5 of the old track's mean size.

Appearance (:func:`appearance`): ``head_shoulders`` is the colour histogram (HSV, 8 x 4 x 4 bins)
of the face box widened by half a face on each side and extended by 1.5 faces downwards, over the
collar and shoulders: clothing colours survive a person turning their head, a mask going on and
the blur of a small face. ``face`` is the zero-mean, unit-norm 16 x 16 grey patch of the face box.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing import Callable

import cv2
import numpy as np

BINS = (8, 4, 4)
FACE_PATCH = 16


def _crop(image: np.ndarray, box) -> np.ndarray | None:
    h, w = image.shape[:2]
    x1, y1 = max(int(box[0]), 0), max(int(box[1]), 0)
    x2, y2 = min(int(np.ceil(box[2])), w), min(int(np.ceil(box[3])), h)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    return image[y1:y2, x1:x2]


def head_shoulders_box(box) -> np.ndarray:
    x1, y1, x2, y2 = (float(v) for v in box)
    fw, fh = x2 - x1, y2 - y1
    return np.array([x1 - 0.5 * fw, y1, x2 + 0.5 * fw, y2 + 1.5 * fh])


def appearance(image: np.ndarray, box, kind: str = "head_shoulders") -> np.ndarray | None:
    """The embedding of the face in ``box`` (BGR ``image``); None when the box is off the image."""
    if kind == "face":
        region = _crop(image, box)
        if region is None:
            return None
        grey = cv2.resize(region, (FACE_PATCH, FACE_PATCH), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(grey, cv2.COLOR_BGR2GRAY) if grey.ndim == 3 else grey
        v = grey.astype(np.float32).ravel()
        v -= v.mean()
        return v / max(float(np.linalg.norm(v)), 1e-6)
    region = _crop(image, head_shoulders_box(box))
    if region is None:
        return None
    small = cv2.resize(region, (24, 32), interpolation=cv2.INTER_AREA)
    if small.ndim == 2:
        small = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, list(BINS), [0, 180, 0, 256, 0, 256]).ravel()
    return hist / max(float(hist.sum()), 1.0)


def embedding_distance(a: np.ndarray, b: np.ndarray, kind: str = "head_shoulders") -> float:
    """0 = same look. Histograms: total variation distance in [0, 1]; face patches: (1 - cosine) / 2."""
    if kind == "face":
        return float(0.5 * (1.0 - float(np.dot(a, b))))
    return 0.5 * float(np.abs(a - b).sum())


def blend(old: np.ndarray | None, new: np.ndarray | None, weight: float = 0.3) -> np.ndarray | None:
    """Running appearance of a track: an exponential average (``weight`` for the newest look)."""
    if new is None:
        return old
    if old is None:
        return new.copy()
    out = (1.0 - weight) * old + weight * new
    return out


if TYPE_CHECKING:
    from .tracking import Track

FAR = 10.0  # returned when a gate fails: above any threshold
MAX_SIZE_RATIO = 2.5  # a new face this much larger or smaller than the old track's is someone else


def make_reid_distance(tracks_of: Callable[[object], "Track | None"], max_jump: float, kind: str,
                       can_continue: Callable[["Track"], bool] = lambda track: True) -> Callable:
    """norfair's ``reid_distance_function(new, old)`` over TrackedObjects (norfair passes the
    candidate first); ``tracks_of(obj)`` gives our :class:`facemask.tracking.Track` of a norfair
    object (None when unknown); ``can_continue(track)``: may that old track be continued at all
    (not a static face: a poster never walks off and comes back)."""

    def distance(new, old) -> float:
        a, b = tracks_of(old), tracks_of(new)
        if a is None or b is None or a.id is None or a.embedding is None or a.face is None or not can_continue(a):
            return FAR
        if b.first_frame <= a.last_seen:
            return FAR  # seen together: two people
        stamp, face, image = new.last_detection.data[:3]
        if image is None:
            return FAR
        # sizes: the old track's mean (its last box may be a bad one, the reason it broke)
        sa, sb = max(a.mean_size, 1.0), max(face.width, face.height, 1.0)
        if not 1 / MAX_SIZE_RATIO <= sb / sa <= MAX_SIZE_RATIO:
            return FAR
        jump = np.hypot(*(np.asarray(face.center) - np.asarray(a.face.center))) / max(sa, sb)
        if jump > max_jump:
            return FAR
        emb = appearance(image, face.box, kind)
        if emb is None:
            return FAR
        return embedding_distance(a.embedding, emb, kind)

    return distance
