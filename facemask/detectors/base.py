"""The detector contract: one small method, ``detect(frame) -> list[Face]``; a detector that can
also look only around given boxes (video frames between full detections) has
``detect_regions(frame, boxes, margin)`` (:class:`RegionDetector`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable

import cv2
import numpy as np

from ..types import Face


@runtime_checkable
class FaceDetector(Protocol):
    def detect(self, frame: np.ndarray) -> list[Face]:
        """Faces in a BGR uint8 frame, boxes in that frame's pixels."""
        ...


@runtime_checkable
class RegionDetector(Protocol):
    """A detector for video tracking: it can search around given boxes, and report faces down
    to a lower score than its own threshold (``min_score``)."""

    score_threshold: float

    def detect(self, frame: np.ndarray, min_score: float | None = None) -> list[Face]:
        ...

    def detect_regions(self, frame: np.ndarray, boxes: np.ndarray, margin: float,
                       min_score: float | None = None) -> list[Face]:
        """Faces near ``boxes`` ((N, 4) x1, y1, x2, y2 in frame pixels): each box grown by
        ``margin`` box sizes on every side is searched, with boxes that agree with :meth:`detect`
        on the whole frame."""
        ...


@dataclass
class _Entry:
    config_model: type
    factory: Callable


registry: dict[str, _Entry] = {}


def register(name: str, config_model: type):
    """Class decorator: ``@register("yunet", YuNetConfig)``; the class is built as ``cls(config)``."""

    def wrap(cls):
        registry[name] = _Entry(config_model, cls)
        return cls

    return wrap


def nms_faces(faces: list[Face], iou_threshold: float) -> list[Face]:
    """Greedy non-maximum suppression over faces, best score first."""
    if len(faces) <= 1:
        return list(faces)
    boxes = np.array([f.box for f in faces], np.float32)
    xywh = np.column_stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]])
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), [float(f.score) for f in faces], 0.0, iou_threshold)
    return [faces[i] for i in np.array(keep).reshape(-1)]


def tile_grid(width: int, height: int, cols: int, rows: int, overlap: float) -> list[tuple[int, int, int, int]]:
    """Overlapping tiles (x1, y1, x2, y2) covering the image; overlap is a fraction of a tile."""
    tiles = []
    tw = width / (cols - (cols - 1) * overlap) if cols > 1 else width
    th = height / (rows - (rows - 1) * overlap) if rows > 1 else height
    for r in range(rows):
        for c in range(cols):
            x1 = int(round(c * tw * (1 - overlap)))
            y1 = int(round(r * th * (1 - overlap)))
            x2 = width if c == cols - 1 else min(width, int(round(x1 + tw)))
            y2 = height if r == rows - 1 else min(height, int(round(y1 + th)))
            tiles.append((x1, y1, x2, y2))
    return tiles


def search_regions(boxes: np.ndarray, margin: float, width: int, height: int, align: int = 1,
                   context: float = np.inf) -> list[tuple[int, int, int, int]]:
    """Regions (x1, y1, x2, y2) to search for ``boxes`` again: each box grown on every side by
    ``margin`` times its longer side (or times ``context`` px for boxes larger than that), snapped
    outwards to multiples of ``align`` (so a CNN with that total stride sees the crop on the same
    grid as the whole image) and clipped to the image; two overlapping regions are merged when
    their bounding rectangle has fewer pixels than the two together (merging more would search a
    crowd's whole bounding rectangle)."""

    def area(r: list[int]) -> int:
        return (r[2] - r[0]) * (r[3] - r[1])

    regions: list[list[int]] = []
    for x1, y1, x2, y2 in np.asarray(boxes, np.float64).reshape(-1, 4):
        m = margin * min(max(x2 - x1, y2 - y1, 1.0), context)
        r = [int(np.floor((x1 - m) / align)) * align, int(np.floor((y1 - m) / align)) * align,
             int(np.ceil((x2 + m) / align)) * align, int(np.ceil((y2 + m) / align)) * align]
        r = [max(r[0], 0), max(r[1], 0), min(r[2], width), min(r[3], height)]
        if r[2] > r[0] and r[3] > r[1]:
            regions.append(r)
    merged = True
    while merged:  # few regions per frame: the quadratic loop is cheaper than anything clever
        merged = False
        for i in range(len(regions)):
            for j in range(i + 1, len(regions)):
                a, b = regions[i], regions[j]
                u = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                if area(u) < area(a) + area(b):
                    regions[i] = u
                    del regions[j]
                    merged = True
                    break
            if merged:
                break
    return [tuple(r) for r in regions]
