"""UltraFace RFB-640 trained on masked faces (Linzaer's Ultra-Light-Fast-Generic-Face-Detector,
masked_face v2, MIT), through ONNX Runtime.

Input 1x3x480x640 RGB, (x - 127) / 128, the frame resized without keeping its aspect; outputs
per prior: softmax scores (background, face, masked face) and decoded box corners in [0, 1].
A face's score is 1 - P(background). Its boxes cover the whole face, mask included (YuNet's
stop near the mask's top edge), and its own face / masked-face split is a mask opinion
(:meth:`UltraFaceDetector.detect_with_masks`), which ``scripts/bench_photos.py`` reports as the
peer system it is.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..geometry import nms
from ..models import resolve
from ..runtimes import onnx
from ..types import Face
from .base import Detector, register
from .configs import UltraFaceConfig

WIDTH, HEIGHT = 640, 480


@register("ultraface")
class UltraFaceDetector(Detector):
    source = "ultraface"

    def __init__(self, cfg: UltraFaceConfig):
        self.cfg = cfg
        self.score_threshold = cfg.score_threshold
        path = resolve(cfg.model)
        self.session = onnx.session(path, cfg.num_threads, cfg.cuda, what=f"the UltraFace detector {path.name}")
        self.input_name = self.session.get_inputs()[0].name

    def detect_with_masks(self, frame: np.ndarray, min_score: float | None = None) -> tuple[list[Face], np.ndarray]:
        """Faces and, per face, the model's P(masked face | face)."""
        h, w = frame.shape[:2]
        rgb = cv2.cvtColor(cv2.resize(frame, (WIDTH, HEIGHT)), cv2.COLOR_BGR2RGB)
        blob = ((rgb.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
        scores, boxes = (o[0] for o in self.session.run(None, {self.input_name: blob}))
        face = 1.0 - scores[:, 0]
        keep = np.nonzero(face >= (self.cfg.score_threshold if min_score is None else min_score))[0]
        boxes = np.clip(boxes[keep] * [w, h, w, h], 0, [w, h, w, h]).astype(np.float32)
        best = nms(boxes, face[keep], self.cfg.nms_threshold)
        kept, boxes = keep[best], boxes[best]
        masked = scores[kept, 2] / np.maximum(scores[kept, 1] + scores[kept, 2], 1e-6)
        faces = [Face(box=b, score=float(face[i]), source="ultraface") for b, i in zip(boxes, kept)]
        return faces, masked.astype(np.float32)

    def detect(self, frame: np.ndarray, min_score: float | None = None) -> list[Face]:
        return self.detect_with_masks(frame, min_score)[0]

