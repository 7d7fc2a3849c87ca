"""RetinaFace (MobileNet-0.25, fixed 640x640 input) through ONNX Runtime.

The model (biubug6/Pytorch_Retinaface export) outputs, per prior box, location offsets,
class scores (softmaxed) and five landmarks. Frames are letterboxed into 640x640; for small
faces, ``tiles`` cuts the frame into overlapping tiles that are each letterboxed at full size.
On a GPU machine with onnxruntime-gpu, ONNX Runtime runs it on CUDA.
"""

from __future__ import annotations

from itertools import product

import cv2
import numpy as np

from ..geometry import nms_faces
from ..models import resolve
from ..runtimes import onnx
from ..types import Face
from .base import Detector, register
from .configs import RetinaFaceConfig
from .tiling import run_tiled

SIZE = 640
MEAN_BGR = np.array([104.0, 117.0, 123.0], np.float32)
VARIANCE = (0.1, 0.2)


def prior_boxes(size: int = SIZE) -> np.ndarray:
    """(N, 4) priors as cx, cy, w, h in [0, 1], in the order the network emits them."""
    priors = []
    for step, min_sizes in ((8, (16, 32)), (16, (64, 128)), (32, (256, 512))):
        fm = int(np.ceil(size / step))
        for i, j in product(range(fm), range(fm)):
            for ms in min_sizes:
                priors.append([(j + 0.5) * step / size, (i + 0.5) * step / size, ms / size, ms / size])
    return np.array(priors, np.float32)


def decode(loc: np.ndarray, landms: np.ndarray, priors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4) x1y1x2y2 and landmarks (N, 5, 2), both in [0, 1] of the network input."""
    centers = priors[:, :2] + loc[:, :2] * VARIANCE[0] * priors[:, 2:]
    sizes = priors[:, 2:] * np.exp(loc[:, 2:] * VARIANCE[1])
    boxes = np.concatenate([centers - sizes / 2, centers + sizes / 2], axis=1)
    points = priors[:, None, :2] + landms.reshape(-1, 5, 2) * VARIANCE[0] * priors[:, None, 2:]
    return boxes, points


@register("retinaface")
class RetinaFaceDetector(Detector):
    source = "retinaface"

    def __init__(self, cfg: RetinaFaceConfig):
        self.cfg = cfg
        self.score_threshold = cfg.score_threshold
        path = resolve(cfg.model)
        self.session = onnx.session(path, cfg.num_threads, cfg.cuda, what=f"the RetinaFace detector {path.name}")
        self.input_name = self.session.get_inputs()[0].name
        self.priors = prior_boxes()

    def _detect_tile(self, image: np.ndarray) -> list[Face]:
        h, w = image.shape[:2]
        scale = SIZE / max(h, w)
        canvas = np.zeros((SIZE, SIZE, 3), np.float32)
        canvas[: round(h * scale), : round(w * scale)] = cv2.resize(image, (round(w * scale), round(h * scale)))
        blob = (canvas - MEAN_BGR).transpose(2, 0, 1)[None]
        loc, conf, landms = (o[0] for o in self.session.run(None, {self.input_name: blob}))
        keep = conf[:, 1] >= self.cfg.score_threshold
        boxes, points = decode(loc[keep], landms[keep], self.priors[keep])
        boxes, points = boxes * SIZE / scale, points * SIZE / scale
        faces = [
            Face(box=np.clip(b, 0, [w, h, w, h]).astype(np.float32), score=float(s), landmarks=p.astype(np.float32),
                 source="retinaface")
            for b, s, p in zip(boxes, conf[keep, 1], points)
        ]
        return nms_faces(faces, self.cfg.nms_threshold)

    def detect(self, frame: np.ndarray, min_score: float | None = None) -> list[Face]:
        return run_tiled(frame, self.cfg, self._detect_tile)
