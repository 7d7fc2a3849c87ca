"""What every pose-based face detector shares: tiling, letterboxing, poses -> faces.

A backend supplies a *pose runner*: a callable taking an RGB image and returning the people in it
as keypoints (N, 17, 3) x, y, score in that image's pixels, and (N,) person scores. The detector
runs it on the frame (or on overlapping tiles, for crowds and far people: MoveNet returns six
people per call at most, and every model sees small people better in a tile), maps the keypoints
back to the frame and turns each pose into a face (see ``pose_to_face``).
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np
from pydantic import Field, model_validator

from ..config import Section
from ..errors import BackendUnavailable
from ..types import Face
from .base import nms_faces, tile_grid
from .pose_to_face import PoseFaceConfig, poses_to_faces

PoseRunner = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class PoseDetectorConfig(Section):
    """Keys shared by the pose detectors (each adds ``type``, its model and its own knobs)."""

    num_threads: int = Field(2, ge=1, le=64)
    tiles: list[int] = Field([1, 1], min_length=2, max_length=2)  # columns, rows
    tile_overlap: float = Field(0.2, ge=0.0, lt=0.9)
    nms_threshold: float = Field(0.3, ge=0.0, le=1.0)  # between faces found in overlapping tiles
    face: PoseFaceConfig = PoseFaceConfig()

    @model_validator(mode="after")
    def _tiles_ok(self):
        if min(self.tiles) < 1 or max(self.tiles) > 8:
            raise ValueError("tiles: columns and rows must be between 1 and 8")
        return self


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


def tflite_interpreter(path: str, num_threads: int, delegates: list | None = None):
    """A LiteRT interpreter (imported here, not at module import)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:  # pragma: no cover - installed with requirements.txt
        raise BackendUnavailable(f"ai-edge-litert is not installed ({exc}); pip install ai-edge-litert") from None
    return Interpreter(model_path=path, num_threads=num_threads, experimental_delegates=delegates or None)


def dequantized(interpreter, detail: dict) -> np.ndarray:
    """An output tensor as float32, undoing its uint8/int8 quantization when it has one."""
    t = interpreter.get_tensor(detail["index"])
    scale, zero = detail["quantization"]
    if t.dtype in (np.uint8, np.int8) and scale:
        return (t.astype(np.float32) - zero) * scale
    return t.astype(np.float32)


class PoseFaceDetector:
    """``detect(frame) -> faces`` around a pose runner; ``poses(frame)`` exposes the skeletons."""

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

    def detect(self, frame: np.ndarray) -> list[Face]:
        h, w = frame.shape[:2]
        kps, _ = self.poses(frame)
        faces = poses_to_faces(kps, self.cfg.face, self.source, (w, h))
        if self.cfg.tiles[0] * self.cfg.tiles[1] > 1:
            faces = nms_faces(faces, self.cfg.nms_threshold)  # one person seen by two tiles
        return faces
