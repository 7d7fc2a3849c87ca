"""The types that flow through the pipeline: one Face type from every detector to every sink."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

MASK = "mask"
NO_MASK = "no_mask"
INCORRECT = "mask_incorrect"
UNKNOWN = "unknown"  # not classified (filtered out, or no classifier run)


@dataclass
class Face:
    """One face in one image, in pixels of the original image.

    ``landmarks`` are YuNet's five points (right eye, left eye, nose tip, right and left mouth
    corner) as a (5, 2) array, or None. ``keypoints`` are body-pose keypoints (name -> (x, y, score))
    when the face was estimated from a pose. ``skip_reason`` says why a face was not classified
    (filters mark faces, they do not drop them).
    """

    box: np.ndarray  # (4,) float32 x1, y1, x2, y2
    score: float
    landmarks: np.ndarray | None = None
    keypoints: dict[str, tuple[float, float, float]] | None = None
    source: str = "face"  # which detector produced it
    mask_prob: float | None = None
    class_probs: dict[str, float] | None = None
    label: str = UNKNOWN
    skip_reason: str | None = None
    track_id: int | None = None

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def size(self) -> float:
        """The smaller side, the number that decides whether a face is 'small'."""
        return min(self.width, self.height)

    @property
    def center(self) -> tuple[float, float]:
        return float(self.box[0] + self.box[2]) / 2, float(self.box[1] + self.box[3]) / 2

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "box": [round(float(v), 1) for v in self.box],
            "score": round(float(self.score), 4),
            "label": self.label,
            "mask_prob": None if self.mask_prob is None else round(float(self.mask_prob), 4),
        }
        if self.class_probs is not None:
            out["class_probs"] = {k: round(float(v), 4) for k, v in self.class_probs.items()}
        if self.skip_reason:
            out["skip_reason"] = self.skip_reason
        if self.track_id is not None:
            out["track_id"] = int(self.track_id)
        if self.source != "face":
            out["source"] = self.source
        return out


@dataclass
class FrameResult:
    """Everything the pipeline knows about one image or video frame."""

    width: int
    height: int
    faces: list[Face] = field(default_factory=list)
    image: str | None = None  # file name, for image folders
    frame: int | None = None  # index, for video
    time_s: float | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.image is not None:
            out["image"] = self.image
        if self.frame is not None:
            out["frame"] = self.frame
        if self.time_s is not None:
            out["time_s"] = round(self.time_s, 3)
        out.update(width=self.width, height=self.height, faces=[f.to_json() for f in self.faces])
        return out
