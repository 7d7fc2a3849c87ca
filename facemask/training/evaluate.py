"""Measure a trained classifier on ground-truth face crops of a VOC split (kaggle853 val).

``python -m facemask.training.evaluate --config configs/config-x86.json [--model NAME|PATH]``

Faces are cut from the GT boxes with face_crop and the config's crop_pad, classified in batches
through the inference runtime (MaskClassifier, no TensorFlow) and labelled with the app's rule
(label_from_probs with classifier.mask_threshold). Faces whose GT class the model does not
output (mask_weared_incorrect for a 2-class model) are left out of the metrics and reported apart.
``--holdout`` measures on the training hold-out instead (per source), the split to compare
training options on without touching val.
``--video`` measures on the hand-labelled video crops of ``training.video_labels`` (re-cut from the
clips): accuracy per label and per hard-case group, on the hold-out people and, apart, on the
people trained on (:mod:`facemask.training.video_crops`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..classifiers.runtime import MaskClassifier, label_from_probs
from ..config import ClassifierConfig, load_config
from ..crops import face_crops
from ..datasets import load_voc_dataset
from ..errors import FacemaskError, InputError
from .metrics import summary

SMALL_FACE_PX = 32


@dataclass
class FaceSet:
    crops: np.ndarray  # (N, S, S, 3) uint8 RGB
    labels: list[str]  # canonical GT labels
    sizes: np.ndarray  # (N,) min(width, height) of the GT box, px


def voc_face_crops(voc_dir: str | Path, split: str, size: int, pad: float, limit_images: int | None = None) -> FaceSet:
    root = Path(voc_dir)
    if not (root / "splits" / f"{split}.txt").is_file():
        raise InputError(f"no split file {root / 'splits' / (split + '.txt')}")
    crops, labels, sizes = [], [], []
    for item in load_voc_dataset(root, split)[:limit_images]:
        image = cv2.imread(str(item.image_path), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(f"cannot read image {item.image_path}")
        if len(item.boxes):
            crops.append(face_crops(image, item.boxes, size, pad))
            labels += item.labels
            sizes.append(np.minimum(item.boxes[:, 2] - item.boxes[:, 0], item.boxes[:, 3] - item.boxes[:, 1]))
    return FaceSet(np.concatenate(crops), labels, np.concatenate(sizes))


def predict_labels(clf: MaskClassifier, crops: np.ndarray) -> list[str]:
    probs = clf.predict(crops)
    classes = clf.cfg.classes
    return [label_from_probs(dict(zip(classes, p)), clf.cfg.mask_threshold) for p in probs]


def evaluate(clf: MaskClassifier, faces: FaceSet) -> dict:
    classes: list[str] = list(clf.cfg.classes)
    pred = predict_labels(clf, faces.crops)
    known = np.array([g in classes for g in faces.labels])
    y = np.array([classes.index(g) if k else -1 for g, k in zip(faces.labels, known)])
    p = np.array([classes.index(q) for q in pred])
    small = faces.sizes < SMALL_FACE_PX
    result = {
        "all": summary(y[known], p[known], classes),
        f"small_lt{SMALL_FACE_PX}px": summary(y[known & small], p[known & small], classes),
        f"large_ge{SMALL_FACE_PX}px": summary(y[known & ~small], p[known & ~small], classes),
    }
    other = ~known
    if other.any():  # e.g. mask_incorrect faces seen by a 2-class model
        result["not_in_classes"] = {
            "n": int(other.sum()),
            "predicted": {c: int((p[other] == i).sum()) for i, c in enumerate(classes)},
        }
    return result


def holdout_faces(cfg, size: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The hold-out folder (``<data_dir>/validation``) per source: kaggle853 ``voc`` crops and
    ``mask_crops`` photos (file name prefixes written by prepare)."""
    from .data import load_split

    t = cfg.training
    split = load_split(t.data_dir, "validation", list(cfg.classifier.classes), t.class_dirs, size)
    prefixes = {"voc_": "voc", "vid_": "video"}
    source = np.array([next((v for k, v in prefixes.items() if p.name.startswith(k)), "mask_crops") for p in split.paths])
    return {s: (split.images[source == s], split.labels[source == s])
            for s in ("voc", "mask_crops", "video") if (source == s).any()}


def _line(name: str, m: dict) -> str:
    recall = " ".join(f"{c} {r:.4f}" for c, r in m["recall"].items() if r is not None)
    return (f"{name:12s} n={m['n']:5d} accuracy {m['accuracy']:.4f} balanced {m['balanced_accuracy']:.4f} "
            f"recall: {recall}")


def _print_holdout(cfg, clf: MaskClassifier) -> int:
    print(f"model {clf.cfg.model} on the hold-out of {cfg.training.data_dir} (argmax)")
    for source, (crops, labels) in holdout_faces(cfg, clf.input_size).items():
        print(_line(source, summary(labels, clf.predict(crops).argmax(axis=1), list(clf.cfg.classes))))
    return 0


def video_report(cfg, clf: MaskClassifier) -> dict:
    """Per label and per hard-case group, for the hold-out people and the trained-on ones: how many
    crops, how many the app's rule labels right, and the mean mask probability."""
    from . import video_crops

    t = cfg.training
    if not t.video_labels:
        raise InputError("training.video_labels is not set (the labelled video crops' CSV)")
    labels = video_crops.read_labels(t.video_labels)
    crops, missing = video_crops.cut_crops(labels, t.video_dirs, clf.input_size, clf.cfg.crop_pad, clf.cfg.crop_shift)
    classes = list(clf.cfg.classes)
    probs = clf.predict(np.stack([c for _, c in crops])) if crops else np.zeros((0, len(classes)))
    result: dict = {"model": clf.cfg.model, "labels": str(t.video_labels), "clips_missing": missing,
                    "holdout_fraction": t.video_holdout_fraction}
    for part in ("holdout", "train"):
        groups: dict[str, dict] = {}
        for (row, _), pr in zip(crops, probs):
            if (part == "holdout") != video_crops.in_holdout(row, t.video_holdout_fraction):
                continue
            mask_prob = float(pr[classes.index("mask")])
            pred = label_from_probs(dict(zip(classes, pr)), clf.cfg.mask_threshold)
            keys = [f"label:{row.label}"]
            if row.label in video_crops.TRAINED:
                keys += ["all"] + [f"{g}:{row.label}" for g in row.groups] + list(row.groups)
            for key in keys:
                g = groups.setdefault(key, {"n": 0, "right": 0, "predicted_mask": 0, "mask_prob_sum": 0.0})
                g["n"] += 1
                g["right"] += int(pred == row.label)
                g["predicted_mask"] += int(pred == "mask")
                g["mask_prob_sum"] += mask_prob
        for g in groups.values():
            g["accuracy"] = g["right"] / g["n"] if g["n"] else None
            g["mean_mask_prob"] = g.pop("mask_prob_sum") / g["n"] if g["n"] else None
        result[part] = dict(sorted(groups.items(), key=lambda kv: _group_order(kv[0])))
    return result


def _group_order(key: str) -> tuple:
    from .video_crops import GROUPS, LABELS

    head, _, tail = key.partition(":")
    if head == "all":
        return (0, 0, "")
    if head == "label":
        return (1, LABELS.index(tail), "")
    return (2, GROUPS.index(head), tail)


def _print_video(result: dict) -> None:
    print(f"model {result['model']} on the labelled video crops of {result['labels']} "
          f"(hold-out: {result['holdout_fraction']:.2f} of the people)")
    if result["clips_missing"]:
        print(f"clips not found (skipped): {', '.join(result['clips_missing'])}")
    for part in ("holdout", "train"):
        print(f"{part}: group                      n  right  accuracy  said mask  mean mask_prob")
        for key, g in result[part].items():
            acc = "-" if g["accuracy"] is None else f"{g['accuracy']:.3f}"
            print(f"  {key:32s} {g['n']:4d} {g['right']:5d}  {acc:>8s}  {g['predicted_mask']:9d}  {g['mean_mask_prob']:.3f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m facemask.training.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True)
    p.add_argument("--model", help="catalog name or .tflite/.onnx path (default: classifier.model)")
    p.add_argument("--split", default="val", help="VOC split of training.voc_dir (default val)")
    p.add_argument("--holdout", action="store_true",
                   help="measure on the training hold-out (training.data_dir/validation) per source instead")
    p.add_argument("--video", action="store_true",
                   help="measure on the labelled video crops (training.video_labels), per label and hard-case group")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--json", help="also write the metrics to this file")
    args = p.parse_args(argv)
    try:
        cfg = load_config(args.config, args.set)
        ccfg: ClassifierConfig = cfg.classifier
        if args.model:
            ccfg = ccfg.model_copy(update={"model": args.model})
        clf = MaskClassifier(ccfg)
        if args.holdout:
            return _print_holdout(cfg, clf)
        if args.video:
            result = video_report(cfg, clf)
            _print_video(result)
            if args.json:
                _write_json(args.json, result)
            return 0
        faces = voc_face_crops(cfg.training.voc_dir, args.split, clf.input_size, ccfg.crop_pad)
        result = {"model": ccfg.model, "split": args.split, "voc_dir": cfg.training.voc_dir, **evaluate(clf, faces)}
    except FacemaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"model {ccfg.model} on {cfg.training.voc_dir} split '{args.split}' (GT boxes, face_crop pad {ccfg.crop_pad})")
    for key in ("all", f"small_lt{SMALL_FACE_PX}px", f"large_ge{SMALL_FACE_PX}px"):
        print(_line(key, result[key]))
    if "not_in_classes" in result:
        print(f"faces of other GT classes (left out): {json.dumps(result['not_in_classes'])}")
    if args.json:
        _write_json(args.json, result)
    return 0


def _write_json(path: str, result: dict) -> None:
    tmp = Path(path + ".part")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
