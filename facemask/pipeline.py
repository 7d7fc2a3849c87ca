"""One frame through the pipeline: detect -> filter -> classify (batched) -> FrameResult.

Two modes. Video frames (``process(frame, frame_index=...)``, driven by ``facemask.video``): a
face is classified only when the filters pass it and it reaches the detector's classify score,
because a track's votes are better without a doubtful one. Photos (``process(frame, image=name)``,
the ``images`` command and ``eval``): nobody votes, so every face found gets a label
(``images.label_every_face``), down to the detector score ``images.min_score`` (large faces down
to ``images.large_min_score``); a face video
would not have classified, or whose label's
probability is below ``images.low_confidence``, is marked ``low_confidence`` with the reason. Faces
outside ``filters.detection_area`` stay unclassified in both modes: that area is the user's rule.
"""

from __future__ import annotations

import time

import numpy as np

from .classifiers import MaskClassifier, build_classifier
from .config import Config
from .detectors import Detector, build_detector
from .detectors.configs import YuNetConfig
from .detectors.verify import LargeFaceVerifier, doubtful
from .filters import NOT_VERIFIED, OUTSIDE_AREA, UNCERTAIN, apply_filters
from .runtimes import onnx
from .types import Face, FrameResult


def video_config(cfg: Config) -> Config:
    """The config a video pipeline runs with: YuNet's landmark box correction (and the opt-in
    large-face refinement) are for photos only. On video the correction made more palms and
    fists near mouths look like masked faces (the stadium
    clip of tests/test_video_people.py: 18 of 250 decided people masked with it, 12 of 261
    without), and a tracked person is judged over many frames, where a box that stops at the
    top of the mask costs little."""
    if isinstance(cfg.detector, YuNetConfig) and (cfg.detector.box_correction, cfg.detector.large_refine) != ("none", "none"):
        return cfg.model_copy(update={"detector": cfg.detector.model_copy(update={"box_correction": "none", "large_refine": "none"})})
    return cfg


class FramePipeline:
    """Stateless per-frame processing; video tracking wraps it (see facemask.video)."""

    def __init__(self, cfg: Config, detector: Detector | None = None, classifier: MaskClassifier | None = None):
        self.cfg = cfg
        self.detector = detector if detector is not None else build_detector(cfg)
        self.classifier = classifier if classifier is not None else build_classifier(cfg.classifier)
        self.verifier: LargeFaceVerifier | None = None  # video sessions turn it on (verify_large_faces)

    def verify_large_faces(self) -> None:
        """Video: classify the large faces YuNet doubts only when UltraFace confirms them
        (``filters.verify_large``; YuNet's scores are what it was measured on). Photos label every
        face, a doubtful one marked low-confidence, and never load UltraFace for it."""
        cfg = self.cfg
        if (self.verifier is None and cfg.filters.verify_large and isinstance(cfg.detector, YuNetConfig)
                and onnx.available()):
            self.verifier = LargeFaceVerifier(cfg.detector.num_threads)

    @property
    def searches_regions(self) -> bool:
        """Can the detector look only around given boxes (``Detector.detect_regions``)?"""
        return self.detector.searches_regions

    def process(self, frame: np.ndarray, *, image: str | None = None, frame_index: int | None = None,
                time_s: float | None = None, near: np.ndarray | None = None, margin: float = 2.0,
                min_score: float | None = None, zones=None) -> FrameResult:
        """Detect, filter, classify. ``image`` (a photo's name) selects photo mode (see the module
        docstring). ``near``, ``margin`` and ``min_score`` are for video with a detector that
        ``searches_regions``: search only around those boxes (grown by ``margin`` face sizes),
        report faces down to that score; those below the detector's own threshold are not
        classified."""
        h, w = frame.shape[:2]
        photo = image is not None and self.cfg.images.label_every_face
        large_only = None  # photos: faces under images.min_score kept only from this size
        if photo and min_score is None:
            im = self.cfg.images
            lowest = min(im.min_score, im.large_min_score)
            if lowest < self.detector.score_threshold:
                min_score = lowest
                if im.large_min_score < im.min_score:
                    large_only = (im.min_score, im.large_face)
        t0 = time.perf_counter()
        if near is not None:
            faces = self.detector.detect_regions(frame, near, margin, min_score) if len(near) else []
        else:
            faces = self.detector.detect(frame, min_score)
        if large_only is not None:
            faces = [f for f in faces if f.score >= large_only[0] or f.size >= large_only[1]]
        t1 = time.perf_counter()
        if photo:
            self.label_all(frame, faces, zones)
        else:
            self.classify(frame, faces, min_score is not None, zones)
        t2 = time.perf_counter()
        return FrameResult(
            width=w, height=h, faces=faces, image=image, frame=frame_index, time_s=time_s,
            timings_ms={"detect": (t1 - t0) * 1e3, "classify": (t2 - t1) * 1e3},
        )

    def _min_scores(self, faces: list[Face], weak: bool) -> list[float]:
        scores = [self.detector.classify_threshold(f) for f in faces]
        if weak:  # detected below the detector's own threshold (a track's weak face)
            scores = [max(s, self.detector.score_threshold) for s in scores]
        return scores

    def classify(self, frame: np.ndarray, faces: list[Face], weak: bool = False, zones=None) -> None:
        """Video: filter, then classify every face that passed in one batch. Faces below the
        detector's classify threshold are not classified, nor (``weak``: detected below the
        detector's own threshold) faces below its ``score_threshold``."""
        h, w = frame.shape[:2]
        passed = apply_filters(faces, self.cfg.filters, w, h, self._min_scores(faces, weak), zones)
        if self.verifier is not None:
            for f in passed:
                if doubtful(f) and not self.verifier.confirms(frame, f):
                    f.skip_reason = NOT_VERIFIED
            passed = [f for f in passed if f.skip_reason is None]
        self.classifier.classify(frame, passed)

    def label_all(self, frame: np.ndarray, faces: list[Face], zones=None) -> None:
        """Photos: classify every face in one batch (the detection area aside); a face the
        filters would have skipped, or whose label is uncertain, is marked low-confidence."""
        h, w = frame.shape[:2]
        apply_filters(faces, self.cfg.filters, w, h, self._min_scores(faces, False), zones)
        labelled = [f for f in faces if f.skip_reason != OUTSIDE_AREA]
        self.classifier.classify(frame, labelled)
        for f in labelled:
            if f.mask_prob is None:  # no classifier (detector-only evaluation)
                continue
            reason = f.skip_reason
            if reason is None and f.confidence is not None and f.confidence < self.cfg.images.low_confidence:
                reason = UNCERTAIN
            f.skip_reason, f.low_confidence = None, reason
