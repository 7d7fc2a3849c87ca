"""What every pose-based face detector shares: tiling, letterboxing, poses -> faces.

A backend supplies a *pose runner*: a callable taking an RGB image and returning the people in it
as keypoints (N, 17, 3) x, y, score in that image's pixels, and (N,) person scores. The detector
runs it on the frame (or on overlapping tiles, for crowds and far people: MoveNet returns six
people per call at most, and every model sees small people better in a tile), maps the keypoints
back to the frame and turns each pose into a face (see ``pose_to_face``).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from ..geometry import nms_faces, tile_grid
from ..types import Face
from .base import Detector
from .configs import PoseDetectorConfig
from .pose_to_face import poses_to_faces

__all__ = ["PoseDetectorConfig", "PoseFaceDetector", "letterbox"]

PoseRunner = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def letterbox(image: np.ndarray, height: int, width: int) -> tuple[np.ndarray, float]:
    """Fit ``image`` into a (height, width) canvas keeping its aspect, padded at the bottom/right.

    Returns the canvas and the scale: canvas pixel = image pixel * scale."""
    h, w = image.shape[:2]
    s = min(width / w, height / h)
    rw, rh = max(1, min(width, round(w * s))), max(1, min(height, round(h * s)))
    canvas = np.zeros((height, width, 3), np.uint8)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    canvas[:rh, :rw] = image if (rw, rh) == (w, h) else cv2.resize(image, (rw, rh), interpolation=interp)
    return canvas, s


class PoseFaceDetector(Detector):
    """``detect(frame) -> faces`` around a pose runner; ``poses(frame)`` exposes the skeletons.

    Tiles are cut as everywhere (``geometry.tile_grid``), but here the keypoints of every tile are
    gathered before faces are made, so :meth:`poses` gives whole-frame skeletons."""

    def __init__(self, cfg: PoseDetectorConfig, runner: PoseRunner, source: str):
        self.cfg = cfg
        self.runner = runner
        self.source = source

    def poses(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (N, 17, 3) in frame pixels and (N,) person scores for a BGR frame."""
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        cols, rows = self.cfg.tiles
        all_kps, all_scores = [], []
        for x1, y1, x2, y2 in tile_grid(w, h, cols, rows, self.cfg.tile_overlap):
            kps, scores = self.runner(np.ascontiguousarray(rgb[y1:y2, x1:x2]))
            if len(kps):  # runners return fresh arrays: shift them in place
                kps[:, :, 0] += x1
                kps[:, :, 1] += y1
                all_kps.append(kps)
                all_scores.append(scores)
        if not all_kps:
            return np.zeros((0, 17, 3), np.float32), np.zeros(0, np.float32)
        return np.concatenate(all_kps), np.concatenate(all_scores)

    def detect(self, frame: np.ndarray, min_score: float | None = None) -> list[Face]:
        h, w = frame.shape[:2]
        kps, _ = self.poses(frame)
        faces = poses_to_faces(kps, self.cfg.face, self.source, (w, h))
        if self.cfg.tiles[0] * self.cfg.tiles[1] > 1:
            faces = nms_faces(faces, self.cfg.nms_threshold)  # one person seen by two tiles
        return faces
