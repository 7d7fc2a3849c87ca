"""Tiling, the one implementation: cut an image into overlapping tiles (``TileConfig``), run a
detector on each at full resolution, move its faces back and merge the tiles by NMS."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..geometry import nms_faces, tile_grid
from ..types import Face
from .configs import TileConfig


def shift_face(face: Face, dx: float, dy: float) -> Face:
    """``face`` moved by (dx, dy) in place: box, landmarks and keypoints."""
    face.box = (face.box + np.array([dx, dy, dx, dy], np.float32)).astype(np.float32)
    if face.landmarks is not None:
        face.landmarks = (face.landmarks + np.array([dx, dy], np.float32)).astype(np.float32)
    if face.keypoints:
        face.keypoints = {k: (x + dx, y + dy, s) for k, (x, y, s) in face.keypoints.items()}
    return face


def run_tiled(image: np.ndarray, cfg: TileConfig, detect: Callable[[np.ndarray], list[Face]]) -> list[Face]:
    """``detect`` on each tile of ``image``; faces in ``image`` pixels, NMS-merged across tiles."""
    h, w = image.shape[:2]
    cols, rows = cfg.tiles
    if cols * rows == 1:
        return detect(image)
    faces: list[Face] = []
    for x1, y1, x2, y2 in tile_grid(w, h, cols, rows, cfg.tile_overlap):
        faces += [shift_face(f, x1, y1) for f in detect(np.ascontiguousarray(image[y1:y2, x1:x2]))]
    return nms_faces(faces, cfg.nms_threshold)
