"""The detector contract (:class:`Detector`) and the registry of backends.

What every detector gives: ``detect(frame, min_score=None) -> list[Face]``, its
``score_threshold`` (faces it reports unless asked for weaker ones with ``min_score``) and the
score a face needs to be classified in video (:meth:`Detector.classify_threshold`). What video
tracking may also use: ``searches_regions`` and :meth:`Detector.detect_regions`, a search
limited to the regions around given boxes (frames between full detections). The pipeline and
the video session read these, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..geometry import nms_faces, search_regions, tile_grid  # noqa: F401  (historical home of these)
from ..types import Face


class Detector:
    """Base class of every detector. Subclasses implement :meth:`detect` and set the thresholds."""

    #: faces scoring lower are not reported (unless ``detect`` is given a lower ``min_score``)
    score_threshold: float = 0.0
    #: faces scoring lower are followed and drawn but cast no vote in video (photos label them,
    #: marked low-confidence)
    classify_score: float = 0.0
    #: True when :meth:`detect_regions` is implemented (YuNet)
    searches_regions: bool = False
    #: the ``Face.source`` of the faces it reports
    source: str = "face"

    def detect(self, frame: np.ndarray, min_score: float | None = None) -> list[Face]:
        """Faces in a BGR uint8 frame, boxes in that frame's pixels; with ``min_score`` (below
        ``score_threshold``), weaker faces too where the detector can report them."""
        raise NotImplementedError

    def detect_regions(self, frame: np.ndarray, boxes: np.ndarray, margin: float,
                       min_score: float | None = None) -> list[Face]:
        """Faces near ``boxes`` ((N, 4) x1, y1, x2, y2 in frame pixels): each box grown by
        ``margin`` box sizes on every side is searched, with boxes that agree with :meth:`detect`
        on the whole frame. Only where ``searches_regions``."""
        raise NotImplementedError(f"{type(self).__name__} cannot search regions")

    def classify_threshold(self, face: Face) -> float:
        """The score ``face`` needs to be classified in video (a fusion answers per member)."""
        return self.classify_score


FaceDetector = Detector  # the name the rest of the code has used

registry: dict[str, Callable] = {}


def register(name: str):
    """Class decorator: ``@register("yunet")``; the class is built as ``cls(config)`` for the
    config whose ``type`` is ``name`` (its model lives in ``detectors.configs``)."""

    def wrap(cls):
        registry[name] = cls
        return cls

    return wrap
