"""Fusion: several detectors on one frame, their faces merged (e.g. YuNet + a pose detector).

A face detector finds the faces it can see well and gives tight boxes and five landmarks; a pose
detector finds people whose face is tiny, hidden by a crowd or turned away. ``detectors`` lists
the members, most trusted first. Their faces are merged one member at a time: a face that
overlaps (IoU >= ``iou_threshold``) a face already kept is the same person, and the earlier
member's box and landmarks win while the later one contributes what the first lacks (body
keypoints, landmarks); every other face is added. A merged face's ``source`` names both members,
e.g. ``"yunet+posenet"``.

    "detector": {"type": "fusion", "iou_threshold": 0.3,
                 "detectors": [{"type": "yunet"}, {"type": "posenet"}]}
"""

from __future__ import annotations

import numpy as np

from ..geometry import box_iou, greedy_pairs
from ..types import Face
from .base import Detector, register
from .configs import FusionConfig

__all__ = ["FusionConfig", "FusionDetector", "fuse"]


def _absorb(kept: Face, other: Face) -> None:
    """``kept`` is the same person as ``other``: keep kept's box, take what it lacks."""
    if kept.landmarks is None and other.landmarks is not None:
        kept.landmarks = other.landmarks
    if kept.keypoints is None and other.keypoints is not None:
        kept.keypoints = other.keypoints
    kept.score = max(kept.score, other.score)
    kept.source = f"{kept.source}+{other.source}"


def fuse(groups: list[list[Face]], iou_threshold: float) -> list[Face]:
    """Merge the faces of several detectors, earlier groups preferred (see the module docstring)."""
    kept: list[Face] = []
    for faces in groups:
        before = kept[:]
        iou = box_iou(np.array([f.box for f in faces]).reshape(-1, 4), np.array([f.box for f in before]).reshape(-1, 4))
        # each kept face absorbs at most one face per group
        pairs = dict(greedy_pairs(iou, [f.score for f in faces], iou_threshold))
        for i in np.argsort([-f.score for f in faces], kind="stable"):
            if i in pairs:
                _absorb(before[pairs[i]], faces[i])
            else:
                kept.append(faces[i])
    return kept


@register("fusion")
class FusionDetector(Detector):
    """Members' thresholds are kept per face: a face's ``source`` names the member whose box it
    has, and that member's ``classify_threshold`` applies (YuNet's 0.7 on YuNet faces, none on
    pose faces)."""

    def __init__(self, cfg: FusionConfig, members: list[Detector] | None = None):
        from . import make_detector

        self.cfg = cfg
        self.members = members if members is not None else [make_detector(c) for c in cfg.detectors]
        self._by_source = {}
        for m in reversed(self.members):  # the first member of a source name wins
            self._by_source[m.source] = m

    def detect(self, frame: np.ndarray, min_score: float | None = None) -> list[Face]:
        return fuse([m.detect(frame) for m in self.members], self.cfg.iou_threshold)

    def classify_threshold(self, face: Face) -> float:
        member = self._by_source.get(face.source.split("+")[0])
        return member.classify_threshold(face) if member is not None else 0.0
