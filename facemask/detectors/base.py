"""The detector contract: one small method, ``detect(frame) -> list[Face]``."""

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
