"""Run the configured pipeline (or its detector alone) over a labelled dataset."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from ..classifiers import MaskClassifier, build_classifier
from ..config import Config, parse_config
from ..datasets import Annotated
from ..detectors import FaceDetector
from ..errors import InputError, ModelError
from ..io.sources import read_image
from ..pipeline import FramePipeline
from ..types import Face
from .data import image_eval

log = logging.getLogger("facemask")


class NoClassifier:
    """Stands in for the mask classifier when its model is not available: faces stay unclassified."""

    def classify(self, frame: np.ndarray, faces: list[Face]) -> None:
        return None


def load_classifier(cfg: Config) -> MaskClassifier | None:
    """The configured classifier, or None (with one warning line) when its model cannot be found."""
    try:
        return build_classifier(cfg.classifier)
    except ModelError as exc:
        log.warning("classifier not available, detector metrics only: %s", exc)
        return None


def with_detector(cfg: Config, **overrides) -> Config:
    """A copy of ``cfg`` with detector settings changed (validated like a config file)."""
    data = cfg.model_dump()
    data["detector"] = {**data["detector"], **overrides}
    return parse_config(data, "detector overrides")


@dataclass
class RunResult:
    images: list = field(default_factory=list)  # ImageEval per readable image
    predictions: list[dict] = field(default_factory=list)  # FrameResult JSON per image
    gt_crop_labels: list[str] = field(default_factory=list)  # classifier on ground-truth crops
    gt_crop_mask_prob: list[float] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # unreadable images
    ms_per_image: dict[str, float] = field(default_factory=dict)  # stage -> mean ms


def run_dataset(cfg: Config, dataset: list[Annotated], classifier: MaskClassifier | None = None,
                detector: FaceDetector | None = None, gt_crops: bool = True, progress=None) -> RunResult:
    """Detect (and classify, when a classifier is given) every image; also classify the
    ground-truth crops so the classifier is measured without the detector's misses."""
    # NoClassifier is a stand-in with the one method FramePipeline calls
    pipeline = FramePipeline(cfg, detector=detector, classifier=classifier or NoClassifier())  # type: ignore[arg-type]
    out = RunResult()
    totals: dict[str, float] = {}
    for item in (progress(dataset) if progress else dataset):
        try:
            image = read_image(item.image_path)
        except InputError as exc:
            log.warning("%s (skipped)", exc)
            out.skipped.append(item.name)
            continue
        t0 = time.perf_counter()
        result = pipeline.process(image, image=item.name)
        for key, ms in result.timings_ms.items():
            totals[key] = totals.get(key, 0.0) + ms
        totals["total"] = totals.get("total", 0.0) + (time.perf_counter() - t0) * 1e3
        record = result.to_json()
        out.predictions.append(record)
        out.images.append(image_eval(item, record["faces"]))
        if classifier is not None and gt_crops and len(item.boxes):
            probs = classifier.predict(classifier.crops(image, [Face(box=b, score=1.0) for b in item.boxes]))
            out.gt_crop_mask_prob.extend(probs[:, classifier.mask_index].tolist())
            out.gt_crop_labels.extend(item.labels)
    n = max(len(out.images), 1)
    out.ms_per_image = {k: v / n for k, v in totals.items()}
    return out
