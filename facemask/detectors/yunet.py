"""YuNet through OpenCV's cv2.FaceDetectorYN: boxes, scores and five landmarks.

Small faces: YuNet's smallest anchors are ~10 px, so CCTV faces of 10-20 px are found far more
often when the frame is upscaled (``upscale``) or cut into overlapping tiles (``tiles``) that are
each run at full resolution. ``max_side`` caps the upscaled size so a 1080p frame is not blown
up to 4K: small images get the full upscale, large ones only what fits.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import Field, model_validator

from ..config import Section
from ..models import resolve
from ..types import Face
from .base import nms_faces, register, tile_grid


class YuNetConfig(Section):
    type: Literal["yunet"] = "yunet"
    model: str = "face_detection_yunet_2023mar"
    score_threshold: float = Field(0.5, ge=0.0, le=1.0)
    nms_threshold: float = Field(0.3, ge=0.0, le=1.0)
    top_k: int = Field(5000, ge=1)
    upscale: float = Field(2.0, ge=0.25, le=4.0)
    max_side: int = Field(1920, ge=64, le=8192)  # longest side after upscaling, at most
    tiles: list[int] = Field([1, 1], min_length=2, max_length=2)  # columns, rows
    tile_overlap: float = Field(0.2, ge=0.0, lt=0.9)
    min_size: int = Field(0, ge=0)  # drop boxes smaller than this (px, original frame)

    @model_validator(mode="after")
    def _tiles_ok(self):
        if min(self.tiles) < 1 or max(self.tiles) > 8:
            raise ValueError("tiles: columns and rows must be between 1 and 8")
        return self


@register("yunet", YuNetConfig)
class YuNetDetector:
    def __init__(self, cfg: YuNetConfig):
        self.cfg = cfg
        self.model_path = str(resolve(cfg.model))
        self._net = cv2.FaceDetectorYN.create(
            self.model_path, "", (320, 320), cfg.score_threshold, cfg.nms_threshold, cfg.top_k
        )

    def scale_for(self, width: int, height: int) -> float:
        return max(min(self.cfg.upscale, self.cfg.max_side / max(width, height)), 0.05)

    def _run(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        self._net.setInputSize((w, h))
        _, out = self._net.detect(image)
        return np.zeros((0, 15), np.float32) if out is None else out

    def detect(self, frame: np.ndarray) -> list[Face]:
        h, w = frame.shape[:2]
        s = self.scale_for(w, h)
        image = frame if abs(s - 1.0) < 1e-3 else cv2.resize(
            frame, (round(w * s), round(h * s)), interpolation=cv2.INTER_LINEAR if s > 1 else cv2.INTER_AREA
        )
        ih, iw = image.shape[:2]
        cols, rows = self.cfg.tiles
        faces: list[Face] = []
        for x1, y1, x2, y2 in tile_grid(iw, ih, cols, rows, self.cfg.tile_overlap):
            for row in self._run(np.ascontiguousarray(image[y1:y2, x1:x2])):
                box = np.array([row[0] + x1, row[1] + y1, row[0] + row[2] + x1, row[1] + row[3] + y1], np.float32) / s
                box = np.clip(box, 0, [w, h, w, h]).astype(np.float32)
                if min(box[2] - box[0], box[3] - box[1]) < max(self.cfg.min_size, 1):
                    continue
                landmarks = (row[4:14].reshape(5, 2) + [x1, y1]) / s
                faces.append(Face(box=box, score=float(row[14]), landmarks=landmarks.astype(np.float32), source="yunet"))
        if cols * rows > 1:
            faces = nms_faces(faces, self.cfg.nms_threshold)
        return faces
