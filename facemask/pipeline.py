"""One frame through the pipeline: detect -> filter -> classify (batched) -> FrameResult."""

from __future__ import annotations

import time

import numpy as np

from .classifiers import MaskClassifier, build_classifier
from .config import Config
from .detectors import FaceDetector, build_detector
from .filters import apply_filters
from .types import FrameResult


class FramePipeline:
    """Stateless per-frame processing; video tracking wraps it (see facemask.video)."""

    def __init__(self, cfg: Config, detector: FaceDetector | None = None, classifier: MaskClassifier | None = None):
        self.cfg = cfg
        self.detector = detector if detector is not None else build_detector(cfg)
        self.classifier = classifier if classifier is not None else build_classifier(cfg.classifier)

    def process(self, frame: np.ndarray, *, image: str | None = None, frame_index: int | None = None,
                time_s: float | None = None) -> FrameResult:
        h, w = frame.shape[:2]
        t0 = time.perf_counter()
        faces = self.detector.detect(frame)
        t1 = time.perf_counter()
        self.classify(frame, faces)
        t2 = time.perf_counter()
        return FrameResult(
            width=w, height=h, faces=faces, image=image, frame=frame_index, time_s=time_s,
            timings_ms={"detect": (t1 - t0) * 1e3, "classify": (t2 - t1) * 1e3},
        )

    def classify(self, frame: np.ndarray, faces) -> None:
        """Filter, then classify every face that passed in one batch."""
        h, w = frame.shape[:2]
        self.classifier.classify(frame, apply_filters(faces, self.cfg.filters, w, h))
