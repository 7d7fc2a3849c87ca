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

from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from ..config import Section
from ..evaluation.metrics import box_iou
from ..types import Face
from .base import FaceDetector, register, registry


class FusionConfig(Section):
    type: Literal["fusion"] = "fusion"
    detectors: list[Any] = Field(min_length=2)  # each validated by its own detector's config model
    iou_threshold: float = Field(0.3, gt=0.0, le=1.0)

    @field_validator("detectors", mode="before")
    @classmethod
    def _members(cls, v: Any) -> Any:
        from . import detector_config_model  # the registry, filled once every backend is imported

        if not isinstance(v, list):
            return v
        out = []
        for i, member in enumerate(v):
            if not isinstance(member, dict) or "type" not in member:
                raise ValueError(f"detectors[{i}] must be an object with a 'type' key naming the detector")
            if member["type"] == "fusion":
                raise ValueError(f"detectors[{i}]: a fusion cannot contain another fusion")
            out.append(detector_config_model(member["type"]).model_validate(member, strict=True))
        return out


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
        n_before = len(kept)
        taken = np.zeros(n_before, bool)  # each kept face absorbs at most one face per group
        iou = box_iou(np.array([f.box for f in faces]), np.array([f.box for f in kept[:n_before]]))
        for i in np.argsort([-f.score for f in faces], kind="stable"):
            cand = np.where(taken, -1.0, iou[i]) if n_before else np.zeros(0)
            j = int(np.argmax(cand)) if len(cand) else -1
            if j >= 0 and cand[j] >= iou_threshold:
                _absorb(kept[j], faces[i])
                taken[j] = True
            else:
                kept.append(faces[i])
    return kept


@register("fusion", FusionConfig)
class FusionDetector:
    def __init__(self, cfg: FusionConfig, members: list[FaceDetector] | None = None):
        self.cfg = cfg
        self.members = members if members is not None else [registry[c.type].factory(c) for c in cfg.detectors]

    def detect(self, frame: np.ndarray) -> list[Face]:
        return fuse([m.detect(frame) for m in self.members], self.cfg.iou_threshold)
