"""The folder dataset: ``<data_dir>/{train,validation}/<class folder>/*.png|jpg``.

Class folder names come from ``training.class_dirs`` (canonical label -> folder), so both the
``with_mask/without_mask`` and the ``face-mask/face`` layouts load. Labels are indices into
``classifier.classes`` (the softmax order).
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
SPLITS = ("train", "validation")
LANDMARKS_FILE = "landmarks.json"  # "<split>/<folder>/<file>" -> 5 (x, y) in crop pixels, unmasked faces


@dataclass
class Split:
    images: np.ndarray  # (N, S, S, 3) uint8 RGB
    labels: np.ndarray  # (N,) int32, index into classes
    paths: list[Path]
    classes: list[str]

    def counts(self) -> dict[str, int]:
        return {c: int((self.labels == i).sum()) for i, c in enumerate(self.classes)}


def class_folders(data_dir: Path, split: str, classes: Sequence[str], class_dirs: dict[str, str]) -> list[Path]:
    """The folder of each class, checked; raises InputError with one line naming what is wrong."""
    if not data_dir.is_dir():
        raise InputError(
            f"training data folder {data_dir} does not exist "
            "(run: python model_main.py --config CONFIG --prepare-data, or set training.data_dir)"
        )
    root = data_dir / split
    if not root.is_dir():
        raise InputError(f"training data folder {data_dir} has no '{split}/' subfolder (expected {'/, '.join(SPLITS)}/)")
    folders = []
    for label in classes:
        if label not in class_dirs:
            raise InputError(f"training.class_dirs has no folder for class '{label}' (it maps {sorted(class_dirs)})")
        folder = root / class_dirs[label]
        if not folder.is_dir():
            present = sorted(p.name for p in root.iterdir() if p.is_dir())
            raise InputError(f"missing class folder {folder} for '{label}' (found: {', '.join(present) or 'none'})")
        folders.append(folder)
    return folders


def load_split(data_dir: str | Path, split: str, classes: Sequence[str], class_dirs: dict[str, str], size: int) -> Split:
    """Every image of one split, resized to ``size`` (INTER_AREA: stored crops are larger)."""
    images, labels, paths = [], [], []
    for index, folder in enumerate(class_folders(Path(data_dir), split, classes, class_dirs)):
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError(f"class folder {folder} has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        for path in files:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise InputError(f"cannot read image {path}")
            images.append(cv2.cvtColor(resize(bgr, size), cv2.COLOR_BGR2RGB))
            labels.append(index)
            paths.append(path)
    return Split(np.stack(images), np.array(labels, np.int32), paths, list(classes))


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """Square resize with the interpolation face_crop uses (area down, linear up)."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    interp = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interp)
