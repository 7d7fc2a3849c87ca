"""Labelled datasets and prediction files for evaluation.

Ground truth comes as ``facemask.datasets.Annotated`` records, from either
- a PASCAL VOC folder (``images/``, ``annotations/``, optional ``splits/<name>.txt``), or
- a CSV of boxes with a header ``image,class,x,y,w,h`` (one row per face; a row with an empty
  class lists an image without faces). Image names are relative to the CSV's folder unless an
  images folder is given.

Predictions can be read from a JSON Lines file, one object per image:
``{"image": name, "width": W, "height": H, "faces": [{"box": [x1, y1, x2, y2], "score": s,
"label": "mask"|"no_mask"|..., "mask_prob": p}]}`` (the format ``python -m facemask images`` writes).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..datasets import VOC_LABELS, Annotated, load_voc_dataset
from ..errors import InputError
from ..types import INCORRECT, MASK, NO_MASK, UNKNOWN
from .metrics import ImageEval

CANONICAL = (MASK, NO_MASK, INCORRECT)
CSV_COLUMNS = ("image", "class", "x", "y", "w", "h")


def canonical_label(name: str) -> str:
    name = name.strip()
    return VOC_LABELS.get(name, name)


def load_voc(root: str | Path, split: str | None = None) -> list[Annotated]:
    root = Path(root)
    if not (root / "annotations").is_dir():
        raise InputError(f"{root}: not a VOC folder (no annotations/ inside)")
    if split is not None and not (root / "splits" / f"{split}.txt").is_file():
        raise InputError(f"{root}: no split '{split}' (expected splits/{split}.txt)")
    try:
        return load_voc_dataset(root, split)
    except (OSError, ValueError, TypeError) as exc:  # ET.ParseError is a SyntaxError subclass
        raise InputError(f"{root}: cannot read annotations ({exc})") from None
    except SyntaxError as exc:
        raise InputError(f"{root}: malformed annotation XML ({exc})") from None


def load_csv(path: str | Path, images_dir: str | Path | None = None) -> list[Annotated]:
    """Boxes from a CSV ``image,class,x,y,w,h`` (x, y: top-left corner; w, h: size, pixels)."""
    path = Path(path)
    base = Path(images_dir) if images_dir is not None else path.parent
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if not rows or [c.strip().lower() for c in rows[0]] != list(CSV_COLUMNS):
        raise InputError(f"{path}: the first line must be the header {','.join(CSV_COLUMNS)}")
    by_image: dict[str, tuple[list, list]] = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) != len(CSV_COLUMNS):
            raise InputError(f"{path}:{lineno}: expected {len(CSV_COLUMNS)} columns, got {len(row)}")
        name, label = row[0].strip(), canonical_label(row[1])
        boxes, labels = by_image.setdefault(name, ([], []))
        if not label:  # an image listed without faces
            continue
        try:
            x, y, w, h = (float(v) for v in row[2:])
        except ValueError:
            raise InputError(f"{path}:{lineno}: x, y, w, h must be numbers") from None
        if w <= 0 or h <= 0:
            raise InputError(f"{path}:{lineno}: box width and height must be positive")
        boxes.append([x, y, x + w, y + h])
        labels.append(label)
    return [
        Annotated(image_path=base / name, width=0, height=0,
                  boxes=np.array(boxes, np.float32).reshape(-1, 4), labels=labels)
        for name, (boxes, labels) in by_image.items()
    ]


def load_dataset(spec: str | Path, split: str | None = None, images_dir: str | Path | None = None) -> list[Annotated]:
    """A VOC folder or a CSV file, whichever ``spec`` is."""
    spec = Path(spec)
    if spec.is_dir():
        return load_voc(spec, split)
    if spec.suffix.lower() == ".csv":
        if split is not None:
            raise InputError(f"{spec}: --split applies to VOC folders only")
        return load_csv(spec, images_dir)
    raise InputError(f"{spec}: not a VOC folder or a .csv file")


def load_predictions(path: str | Path) -> dict[str, list[dict]]:
    """Image name -> its predicted faces, from a JSON Lines file (see the module docstring)."""
    path = Path(path)
    out: dict[str, list[dict]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            name = str(obj["image"])
            faces = obj.get("faces", [])
            for face in faces:
                if len(face["box"]) != 4:
                    raise ValueError("a box needs 4 numbers")
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}:{lineno}: not a prediction record ({exc})") from None
        out.setdefault(name, []).extend(faces)
    return out


def image_eval(item: Annotated, faces: list[dict]) -> ImageEval:
    """One image's ground truth and predictions (faces as JSON dicts) for the metrics."""
    probs = [f.get("mask_prob") for f in faces]
    return ImageEval(
        name=item.name,
        gt_boxes=item.boxes,
        gt_labels=list(item.labels),
        pred_boxes=np.array([f["box"] for f in faces], np.float64).reshape(-1, 4),
        pred_scores=np.array([float(f.get("score", 1.0)) for f in faces], np.float64),
        pred_labels=[str(f.get("label", UNKNOWN)) for f in faces],
        pred_mask_prob=np.array([np.nan if p is None else float(p) for p in probs], np.float64),
    )


def join_predictions(dataset: list[Annotated], predictions: dict[str, list[dict]]) -> tuple[list[ImageEval], list[str]]:
    """Pair each labelled image with its predictions by file name.

    An image without a prediction record counts as 'no face found'. Returns the pairs and the
    names of prediction records whose image is not in the dataset (left out).
    """
    names = {item.name for item in dataset}
    pairs = [image_eval(item, predictions.get(item.name, [])) for item in dataset]
    return pairs, sorted(set(predictions) - names)
