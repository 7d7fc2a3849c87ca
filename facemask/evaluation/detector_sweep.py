"""Small-face settings of the detector: recall by face size and cost, side by side.

The same code serves the benchmark script, the generated results table and the recall test, so
the numbers in docs/results.md are the ones the test guards.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..config import Config
from ..datasets import Annotated
from ..detectors import build_detector
from ..detectors.configs import YuNetConfig
from ..errors import InputError
from ..io.sources import read_image
from .metrics import ImageEval, detection_report, match_all
from .runner import with_detector

# name -> detector overrides, measured on labelled images (kaggle853 faces are mostly < 32 px in
# images of ~400 px, so max_side never binds there). Tiles are cut from the (up)scaled frame:
# they do not enlarge faces, they only bound the input size of one network call.
SETTINGS: dict[str, dict] = {
    "0.5x": {"upscale": 0.5, "tiles": [1, 1]},
    "0.75x": {"upscale": 0.75, "tiles": [1, 1]},
    "1x": {"upscale": 1.0, "tiles": [1, 1]},
    "1.5x": {"upscale": 1.5, "tiles": [1, 1]},
    "2x": {"upscale": 2.0, "tiles": [1, 1]},
    "2.5x": {"upscale": 2.5, "tiles": [1, 1]},
    "1x, 2x2 tiles": {"upscale": 1.0, "tiles": [2, 2], "tile_overlap": 0.2},
    "2x, 2x2 tiles": {"upscale": 2.0, "tiles": [2, 2], "tile_overlap": 0.2},
}
# name -> detector overrides, timed on 1080p CCTV frames: there ``max_side`` decides the scale
# (1920 -> 1x, 1440 -> 0.75x, 960 -> 0.5x: the rows above tell the recall at that scale).
VIDEO_SETTINGS: dict[str, dict] = {
    "max_side 3840 (2x)": {"upscale": 2.0, "max_side": 3840},
    "max_side 1920 (1x)": {"upscale": 2.0, "max_side": 1920},
    "max_side 1600": {"upscale": 2.0, "max_side": 1600},
    "max_side 1440": {"upscale": 2.0, "max_side": 1440},
    "max_side 1280": {"upscale": 2.0, "max_side": 1280},
    "max_side 960": {"upscale": 2.0, "max_side": 960},
}


@dataclass
class DatasetImages:
    items: list[Annotated]
    images: list[np.ndarray]

    @classmethod
    def load(cls, items: list[Annotated]) -> "DatasetImages":
        return cls(items, [read_image(item.image_path) for item in items])


def _timed_detect(detector, image: np.ndarray, times: list[float], cpu: list[float]):
    t0, c0 = time.perf_counter(), time.process_time()
    faces = detector.detect(image)
    times.append((time.perf_counter() - t0) * 1e3)
    cpu.append((time.process_time() - c0) * 1e3)
    return faces


def detect_all(cfg: Config, data: DatasetImages) -> tuple[list[ImageEval], dict]:
    """Detector-only predictions on every image, and the median wall and CPU ms per image."""
    detector = build_detector(cfg)
    detector.detect(data.images[0])  # warm-up: the first call allocates the network
    evals: list[ImageEval] = []
    times: list[float] = []
    cpu: list[float] = []
    for item, image in zip(data.items, data.images):
        faces = _timed_detect(detector, image, times, cpu)
        evals.append(ImageEval(
            name=item.name, gt_boxes=item.boxes, gt_labels=list(item.labels),
            pred_boxes=np.array([f.box for f in faces], np.float64).reshape(-1, 4),
            pred_scores=np.array([f.score for f in faces], np.float64),
        ))
    return evals, {"ms_per_image": round(statistics.median(times), 2),
                   "cpu_ms_per_image": round(statistics.median(cpu), 2)}


def recall_row(cfg: Config, data: DatasetImages, iou: float = 0.5) -> dict:
    """Recall / precision / AP overall and by size, plus ms per image, for one detector config."""
    evals, timing = detect_all(cfg, data)
    match_all(evals, iou)
    return {**timing, **detection_report(evals)}


def read_frames(video: str | Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    frames: list[np.ndarray] = []
    while len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    if not frames:
        raise InputError(f"{video}: no frame could be decoded")
    return frames


def video_cost(cfg: Config, frames: list[np.ndarray]) -> dict:
    """Median and best detector wall ms, median CPU ms per frame, and mean faces found per frame
    (CCTV clips have no labels: more faces is better only while they are real, which the labelled
    sweep checks). On a shared machine the median wall time grows with other people's load; the
    best frame and CPU ms (all threads) are closer to what the detector costs on idle cores."""
    detector = build_detector(cfg)
    detector.detect(frames[0])
    times: list[float] = []
    cpu: list[float] = []
    found = [len(_timed_detect(detector, frame, times, cpu)) for frame in frames]
    h, w = frames[0].shape[:2]
    det = cfg.detector
    scale = min(det.upscale, det.max_side / max(w, h)) if isinstance(det, YuNetConfig) else 1.0
    return {"ms_per_frame": round(statistics.median(times), 1), "best_ms_per_frame": round(min(times), 1),
            "cpu_ms_per_frame": round(statistics.median(cpu), 1),
            "faces_per_frame": round(float(np.mean(found)), 2), "frames": len(frames),
            "detector_scale": round(scale, 3)}


def sweep(cfg: Config, data: DatasetImages | None, frames: list[np.ndarray] | None,
          settings: dict[str, dict] = SETTINGS, video_settings: dict[str, dict] = VIDEO_SETTINGS, log=print) -> dict:
    """``settings`` on the labelled images (recall by size, ms) and ``video_settings`` on the
    video frames (ms, faces found); every other detector option comes from ``cfg``."""
    out: dict = {"dataset": {}, "video": {}}
    if data is not None:
        for name, overrides in settings.items():
            out["dataset"][name] = {"overrides": overrides, **recall_row(with_detector(cfg, **overrides), data)}
            log(f"{name}: {_short(out['dataset'][name])}")
    if frames is not None:
        for name, overrides in video_settings.items():
            out["video"][name] = {"overrides": overrides, **video_cost(with_detector(cfg, **overrides), frames)}
            log(f"{name}: {_short(out['video'][name])}")
    return out


def _short(row: dict) -> str:
    if "all" in row:
        return (f"recall {row['all']['recall']:.3f} (<32 px {row['<32']['recall']:.3f}) "
                f"precision {row['all']['precision']:.3f}, "
                f"{row['ms_per_image']:.1f} ms/img ({row['cpu_ms_per_image']:.0f} CPU ms)")
    return (f"scale {row['detector_scale']}, "
            f"{row['ms_per_frame']:.1f} ms/frame ({row['cpu_ms_per_frame']:.0f} CPU ms), "
            f"{row['faces_per_frame']:.2f} faces/frame")


def threshold_table(cfg: Config, data: DatasetImages, thresholds=(0.3, 0.4, 0.5, 0.6, 0.7), iou: float = 0.5) -> dict:
    """Recall, precision, F1 and AP50 at several score thresholds (one detection pass at the lowest)."""
    evals, _ = detect_all(with_detector(cfg, score_threshold=min(thresholds)), data)
    out = {}
    for thr in thresholds:
        kept = []
        for e in evals:
            keep = e.pred_scores >= thr
            kept.append(ImageEval(e.name, e.gt_boxes, e.gt_labels, e.pred_boxes[keep], e.pred_scores[keep]))
        match_all(kept, iou)
        rep = detection_report(kept)
        r, p = rep["all"]["recall"], rep["all"]["precision"]
        out[str(thr)] = {"recall": r, "recall<32": rep["<32"]["recall"], "precision": p,
                         "f1": round(2 * r * p / (r + p), 4) if r + p else 0.0, "ap50": rep["all"]["ap50"]}
    return out


def box_offsets(evals: list[ImageEval], iou: float = 0.3) -> np.ndarray:
    """Median offsets (x1, y1, x2, y2) from predicted to ground-truth boxes, as fractions of the
    predicted box's width / height, over pairs matched at a loose IoU."""
    match_all(evals, iou)
    rows = []
    for e in evals:
        assert e.match is not None  # set by match_all
        for i in np.nonzero(e.match >= 0)[0]:
            p, g = e.pred_boxes[i], e.gt_boxes[e.match[i]]
            w, h = p[2] - p[0], p[3] - p[1]
            rows.append((g - p) / [w, h, w, h])
    return np.median(np.array(rows), axis=0) if rows else np.zeros(4)


def shift_boxes(evals: list[ImageEval], offsets: np.ndarray) -> list[ImageEval]:
    out = []
    for e in evals:
        w = e.pred_boxes[:, 2] - e.pred_boxes[:, 0]
        h = e.pred_boxes[:, 3] - e.pred_boxes[:, 1]
        shifted = e.pred_boxes + np.stack([w, h, w, h], axis=1) * offsets
        out.append(ImageEval(e.name, e.gt_boxes, e.gt_labels, shifted, e.pred_scores))
    return out


def box_convention(cfg: Config, train: DatasetImages, val: DatasetImages, iou: float = 0.5) -> dict:
    """How much of the IoU-0.5 miss rate is box convention rather than missed faces: offsets fit
    on train (YuNet's box vs the annotators'), then val recall with and without them."""
    offsets = box_offsets(detect_all(cfg, train)[0])
    val_evals, _ = detect_all(cfg, val)
    out: dict[str, Any] = {"offsets_x1y1x2y2": [round(float(v), 3) for v in offsets]}
    for name, evals in (("as_detected", val_evals), ("shifted", shift_boxes(val_evals, offsets))):
        match_all(evals, iou)
        rep = detection_report(evals)
        out[name] = {"recall": rep["all"]["recall"], "recall<32": rep["<32"]["recall"],
                     "precision": rep["all"]["precision"], "ap50": rep["all"]["ap50"]}
    return out
