"""Labelled data readers: PASCAL VOC folders (kaggle853) and split files."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError

# Dataset class names -> canonical labels used everywhere in facemask.
VOC_LABELS = {
    "with_mask": "mask",
    "without_mask": "no_mask",
    "mask_weared_incorrect": "mask_incorrect",
}


@dataclass
class Annotated:
    image_path: Path
    width: int
    height: int
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))  # x1 y1 x2 y2
    labels: list[str] = field(default_factory=list)  # canonical labels

    @property
    def name(self) -> str:
        return self.image_path.name


def read_voc(xml_path: Path, images_dir: Path) -> Annotated:
    root = ET.parse(xml_path).getroot()
    size = root.find("size")
    width = int(size.findtext("width", "0")) if size is not None else 0
    height = int(size.findtext("height", "0")) if size is not None else 0
    boxes, labels = [], []
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        bb = obj.find("bndbox")
        if bb is None:
            continue
        corners = [bb.findtext(k) for k in ("xmin", "ymin", "xmax", "ymax")]
        if any(c is None for c in corners):
            raise InputError(f"{xml_path}: an object's bndbox lacks xmin, ymin, xmax or ymax")
        boxes.append([float(c) for c in corners if c is not None])
        labels.append(VOC_LABELS.get(name, name))
    filename = root.findtext("filename") or (xml_path.stem + ".jpg")
    return Annotated(
        image_path=images_dir / filename,
        width=width,
        height=height,
        boxes=np.array(boxes, np.float32).reshape(-1, 4),
        labels=labels,
    )


def load_voc_dataset(root: str | Path, split: str | None = None) -> list[Annotated]:
    """A VOC folder with ``images/``, ``annotations/`` and optional ``splits/<split>.txt``.

    Split files list image stems (or file names), one per line.
    """
    root = Path(root)
    ann_dir, img_dir = root / "annotations", root / "images"
    if split is None:
        stems = sorted(p.stem for p in ann_dir.glob("*.xml"))
    else:
        split_file = root / "splits" / f"{split}.txt"
        stems = [Path(line.strip()).stem for line in split_file.read_text().splitlines() if line.strip()]
    return [read_voc(ann_dir / f"{stem}.xml", img_dir) for stem in stems]
