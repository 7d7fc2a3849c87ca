"""YuNet through OpenCV's cv2.FaceDetectorYN: boxes, scores and five landmarks.

Small faces: YuNet's smallest anchors are ~10 px, so CCTV faces of 10-20 px are found far more
often when the frame is upscaled (``upscale``) or cut into overlapping tiles (``tiles``) that are
each run at full resolution. ``max_side`` caps the upscaled size so a 1080p frame is not blown
up to 4K: small images get the full upscale, large ones only what fits.

Between full detections a video looks for its tracked faces again in small regions around them
(:meth:`YuNetDetector.detect_regions`). Each region is run at the whole frame's scale and cut on
YuNet's 32 px stride grid, so its boxes are the ones the whole frame would give
(``python scripts/region_agreement.py`` measures how many of a frame's faces are found again from
the previous frame's boxes, aligned or not).
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import Field, model_validator

from ..config import Section
from ..models import resolve
from ..types import Face
from .base import nms_faces, register, search_regions, tile_grid

STRIDE = 32  # YuNet's largest stride: crops cut on this grid see what the whole image sees
# Regions covering more than this share of the frame: one run on the whole frame is cheaper.
MAX_REGION_SHARE = 0.5
# Search margins are counted in face sizes up to this size (px at the detector's scale): a larger
# face needs no more context, and moves by less than its size from frame to frame.
REGION_CONTEXT = 32


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
    # Faces scoring below this are followed and drawn but not classified (skip reason
    # "low_score"): on kaggle853 train, most YuNet detections below 0.7 are no annotated face
    # (77 % at 0.5-0.6, 67 % at 0.6-0.7, 41 % at 0.7-0.8, 7 % above; a palm or the back of a head
    # voting "mask" is worse than no vote). `python scripts/score_bins.py` measures it.
    classify_score: float = Field(0.7, ge=0.0, le=1.0)

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
        self._net = self._create()
        # Region searches get their own network: switching one network between a whole frame and
        # small crops re-allocates its buffers each time (~15 ms at 1080p), more than the search.
        self._region_net: cv2.FaceDetectorYN | None = None

    def _create(self) -> cv2.FaceDetectorYN:
        c = self.cfg
        return cv2.FaceDetectorYN.create(self.model_path, "", (320, 320), c.score_threshold, c.nms_threshold, c.top_k)

    def scale_for(self, width: int, height: int) -> float:
        return max(min(self.cfg.upscale, self.cfg.max_side / max(width, height)), 0.05)

    @property
    def score_threshold(self) -> float:
        return self.cfg.score_threshold

    def _run(self, image: np.ndarray, net: cv2.FaceDetectorYN | None = None, min_score: float | None = None) -> np.ndarray:
        net = net or self._net
        h, w = image.shape[:2]
        net.setInputSize((w, h))
        net.setScoreThreshold(self.cfg.score_threshold if min_score is None else min_score)
        _, out = net.detect(image)
        return np.zeros((0, 15), np.float32) if out is None else out

    def _scaled(self, image: np.ndarray, s: float) -> np.ndarray:
        if abs(s - 1.0) < 1e-3:
            return image
        h, w = image.shape[:2]
        return cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_LINEAR if s > 1 else cv2.INTER_AREA)

    def _faces(self, rows: np.ndarray, offset: tuple[float, float], s: float, w: int, h: int,
               keep=None) -> list[Face]:
        """Detector rows of a crop at ``offset`` (scaled pixels) -> faces in frame pixels."""
        faces = []
        ox, oy = offset
        for row in rows:
            if not np.isfinite(row).all() or (keep is not None and not keep(row)):
                continue
            box = np.array([row[0] + ox, row[1] + oy, row[0] + row[2] + ox, row[1] + row[3] + oy], np.float32) / s
            box = np.clip(box, 0, [w, h, w, h]).astype(np.float32)
            if min(box[2] - box[0], box[3] - box[1]) < max(self.cfg.min_size, 1):
                continue
            landmarks = (row[4:14].reshape(5, 2) + [ox, oy]) / s
            faces.append(Face(box=box, score=float(row[14]), landmarks=landmarks.astype(np.float32), source="yunet"))
        return faces

    def detect(self, frame: np.ndarray, min_score: float | None = None) -> list[Face]:
        """Faces scoring at least the configured score_threshold, or ``min_score`` when given."""
        h, w = frame.shape[:2]
        s = self.scale_for(w, h)
        image = self._scaled(frame, s)
        ih, iw = image.shape[:2]
        cols, rows = self.cfg.tiles
        faces: list[Face] = []
        for x1, y1, x2, y2 in tile_grid(iw, ih, cols, rows, self.cfg.tile_overlap):
            faces += self._faces(self._run(np.ascontiguousarray(image[y1:y2, x1:x2]), min_score=min_score), (x1, y1), s, w, h)
        if cols * rows > 1:
            faces = nms_faces(faces, self.cfg.nms_threshold)
        return faces

    def detect_regions(self, frame: np.ndarray, boxes: np.ndarray, margin: float,
                       min_score: float | None = None, align: int = STRIDE) -> list[Face]:
        """``align``: the grid regions are cut on (px at the detector's scale); other than
        STRIDE only to measure what the alignment is worth (scripts/region_agreement.py)."""
        h, w = frame.shape[:2]
        s = self.scale_for(w, h)
        sw, sh = round(w * s), round(h * s)
        regions = search_regions(np.asarray(boxes, np.float64) * s, margin, sw, sh, align=align, context=REGION_CONTEXT)
        if sum((x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in regions) > MAX_REGION_SHARE * sw * sh:
            return self.detect(frame, min_score)
        if self._region_net is None:
            self._region_net = self._create()
        faces: list[Face] = []
        for region in regions:
            faces += self._search(frame, region, s, min_score)
        return nms_faces(faces, self.cfg.nms_threshold)  # regions may overlap

    def _search(self, frame: np.ndarray, region: tuple[int, int, int, int], s: float, min_score: float | None) -> list[Face]:
        """Faces in ``region`` (pixels at scale ``s``), but not those cut by the region's edge
        (not the frame's): a part face is left to the region it lies in."""
        h, w = frame.shape[:2]
        # The frame pixels under the region, scaled; at scale 1 exactly the region.
        x1, y1 = int(np.floor(region[0] / s)), int(np.floor(region[1] / s))
        x2, y2 = min(int(np.ceil(region[2] / s)), w), min(int(np.ceil(region[3] / s)), h)
        crop = self._scaled(np.ascontiguousarray(frame[y1:y2, x1:x2]), s)
        # At a scale other than 1 the frame pixels start a little before the region: cut the
        # scaled crop back to the region's origin, on the stride grid.
        dx, dy = max(round(region[0] - x1 * s), 0), max(round(region[1] - y1 * s), 0)
        crop = np.ascontiguousarray(crop[dy:, dx:]) if dx or dy else crop
        ch, cw = crop.shape[:2]
        cut_l, cut_t, cut_r, cut_b = x1 > 0, y1 > 0, x2 < w, y2 < h

        def whole(row: np.ndarray) -> bool:
            return not ((cut_l and row[0] < 1) or (cut_t and row[1] < 1)
                        or (cut_r and row[0] + row[2] > cw - 1) or (cut_b and row[1] + row[3] > ch - 1))

        return self._faces(self._run(crop, self._region_net, min_score), (x1 * s + dx, y1 * s + dy), s, w, h, keep=whole)
