"""Build the classifier's folder dataset from the shared sources (``--prepare-data``).

Every crop, from either source, is cut by :func:`facemask.crops.face_crop` with the inference
padding, so crop tightness carries no label information:

* ``mask_crops`` photos are loosely and unevenly cropped (the with_mask ones looser): YuNet is run
  on a padded copy of each photo to find the face box, which is then cut with face_crop. A photo
  with no face found is skipped (``training.no_face = "skip"``) or cut around a fixed central box
  (``"center"``); the counts per class go into ``prepare_report.json``.
* kaggle853 ``training.voc_split`` (train): faces cut from the ground-truth boxes. These are the
  small, CCTV-like faces. With ``training.voc_video_boxes`` each face is also cut at the YuNet box
  a video would give it (named ``..._v``), so the classifier sees masked faces as video shows
  them: YuNet's box of a masked face often stops at the mask's top edge.
* ``training.video_labels`` (optional): hand-labelled faces of video clips, re-cut from the clips
  in ``training.video_dirs`` at collect's YuNet video boxes (:mod:`facemask.training.video_crops`).
  ``mask`` / ``no_mask`` crops only (``not_face`` and ``unclear`` are counted, not written); the
  hold-out (``video_holdout_fraction``) is chosen per person. Each crop is written once, named
  ``vid_...``; training draws the training ones ``video_repeat`` times per epoch.

A hold-out part of each source (``holdout_fraction``, decided per source image by a hash of its
name so it is stable across runs) goes to ``validation/`` for checkpoint selection.
``landmarks.json`` keeps YuNet's five landmarks of each unmasked crop, for synthetic masks.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from ..config import Config
from ..crops import face_crop, square_box
from ..datasets import load_voc_dataset
from ..detectors.yunet import YuNetConfig, YuNetDetector
from ..errors import ConfigError, InputError
from ..geometry import box_iou
from ..types import Face
from .data import LANDMARKS_FILE

# Folder names for canonical labels that training.class_dirs does not name.
DEFAULT_DIRS = {"mask": "with_mask", "no_mask": "without_mask", "mask_incorrect": "mask_weared_incorrect"}
MASK_CROPS_LABELS = {"with_mask": "mask", "without_mask": "no_mask"}
DETECT_PAD = 0.5  # padding added around a mask_crops photo (fraction of its side) before YuNet
DETECT_MIN_SIDE = 320  # the padded photo is upscaled to at least this size
MIN_FACE_FRACTION = 0.25  # a found face narrower than this fraction of the photo is not the subject
CENTER_BOX = (0.2, 0.15, 0.8, 0.85)  # "center" fallback, fractions of the photo (x1, y1, x2, y2)


def in_holdout(name: str, fraction: float) -> bool:
    digest = hashlib.sha1(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


class SubjectFinder:
    """The main face of a face photo, found by YuNet on a padded, upscaled copy."""

    def __init__(self, score_threshold: float = 0.5):
        # YuNet's own boxes at one scale: the crops and landmarks the classifier was trained on.
        self.detector = YuNetDetector(YuNetConfig(score_threshold=score_threshold, upscale=1.0, max_side=4096,
                                                  large_side=0, box_correction="none"))

    def __call__(self, image: np.ndarray) -> Face | None:
        """The subject's face (box and landmarks in ``image`` pixels), or None."""
        h, w = image.shape[:2]
        pad = int(round(DETECT_PAD * max(h, w)))
        padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(114, 114, 114))
        scale = max(1.0, DETECT_MIN_SIDE / max(padded.shape[:2]))
        if scale > 1.0:
            padded = cv2.resize(padded, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        best, best_key = None, -1.0
        for face in self.detector.detect(padded):
            box = face.box / scale - pad
            if min(box[2] - box[0], box[3] - box[1]) < MIN_FACE_FRACTION * min(h, w):
                continue
            cx, cy = (box[0] + box[2]) / 2 / w - 0.5, (box[1] + box[3]) / 2 / h - 0.5
            key = face.score * (box[2] - box[0]) * (1.0 - min(1.0, np.hypot(cx, cy)))  # big, central, sure
            if key > best_key:
                landmarks = None if face.landmarks is None else (face.landmarks / scale - pad).astype(np.float32)
                best, best_key = Face(box.astype(np.float32), face.score, landmarks, source="yunet"), key
        return best


def to_crop_frame(points: np.ndarray, box, size: int, pad: float) -> np.ndarray:
    """Image points -> pixel coordinates in ``face_crop(image, box, size, pad)``."""
    sq = square_box(box, pad)
    return ((points - sq[:2]) * size / (sq[2] - sq[0])).astype(np.float32)


class _Writer:
    """Writes crops; keeps the five landmarks (crop pixels) of unmasked faces for synthetic masks."""

    def __init__(self, root: Path, folder_of: dict[str, str], finder: "SubjectFinder"):
        self.root, self.folder_of, self.finder = root, folder_of, finder
        self.counts: Counter = Counter()
        self.landmarks: dict[str, list] = {}

    def write(self, split: str, label: str, name: str, crop_rgb: np.ndarray, landmarks: np.ndarray | None = None) -> None:
        folder = self.root / split / self.folder_of[label]
        folder.mkdir(parents=True, exist_ok=True)
        crop_bgr = cv2.cvtColor(crop_rgb, cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(folder / f"{name}.png"), crop_bgr)
        self.counts[f"{split}/{label}"] += 1
        if label == "no_mask":
            if landmarks is None:  # small faces: look again on the (padded, upscaled) crop
                face = self.finder(crop_bgr)
                landmarks = None if face is None else face.landmarks
            if landmarks is not None:
                self.landmarks[f"{split}/{self.folder_of[label]}/{name}.png"] = np.round(landmarks, 2).tolist()


def _mask_crops(src: Path, writer: _Writer, size: int, pad: float, holdout: float, no_face: str) -> dict:
    stats: dict[str, Counter] = {}
    for folder, label in MASK_CROPS_LABELS.items():
        files = sorted((src / folder).glob("*.jpg")) + sorted((src / folder).glob("*.png"))
        if not files:
            raise InputError(f"no images in {src / folder}")
        counter = stats.setdefault(label, Counter())
        for path in files:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                counter["unreadable"] += 1
                continue
            face = writer.finder(image)
            if face is None:
                counter["no_face"] += 1
                if no_face == "skip":
                    continue
                h, w = image.shape[:2]
                box, landmarks = np.array(CENTER_BOX, np.float32) * [w, h, w, h], None
            else:
                counter["face_found"] += 1
                box = face.box
                landmarks = None if face.landmarks is None else to_crop_frame(face.landmarks, box, size, pad)
            split = "validation" if in_holdout(f"{folder}/{path.name}", holdout) else "train"
            writer.write(split, label, f"mc_{folder}_{path.stem}", face_crop(image, box, size, pad), landmarks)
    return {label: dict(c) for label, c in stats.items()}


# training.voc_video_boxes: a YuNet video box this close to an annotated face is that face
VIDEO_BOX_IOU = 0.4


def _video_box_detector() -> YuNetDetector:
    """YuNet as a video runs it (the shipped scales, no photo box changes): the boxes the
    classifier is given on video."""
    return YuNetDetector(YuNetConfig(box_correction="none", large_refine="none"))


def _voc_faces(src: Path, split_name: str, writer: _Writer, size: int, pad: float, holdout: float,
               video_boxes: bool = False) -> dict:
    if split_name == "val":
        raise ConfigError("training.voc_split must not be 'val': that split is kept for measuring only")
    if not (src / "splits" / f"{split_name}.txt").is_file():
        raise InputError(f"VOC split file {src / 'splits' / (split_name + '.txt')} not found (training.voc_dir)")
    counter: Counter = Counter()
    detector = _video_box_detector() if video_boxes else None
    for item in load_voc_dataset(src, split_name):
        image = cv2.imread(str(item.image_path), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(f"cannot read image {item.image_path}")
        split = "validation" if in_holdout(item.image_path.name, holdout) else "train"
        found = np.zeros((0, 4))
        if detector is not None:
            found = np.array([f.box for f in detector.detect(image)], np.float64).reshape(-1, 4)
        iou = box_iou(np.asarray(item.boxes, np.float64).reshape(-1, 4), found)
        for i, (box, label) in enumerate(zip(item.boxes, item.labels)):
            if label not in DEFAULT_DIRS:
                counter[f"unknown label {label}"] += 1
                continue
            writer.write(split, label, f"voc_{item.image_path.stem}_{i}", face_crop(image, box, size, pad))
            counter[label] += 1
            if len(found) and iou[i].max() >= VIDEO_BOX_IOU:
                # the same face cut where video would cut it (on a masked face YuNet's box often
                # stops at the mask's top edge: the mask sits low in the crop)
                vbox = found[int(np.argmax(iou[i]))]
                writer.write(split, label, f"voc_{item.image_path.stem}_{i}_v", face_crop(image, vbox, size, pad))
                counter[f"{label} video box"] += 1
    return dict(counter)


def _video_faces(cfg: Config, writer: _Writer, size: int, pad: float, log=print) -> dict:
    from . import video_crops

    t = cfg.training
    assert t.video_labels is not None
    labels = video_crops.read_labels(t.video_labels)
    crops, missing = video_crops.cut_crops([r for r in labels if r.label in video_crops.TRAINED],
                                           t.video_dirs, size, pad)
    if missing:
        log(f"warning: video clips not found in training.video_dirs, their labels skipped: {', '.join(missing)}")
    written: Counter = Counter()
    people: dict[str, set[str]] = {"train": set(), "validation": set()}
    for row, crop in crops:
        split = "validation" if video_crops.in_holdout(row, t.video_holdout_fraction) else "train"
        writer.write(split, row.label, row.name, crop)
        written[f"{split}/{row.label}"] += 1
        people[split].add(row.person_key)
    return {
        "labels": str(t.video_labels),
        "rows": dict(Counter(r.label for r in labels)),
        "not_trained": dict(Counter(r.label for r in labels if r.label not in video_crops.TRAINED)),
        "clips_missing": missing,
        "crops": dict(sorted(written.items())),
        "people": {k: len(v) for k, v in people.items()},
        "holdout_fraction": t.video_holdout_fraction,
    }


def prepare(cfg: Config, log=print) -> Path:
    """Write the folder dataset to ``training.data_dir`` (built in a temp folder, then swapped in)."""
    t = cfg.training
    out = Path(t.data_dir)
    mask_crops, voc = Path(t.mask_crops_dir), Path(t.voc_dir)
    for path, key in ((mask_crops, "mask_crops_dir"), (voc, "voc_dir")):
        if not path.is_dir():
            raise InputError(f"training.{key}: folder {path} not found")
    folder_of = {**DEFAULT_DIRS, **t.class_dirs}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", suffix=".part", dir=out.parent))
    try:
        writer = _Writer(tmp, folder_of, SubjectFinder())
        pad = cfg.classifier.crop_pad
        log(f"cutting kaggle853 '{t.voc_split}' faces from {voc} ...")
        voc_stats = _voc_faces(voc, t.voc_split, writer, t.store_size, pad, t.holdout_fraction, t.voc_video_boxes)
        log(f"finding the face in each mask_crops photo with YuNet ({mask_crops}) ...")
        mc_stats = _mask_crops(mask_crops, writer, t.store_size, pad, t.holdout_fraction, t.no_face)
        video_stats = None
        if t.video_labels:
            log(f"re-cutting the labelled video faces of {t.video_labels} ...")
            video_stats = _video_faces(cfg, writer, t.store_size, pad, log)
        report = {
            "store_size": t.store_size,
            "crop_pad": pad,
            "holdout_fraction": t.holdout_fraction,
            "no_face": t.no_face,
            "voc": {"dir": str(voc), "split": t.voc_split, "faces": voc_stats},
            "mask_crops": {"dir": str(mask_crops), "photos": mc_stats},
            "video": video_stats,
            "written": dict(sorted(writer.counts.items())),
            "class_dirs": folder_of,
        }
        report["no_mask_landmarks"] = len(writer.landmarks)
        (tmp / "prepare_report.json").write_text(json.dumps(report, indent=1) + "\n")
        (tmp / LANDMARKS_FILE).write_text(json.dumps(writer.landmarks) + "\n")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(json.dumps(report["written"]))
    log(f"mask_crops YuNet: {json.dumps(mc_stats)}")
    if video_stats:
        log(f"video crops: {json.dumps(video_stats['crops'])}, people {json.dumps(video_stats['people'])}, "
            f"not trained on: {json.dumps(video_stats['not_trained'])}")
    return out
