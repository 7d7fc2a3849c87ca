"""One frame through the pipeline: detect -> filter -> classify (batched) -> FrameResult."""

from __future__ import annotations

import time

import numpy as np

from .classifiers import MaskClassifier, build_classifier
from .config import Config
from .detectors import FaceDetector, build_detector
from .detectors.base import RegionDetector
from .filters import apply_filters
from .types import FrameResult


class FramePipeline:
    """Stateless per-frame processing; video tracking wraps it (see facemask.video)."""

    def __init__(self, cfg: Config, detector: FaceDetector | None = None, classifier: MaskClassifier | None = None):
        self.cfg = cfg
        self.detector = detector if detector is not None else build_detector(cfg)
        self.classifier = classifier if classifier is not None else build_classifier(cfg.classifier)

    @property
    def searches_regions(self) -> bool:
        """Can the detector look only around given boxes (see detectors.base.RegionDetector)?"""
        return isinstance(self.detector, RegionDetector)

    def process(self, frame: np.ndarray, *, image: str | None = None, frame_index: int | None = None,
                time_s: float | None = None, near: np.ndarray | None = None, margin: float = 2.0,
                min_score: float | None = None, zones=None) -> FrameResult:
        """Detect, filter, classify. ``near``, ``margin`` and ``min_score`` need a
        :class:`RegionDetector`: search only around those boxes (grown by ``margin`` face sizes),
        report faces down to that score; those below the detector's own threshold are not
        classified."""
        h, w = frame.shape[:2]
        t0 = time.perf_counter()
        if near is not None:
            faces = self.detector.detect_regions(frame, near, margin, min_score) if len(near) else []
        else:  # a plain FaceDetector takes no min_score
            faces = self.detector.detect(frame) if min_score is None else self.detector.detect(frame, min_score)
        t1 = time.perf_counter()
        self.classify(frame, faces, min_score is not None, zones)
        t2 = time.perf_counter()
        return FrameResult(
            width=w, height=h, faces=faces, image=image, frame=frame_index, time_s=time_s,
            timings_ms={"detect": (t1 - t0) * 1e3, "classify": (t2 - t1) * 1e3},
        )

    def classify(self, frame: np.ndarray, faces, weak: bool = False, zones=None) -> None:
        """Filter, then classify every face that passed in one batch. Faces below the detector's
        ``classify_score`` (if it has one) are not classified, nor (``weak``: detected below the
        detector's own threshold) faces below its ``score_threshold``."""
        h, w = frame.shape[:2]
        min_score = getattr(self.cfg.detector, "classify_score", 0.0)
        if weak:
            min_score = max(min_score, self.detector.score_threshold)
        self.classifier.classify(frame, apply_filters(faces, self.cfg.filters, w, h, min_score, zones))
