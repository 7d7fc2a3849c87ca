"""YuNet: boxes, scores and five landmarks, on ONNX Runtime, OpenVINO or OpenCV's DNN.

Runtimes (``runtime``): the same network and the same decoding (OpenCV's FaceDetectorYN: the
image padded to a multiple of 32, scores sqrt(cls * obj), NMS), so every runtime gives the same
faces; ``auto`` takes ONNX Runtime, the fastest on one core (``python scripts/bench_runtimes.py``),
and falls back to OpenCV when onnxruntime is missing.

Scales: YuNet's smallest anchors are ~10 px, so CCTV faces of 10-20 px are found far more often
when the frame is upscaled (``upscale``, capped by ``max_side`` so a 1080p frame is not blown up
to 4K) or cut into tiles (``tiles``). But the network was trained on 640 px inputs and loses faces
much larger than that, which the upscale makes of every large face in a photo: ``large_side``
adds a run on the frame scaled down to that longest side; a face both runs find keeps the large-face
run's box (:func:`merge_scales`). The cost is bounded:
one run of at most ``max_side`` and one of at most ``large_side``.

Large masked faces: YuNet's box of a large masked face often stops at the mask's top or runs past
the chin even after the landmark correction (most misses on the large-face check are such boxes,
IoU 0.3-0.5 with the truth). ``large_refine: ultraface`` (opt-in) runs the masked-face detector
UltraFace (which boxes the whole face, mask included) on a frame with a large-face run and a face
of at least REFINE_MIN_FACE px that YuNet scores under REFINE_MAX_SCORE, and averages each such
face's box with the UltraFace box it overlaps (:func:`refine_large`). Photos only: video turns it
off (``pipeline.video_config``).

Boxes: YuNet's box of a masked face stops near the mask's top edge, and kaggle853's annotators
box a face lower than YuNet does. ``box_correction: landmarks`` moves each box from its eyes and
mouth to where an annotator would put it (coefficients fitted on kaggle853 train by
``scripts/fit_box_correction.py``).

Between full detections a video looks for its tracked faces again in small regions around them
(:meth:`YuNetDetector.detect_regions`). Each region is run at the whole frame's scale and cut on
YuNet's 32 px stride grid, so its boxes are the ones the whole frame would give
(``python scripts/region_agreement.py`` measures how many of a frame's faces are found again from
the previous frame's boxes, aligned or not).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..errors import BackendUnavailable
from ..geometry import box_iou, greedy_pairs, nms, nms_faces, search_regions
from ..models import resolve
from ..runtimes import onnx
from ..runtimes import openvino as ov_runtime
from ..types import Face
from .base import Detector, register
from .configs import UltraFaceConfig, YuNetConfig
from .tiling import run_tiled

__all__ = ["YuNetConfig", "YuNetDetector", "correct_boxes", "merge_scales", "refine_large"]

log = logging.getLogger("facemask")

STRIDE = 32  # YuNet's largest stride: crops cut on this grid see what the whole image sees
STRIDES = (8, 16, 32)
# Regions covering more than this share of the frame: one run on the whole frame is cheaper.
MAX_REGION_SHARE = 0.5
# Search margins are counted in face sizes up to this size (px at the detector's scale): a larger
# face needs no more context, and moves by less than its size from frame to frame.
REGION_CONTEXT = 32
# The large-face run is made only when its scale is at most this fraction of the small-face scale
# (closer scales find the same faces twice), and keeps only the faces that would be at least
# LARGE_FACE px at the small-face scale (smaller ones that run finds better; chosen on kaggle853
# train and its large-face check, scripts/bench_photos.py --choose).
LARGE_SCALE_RATIO = 0.75
LARGE_FACE = 160
LARGE_RUN_FACE = 48  # ... which the large-face run sees at least this big (YuNet finds them all)
# ... and then the small-face run's faces larger than this (px at its scale) are dropped: YuNet
# boxes such faces badly, and the large-face run sees them whole. 0: keep them all.
FINE_MAX = 0
# large_refine (opt-in): a face of at least REFINE_MIN_FACE px (frame pixels, from either run)
# scoring under REFINE_MAX_SCORE is refined by the UltraFace face scoring at least REFINE_SCORE that
# it overlaps most, by at least REFINE_IOU. On kaggle853 train's large-face check (python
# scripts/bench_photos.py --split train --limit-large 500 --set detector.large_refine=ultraface)
# recall 0.949 -> 0.966; on val's 0.949 either way.
REFINE_IOU = 0.3
REFINE_SCORE = 0.5
REFINE_MIN_FACE = 64
REFINE_MAX_SCORE = 0.85

# Box correction, fitted on kaggle853 train (scripts/fit_box_correction.py): each box side moves
# by a linear function of the landmarks, as fractions of the box's width (x) or height (y).
# Features: 1, eye-midpoint y, mouth-midpoint y (both relative to the box top, in box heights),
# eye distance (in box widths).
CORRECTION = np.array([
    [0.0557, -0.0904, 0.0551, -0.1468],  # x1
    [-0.0002, 0.6512, -0.1046, 0.0147],  # y1
    [0.0481, -0.0979, 0.0465, 0.0084],  # x2
    [0.0212, -0.1294, 0.1944, -0.0813],  # y2
], np.float64)


def correction_features(boxes: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(N, 4) boxes and (N, 5, 2) YuNet landmarks -> (N, 4) features of the correction."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    lm = np.asarray(landmarks, np.float64).reshape(-1, 5, 2)
    w = np.maximum(boxes[:, 2] - boxes[:, 0], 1e-3)
    h = np.maximum(boxes[:, 3] - boxes[:, 1], 1e-3)
    eye_y = (lm[:, 0, 1] + lm[:, 1, 1]) / 2
    mouth_y = (lm[:, 3, 1] + lm[:, 4, 1]) / 2
    eye_dist = np.hypot(lm[:, 1, 0] - lm[:, 0, 0], lm[:, 1, 1] - lm[:, 0, 1])
    return np.column_stack([np.ones(len(boxes)), (eye_y - boxes[:, 1]) / h, (mouth_y - boxes[:, 1]) / h, eye_dist / w])


def correct_boxes(boxes: np.ndarray, landmarks: np.ndarray, coef: np.ndarray = CORRECTION) -> np.ndarray:
    """Boxes moved by the landmark correction ``coef`` (4 sides x features)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if not len(boxes):
        return boxes
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    offsets = correction_features(boxes, landmarks) @ np.asarray(coef, np.float64).T
    return boxes + offsets * np.column_stack([w, h, w, h])


def merge_scales(small: list[Face], large: list[Face], iou_threshold: float) -> list[Face]:
    """The small-face run's faces and the large-face run's, one face per face.

    A face the large-face run found (it keeps only faces large at the small-face scale) is kept
    with its own box, which sees the whole face, and the best score of the two runs; the
    small-face run's faces overlapping it by ``iou_threshold`` are dropped. Plain NMS kept
    whichever box scored higher, often the small-face run's badly boxed one. Chosen on kaggle853
    train's large-face check (0.932 with it: ``python scripts/bench_photos.py --split train
    --limit-large 500``; docs/photos.md)."""
    if not small or not large:
        return small + large
    iou = box_iou(np.array([f.box for f in large], np.float64), np.array([f.box for f in small], np.float64))
    dropped = np.zeros(len(small), bool)
    for j in np.argsort([-f.score for f in large], kind="stable"):
        hit = np.nonzero((iou[j] >= iou_threshold) & ~dropped)[0]
        if len(hit):
            large[j].score = max(large[j].score, max(small[i].score for i in hit))
            dropped[hit] = True
    return [f for f, d in zip(small, dropped) if not d] + large


def refine_large(faces: list[Face], others: list[Face], iou_threshold: float) -> list[Face]:
    """``faces`` (large ones YuNet is unsure of) with each box averaged with the box of the ``others``
    face (a masked-face detector's) it overlaps most, by at least ``iou_threshold``, each other
    face used once; such a face takes the better score of the two and is marked
    ``yunet+ultraface``. Returns the faces refined (the same objects, changed in place)."""
    if not faces or not others:
        return []
    iou = box_iou(np.array([f.box for f in faces], np.float64), np.array([o.box for o in others], np.float64))
    refined = []
    for i, j in greedy_pairs(iou, [f.score for f in faces], iou_threshold):
        f, o = faces[i], others[j]
        f.box = ((f.box.astype(np.float64) + o.box) / 2).astype(np.float32)
        f.score = max(f.score, o.score)
        f.source = f"{f.source}+{o.source}"
        refined.append(f)
    return refined


# ---------------------------------------------------------------- runtimes


def decode(outputs: dict[str, np.ndarray], height: int, width: int, score_threshold: float,
           nms_threshold: float, top_k: int) -> np.ndarray:
    """YuNet's raw outputs for a (height, width) input (multiples of 32) -> (N, 15) rows
    x, y, w, h, 5 landmarks (x, y), score, as cv2.FaceDetectorYN returns them."""
    rows = []
    for st in STRIDES:
        cols = width // st
        raw_cls, raw_obj = outputs[f"cls_{st}"][0, :, 0], outputs[f"obj_{st}"][0, :, 0]
        # Clipping and the square root only for the candidates: for a threshold > 0, the clipped
        # product reaches threshold^2 only where the raw product does (tens of thousands of anchors
        # on a 1080p frame, a handful of candidates).
        k = np.nonzero(raw_cls * raw_obj >= score_threshold * score_threshold)[0] if score_threshold > 0 \
            else np.arange(len(raw_cls))
        score = np.sqrt(np.clip(raw_cls[k], 0, 1) * np.clip(raw_obj[k], 0, 1))
        keep = score >= score_threshold
        k, score = k[keep], score[keep]
        if not len(k):
            continue
        c, r = (k % cols).astype(np.float32), (k // cols).astype(np.float32)
        b = outputs[f"bbox_{st}"][0, k]
        kp = outputs[f"kps_{st}"][0, k].reshape(-1, 5, 2)
        cx, cy = (c + b[:, 0]) * st, (r + b[:, 1]) * st
        bw, bh = np.exp(b[:, 2]) * st, np.exp(b[:, 3]) * st
        marks = np.stack([(kp[:, :, 0] + c[:, None]) * st, (kp[:, :, 1] + r[:, None]) * st], axis=2)
        rows.append(np.column_stack([cx - bw / 2, cy - bh / 2, bw, bh, marks.reshape(-1, 10), score]))
    if not rows:
        return np.zeros((0, 15), np.float32)
    a = np.concatenate(rows).astype(np.float32)
    xyxy = np.column_stack([a[:, :2], a[:, :2] + a[:, 2:4]])
    return a[nms(xyxy, a[:, 14], nms_threshold, score_threshold, top_k)]


def _padded_blob(image: np.ndarray) -> tuple[np.ndarray, int, int]:
    h, w = image.shape[:2]
    ph, pw = -(-h // STRIDE) * STRIDE, -(-w // STRIDE) * STRIDE
    # Zeros only where the padding is, and one plane at a time: cheaper than zeroing the whole
    # blob and copying through a transposed view (the same bytes).
    blob = np.empty((1, 3, ph, pw), np.float32)
    blob[0, :, h:, :] = 0
    blob[0, :, :h, w:] = 0
    for c in range(3):
        blob[0, c, :h, :w] = image[:, :, c]
    return blob, ph, pw


@lru_cache(maxsize=4)
def dynamic_model(path: str) -> bytes:
    """The YuNet ONNX with a free input height and width (it is fully convolutional, and its
    reshapes are to (1, -1, C)): one session serves every input size."""
    try:
        import onnx as onnx_lib
    except ImportError as exc:
        raise BackendUnavailable(f"YuNet on ONNX Runtime needs the onnx package ({exc}); pip install onnx") from None
    model = onnx_lib.load(path)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for out in model.graph.output:
        out.type.tensor_type.shape.dim[1].dim_param = "anchors"
    del model.graph.value_info[:]
    return model.SerializeToString()


class OnnxRuntimeYuNet:
    """One ONNX Runtime session with a dynamic input size (measured as fast as one session per
    size, scripts/bench_photos.py --runtimes)."""

    name = "onnxruntime"

    def __init__(self, path: str, cfg: YuNetConfig):
        self.cfg = cfg
        # The CPU unless the config expects CUDA (cuda "warn" / "require").
        self.session = onnx.session(dynamic_model(path), cfg.num_threads, cfg.cuda, gpu=cfg.cuda != "auto",
                                    what=f"the YuNet detector {Path(path).name}")
        self.names = [o.name for o in self.session.get_outputs()]

    def __call__(self, image: np.ndarray, score: float) -> np.ndarray:
        blob, ph, pw = _padded_blob(image)
        outs = dict(zip(self.names, self.session.run(None, {"input": blob})))
        return decode(outs, ph, pw, score, self.cfg.nms_threshold, self.cfg.top_k)


class OpenVINOYuNet:
    """One OpenVINO compiled model with a dynamic input height and width (YuNet is fully
    convolutional): compiled once, whatever the sizes of the images."""

    name = "openvino"

    def __init__(self, path: str, cfg: YuNetConfig):
        self.cfg, self.path = cfg, path
        self.compiled = ov_runtime.compiled(path, [1, 3, -1, -1], cfg.num_threads)
        self.request = self.compiled.create_infer_request()

    def __call__(self, image: np.ndarray, score: float) -> np.ndarray:
        blob, ph, pw = _padded_blob(image)
        res = self.request.infer({0: blob})
        outs = {name: value for port, value in res.items() for name in port.get_names()}
        return decode(outs, ph, pw, score, self.cfg.nms_threshold, self.cfg.top_k)


class OpenCVYuNet:
    """cv2.FaceDetectorYN. Region searches get their own network: switching one network between
    a whole frame and small crops re-allocates its buffers each time (~15 ms at 1080p)."""

    name = "opencv"

    def __init__(self, path: str, cfg: YuNetConfig):
        self.cfg, self.path = cfg, path
        self._net = self._create()

    def _create(self) -> cv2.FaceDetectorYN:
        c = self.cfg
        return cv2.FaceDetectorYN.create(self.path, "", (320, 320), c.score_threshold, c.nms_threshold, c.top_k)

    def __call__(self, image: np.ndarray, score: float) -> np.ndarray:
        h, w = image.shape[:2]
        self._net.setInputSize((w, h))
        self._net.setScoreThreshold(score)
        _, out = self._net.detect(image)
        return np.zeros((0, 15), np.float32) if out is None else out

    def for_regions(self) -> OpenCVYuNet:
        return OpenCVYuNet(self.path, self.cfg)


RUNTIMES = {"onnxruntime": OnnxRuntimeYuNet, "openvino": OpenVINOYuNet, "opencv": OpenCVYuNet}


def make_runtime(path: str, cfg: YuNetConfig):
    if cfg.runtime != "auto" or cfg.cuda != "auto":  # CUDA expected: no quiet fallback to OpenCV
        return RUNTIMES["onnxruntime" if cfg.runtime == "auto" else cfg.runtime](path, cfg)
    try:
        return OnnxRuntimeYuNet(path, cfg)
    except BackendUnavailable as exc:
        # "auto" on an install without the [onnx] extra: OpenCV is the documented fallback, not
        # something to warn about on every command (an explicit runtime still fails loudly).
        log.debug("%s; YuNet runs on OpenCV's DNN instead", exc)
        return OpenCVYuNet(path, cfg)


# ---------------------------------------------------------------- the detector


@register("yunet")
class YuNetDetector(Detector):
    searches_regions = True
    source = "yunet"

    def __init__(self, cfg: YuNetConfig):
        self.cfg = cfg
        self.model_path = str(resolve(cfg.model))
        self.score_threshold = cfg.score_threshold
        self.classify_score = cfg.classify_score
        self.runtime = make_runtime(self.model_path, cfg)
        self._region_runtime: OnnxRuntimeYuNet | OpenVINOYuNet | OpenCVYuNet | None = None
        self._refiner: Detector | None = None
        # UltraFace runs on ONNX Runtime: without it (no [onnx] extra) YuNet runs on OpenCV and
        # the large faces keep YuNet's boxes, as the runtime fallback above does, quietly.
        self.refines = cfg.large_refine == "ultraface" and bool(cfg.large_side) and onnx.available()
        if cfg.large_refine == "ultraface" and not self.refines and cfg.large_side:
            log.debug("large_refine needs onnxruntime; large faces keep YuNet's boxes")
        if self.refines:
            resolve(UltraFaceConfig().model)  # fetched now, not at the first large face

    def _refine(self, frame: np.ndarray, faces: list[Face]) -> int:
        """Faces of at least REFINE_MIN_FACE px scoring under REFINE_MAX_SCORE refined by
        UltraFace, run only when there is such a face; how many were refined."""
        doubtful = [f for f in faces if f.size >= REFINE_MIN_FACE and f.score < REFINE_MAX_SCORE]
        if not doubtful:
            return 0
        if self._refiner is None:
            from .ultraface import UltraFaceDetector

            self._refiner = UltraFaceDetector(UltraFaceConfig(num_threads=self.cfg.num_threads, cuda=self.cfg.cuda))
        return len(refine_large(doubtful, self._refiner.detect(frame, REFINE_SCORE), REFINE_IOU))

    def scale_for(self, width: int, height: int) -> float:
        """The small-face scale."""
        return max(min(self.cfg.upscale, self.cfg.max_side / max(width, height)), 0.05)

    def scales_for(self, width: int, height: int) -> list[float]:
        """Every scale a frame is run at: the small-face one, then the large-face one if any.
        The large-face run keeps faces of LARGE_FACE px (at the small-face scale) and up, so it
        needs no more than the scale that makes those LARGE_RUN_FACE px: cheap on small photos."""
        s = self.scale_for(width, height)
        out = [s]
        if self.cfg.large_side:
            large = min(1.0, self.cfg.large_side / max(width, height), s * LARGE_RUN_FACE / LARGE_FACE)
            if large <= LARGE_SCALE_RATIO * s:
                out.append(large)
        return out

    def _scaled(self, image: np.ndarray, s: float) -> np.ndarray:
        if abs(s - 1.0) < 1e-3:
            return image
        h, w = image.shape[:2]
        return cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_LINEAR if s > 1 else cv2.INTER_AREA)

    @staticmethod
    def _rows_to_faces(rows: np.ndarray) -> list[Face]:
        """Detector rows -> faces in the pixels of the image the rows came from."""
        return [Face(box=np.array([r[0], r[1], r[0] + r[2], r[1] + r[3]], np.float32), score=float(r[14]),
                     landmarks=r[4:14].reshape(5, 2).astype(np.float32), source="yunet")
                for r in rows if np.isfinite(r).all()]

    def _finish(self, faces: list[Face], s: float, w: int, h: int) -> list[Face]:
        """Faces at scale ``s`` -> frame pixels, corrected, clipped, the too small dropped."""
        out = []
        if faces and self.cfg.box_correction == "landmarks":
            boxes = correct_boxes(np.array([f.box for f in faces]), np.array([f.landmarks for f in faces]))
            for f, b in zip(faces, boxes):
                f.box = b.astype(np.float32)
        for f in faces:
            box = np.clip(f.box / s, 0, [w, h, w, h]).astype(np.float32)
            if min(box[2] - box[0], box[3] - box[1]) < max(self.cfg.min_size, 1):
                continue
            f.box = box
            if f.landmarks is not None:
                f.landmarks = (f.landmarks / s).astype(np.float32)
            out.append(f)
        return out

    def detect(self, frame: np.ndarray, min_score: float | None = None) -> list[Face]:
        """Faces scoring at least the configured score_threshold, or ``min_score`` when given."""
        h, w = frame.shape[:2]
        score = self.cfg.score_threshold if min_score is None else min_score
        scales = self.scales_for(w, h)
        fine = scales[0]
        small: list[Face] = []
        large: list[Face] = []
        for i, s in enumerate(scales):
            image = self._scaled(frame, s)
            if i == 0:  # small faces: tiles (if any) at the small-face scale
                found = run_tiled(image, self.cfg, lambda tile: self._rows_to_faces(self.runtime(tile, score)))
                if len(scales) > 1 and FINE_MAX:
                    found = [f for f in found if f.size < FINE_MAX]
                small = self._finish(found, s, w, h)
            else:
                found = [f for f in self._rows_to_faces(self.runtime(image, score))
                         if f.size * fine / s >= LARGE_FACE]
                large = self._finish(found, s, w, h)
        faces = merge_scales(small, large, self.cfg.nms_threshold) if large else small
        faces = nms_faces(faces, self.cfg.nms_threshold) if len(faces) > 1 else faces
        if self.refines and len(scales) > 1 and self._refine(frame, faces):
            faces = nms_faces(faces, self.cfg.nms_threshold)  # a refined box may now cover another's face
        return faces

    # ------------------------------------------------------------- regions

    def detect_regions(self, frame: np.ndarray, boxes: np.ndarray, margin: float,
                       min_score: float | None = None, align: int = STRIDE) -> list[Face]:
        """``align``: the grid regions are cut on (px at the detector's scale); other than
        STRIDE only to measure what the alignment is worth (scripts/region_agreement.py).
        Regions are searched at the small-face scale only: a video's faces are small."""
        h, w = frame.shape[:2]
        s = self.scale_for(w, h)
        sw, sh = round(w * s), round(h * s)
        regions = search_regions(np.asarray(boxes, np.float64) * s, margin, sw, sh, align=align, context=REGION_CONTEXT)
        if sum((x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in regions) > MAX_REGION_SHARE * sw * sh:
            return self.detect(frame, min_score)
        if self._region_runtime is None:
            self._region_runtime = self.runtime.for_regions() if isinstance(self.runtime, OpenCVYuNet) else self.runtime
        faces: list[Face] = []
        for region in regions:
            faces += self._search(frame, region, s, self.cfg.score_threshold if min_score is None else min_score)
        return nms_faces(faces, self.cfg.nms_threshold)  # regions may overlap

    def _search(self, frame: np.ndarray, region: tuple[int, int, int, int], s: float, score: float) -> list[Face]:
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
        assert self._region_runtime is not None  # set by detect_regions
        rows = self._region_runtime(crop, score)
        whole = ~((cut_l & (rows[:, 0] < 1)) | (cut_t & (rows[:, 1] < 1))
                  | (cut_r & (rows[:, 0] + rows[:, 2] > cw - 1)) | (cut_b & (rows[:, 1] + rows[:, 3] > ch - 1)))
        faces = self._rows_to_faces(rows[whole])
        ox, oy = x1 * s + dx, y1 * s + dy
        for f in faces:
            f.box += np.array([ox, oy, ox, oy], np.float32)
            if f.landmarks is not None:
                f.landmarks += np.array([ox, oy], np.float32)
        return self._finish(faces, s, w, h)
