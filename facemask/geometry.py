"""Box geometry shared by detectors, tracking and evaluation: IoU, NMS, tiles, search regions.

Boxes are (N, 4) arrays of x1, y1, x2, y2 in pixels. This is the only copy of each of these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from .types import Face

Region = tuple[int, int, int, int]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) x (M, 4) boxes -> (N, M) intersection over union (0 where a box has no area)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def box_sizes(boxes: np.ndarray) -> np.ndarray:
    """The smaller side of each box (as ``Face.size``)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, score_threshold: float = 0.0,
        top_k: int = 0) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best score first."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]])
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), np.asarray(scores, np.float32).tolist(), score_threshold,
                            iou_threshold, top_k=top_k)
    return np.asarray(keep, np.int64).reshape(-1)


def nms_faces(faces: list[Face], iou_threshold: float) -> list[Face]:
    """Greedy non-maximum suppression over faces, best score first."""
    if len(faces) <= 1:
        return list(faces)
    keep = nms(np.array([f.box for f in faces]), np.array([f.score for f in faces]), iou_threshold)
    return [faces[i] for i in keep]


def greedy_pairs(iou: np.ndarray, scores, iou_threshold: float) -> list[tuple[int, int]]:
    """Rows (by descending score, ties in order) each paired with the column they overlap most
    among those not yet taken, when that is at least ``iou_threshold``: (row, column) pairs."""
    taken = np.zeros(iou.shape[1], bool)
    pairs = []
    for i in np.argsort(-np.asarray(scores, np.float64), kind="stable"):
        if not iou.shape[1]:
            break
        cand = np.where(taken, -1.0, iou[i])
        j = int(np.argmax(cand))
        if cand[j] >= iou_threshold:
            taken[j] = True
            pairs.append((int(i), j))
    return pairs


def tile_grid(width: int, height: int, cols: int, rows: int, overlap: float) -> list[Region]:
    """Overlapping tiles (x1, y1, x2, y2) covering the image; overlap is a fraction of a tile."""
    if cols < 1 or rows < 1:
        raise ValueError(f"tiles: columns and rows must be at least 1 (got {cols}, {rows})")
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
                   context: float = np.inf) -> list[Region]:
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
    return [(r[0], r[1], r[2], r[3]) for r in regions]
