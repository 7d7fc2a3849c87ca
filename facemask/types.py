"""The types that flow through the pipeline: one Face type from every detector to every sink."""

from __future__ import annotations

import enum
import itertools
import os
import time
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

MASK: Final = "mask"
NO_MASK: Final = "no_mask"
INCORRECT: Final = "mask_incorrect"
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
    # Photos label every face; one video would not have classified, or with an uncertain label,
    # carries the reason here (a filter's skip reason, or "uncertain").
    low_confidence: str | None = None
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
    def confidence(self) -> float | None:
        """The classifier's probability of the face's label (None when not classified)."""
        if self.class_probs is None or self.label not in self.class_probs:
            return None
        return float(self.class_probs[self.label])

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
            out["confidence"] = None if self.confidence is None else round(self.confidence, 4)
        if self.low_confidence:
            out["low_confidence"] = self.low_confidence
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
        if self.image is not None and self.timings_ms:  # photos: what this one cost (detect + classify)
            out["time_ms"] = round(sum(self.timings_ms.values()), 2)
        out.update(width=self.width, height=self.height, faces=[f.to_json() for f in self.faces])
        return out


@dataclass
class Frame:
    """One frame from a :class:`~facemask.io.sources.base.Source`.

    ``time_s`` is the frame's time in the stream (a file: its position, carried on across loops;
    a live source: seconds since it was opened, from the capture clock). Everything that depends on
    time (the tracker's Kalman step, detection scheduling, votes, statistics) reads it, never the
    index: a live source skips frames when the CPU falls behind. ``wall_time`` is the epoch time of
    the capture (live) or of the read (files); ``name`` is the file name for image folders.
    """

    image: np.ndarray
    index: int  # frames read from this source so far (keeps increasing over loops and reconnects)
    time_s: float
    wall_time: float = field(default_factory=time.time)
    name: str | None = None
    # live: how long the loop waited for this frame after the previous one (nothing newer had
    # been captured yet): time the camera had to spare, not processing time
    waited_s: float = 0.0
    # the footage jumps here (a looped file rewound to its start): whoever was in view before is
    # not who is in view now, so every track ends, as at a scene cut
    cut: bool = False

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


class EventKind(str, enum.Enum):
    """What happened to a tracked person (see :mod:`facemask.stats` for the status rules)."""

    TRACK_STARTED = "track_started"  # a confirmed track (not yet a person)
    PERSON = "person"  # the track counts as a person from now on
    STATIC = "static"  # the track is a static face (poster, painting): reported apart
    DECIDED = "decided"  # first decision (mask / no_mask / mask_incorrect)
    DECISION_CHANGED = "decision_changed"
    TRACK_ENDED = "track_ended"  # with the person's final row


def new_run_id() -> str:
    """Short id of one session run: seconds since the epoch and a random suffix, so ids made by
    a restarted camera never repeat earlier ones."""
    return f"{int(time.time()):x}{os.urandom(3).hex()}"


@dataclass(frozen=True)
class Event:
    """A typed event of a video session.

    ``id`` is unique across cameras and restarts (``<run>-<n>``); ``person`` names the track the
    same way (``<camera>/<run>/<track>``), so "person 1" of two runs are never one person.
    ``track_id`` is the short number drawn on the video. ``data`` has the kind's own fields
    (``previous``, ``previous_status``, the person's row on ``track_ended``).
    """

    kind: EventKind
    camera: str
    id: str
    person: str
    track_id: int
    frame: int
    time_s: float
    wall_time: float
    status: str
    decision: str
    balance: int
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.kind.value, "id": self.id, "camera": self.camera, "person": self.person,
            "track_id": self.track_id, "frame": self.frame, "time_s": round(self.time_s, 3),
            "wall_time": round(self.wall_time, 3), "status": self.status, "decision": self.decision,
            "balance": self.balance, **self.data,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "Event":
        known = {"event", "id", "camera", "person", "track_id", "frame", "time_s", "wall_time", "status",
                 "decision", "balance"}
        return cls(
            kind=EventKind(obj["event"]), camera=str(obj["camera"]), id=str(obj["id"]), person=str(obj["person"]),
            track_id=int(obj["track_id"]), frame=int(obj["frame"]), time_s=float(obj["time_s"]),
            wall_time=float(obj["wall_time"]), status=str(obj["status"]), decision=str(obj["decision"]),
            balance=int(obj["balance"]), data={k: v for k, v in obj.items() if k not in known},
        )


class EventIds:
    """Makes the ids of one run's events and people (see :class:`Event`)."""

    def __init__(self, camera: str, run_id: str | None = None):
        self.camera = camera
        self.run = run_id or new_run_id()
        self._seq = itertools.count(1)

    def next_event(self) -> str:
        return f"{self.run}-{next(self._seq)}"

    def person(self, track_id: int) -> str:
        return f"{self.camera}/{self.run}/{track_id}"
