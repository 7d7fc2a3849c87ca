"""A large-face check: annotated faces enlarged onto other scenes, for photos with big faces.

kaggle853 faces are small (70 % under 32 px), so it says little about a photo where a face is
300 px wide. Here every annotated face of at least ``min_face`` px (of one split) is cut out with
some context, enlarged to a face width from ``widths`` and pasted onto another image of the same
split, itself resized to a photo size from ``canvases`` (up to a 12 MP phone photo). The pasted
face is the only ground truth of its scene: measure recall (the background's own faces are not
annotated, so precision means nothing here). Scenes are drawn when read (a 12 MP scene is 36 MB)
and are the same for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..datasets import Annotated
from ..io.sources import read_image
from .detector_sweep import DatasetImages

WIDTHS = (128, 192, 256, 384, 512)  # face widths after enlarging, px
CANVASES = ((1280, 960), (1920, 1080), (4032, 3024), (1080, 1440))  # photo sizes, w x h
CONTEXT = 0.6  # context cut around a face, in face sizes per side


@dataclass(frozen=True)
class Scene:
    source: int  # index of the face's image
    face: int  # index of the face in it
    background: int  # index of the background image
    crop: tuple[int, int, int, int]  # context cut from the source, source pixels
    scale: float
    canvas: tuple[int, int]  # w, h
    offset: tuple[int, int]  # where the enlarged crop's corner lands


class Scenes:
    """A read-only sequence of scene images, drawn on access."""

    def __init__(self, items: list[Annotated], scenes: list[Scene]):
        self.items, self.scenes = items, scenes

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, n: int) -> np.ndarray:
        sc = self.scenes[n]
        canvas = cv2.resize(read_image(self.items[sc.background].image_path), sc.canvas, interpolation=cv2.INTER_LINEAR)
        x1, y1, x2, y2 = sc.crop
        crop = read_image(self.items[sc.source].image_path)[y1:y2, x1:x2]
        pw, ph = round((x2 - x1) * sc.scale), round((y2 - y1) * sc.scale)
        ox, oy = sc.offset
        canvas[oy:oy + ph, ox:ox + pw] = cv2.resize(crop, (pw, ph), interpolation=cv2.INTER_CUBIC)
        return canvas

    def __iter__(self):
        return (self[n] for n in range(len(self)))


def build(items: list[Annotated], min_face: int = 32, widths=WIDTHS, canvases=CANVASES, copies: int = 2,
          seed: int = 0) -> DatasetImages:
    """``copies`` scenes per face, each at another width and photo size."""
    rng = np.random.default_rng(seed)
    scenes: list[Scene] = []
    out_items: list[Annotated] = []
    n = 0
    for i, item in enumerate(items):
        h, w = item.height, item.width
        if not (h and w):
            h, w = read_image(item.image_path).shape[:2]
        for k, (x1, y1, x2, y2) in enumerate(np.asarray(item.boxes, np.float64)):
            fw, fh = x2 - x1, y2 - y1
            if min(fw, fh) < min_face:
                continue
            crop = (max(0, int(x1 - CONTEXT * fw)), max(0, int(y1 - CONTEXT * fh)),
                    min(w, int(np.ceil(x2 + CONTEXT * fw))), min(h, int(np.ceil(y2 + CONTEXT * fh))))
            for c in range(copies):
                cw, ch = canvases[(n * copies + c) % len(canvases)]
                s = min(widths[(n + c) % len(widths)], 0.6 * min(cw, ch)) / fw
                pw, ph = round((crop[2] - crop[0]) * s), round((crop[3] - crop[1]) * s)
                if pw >= cw or ph >= ch:
                    continue
                ox, oy = int(rng.integers(0, cw - pw)), int(rng.integers(0, ch - ph))
                bg = int(rng.integers(len(items) - 1))
                scenes.append(Scene(i, k, bg + (bg >= i), crop, s, (cw, ch), (ox, oy)))
                box = [(x1 - crop[0]) * s + ox, (y1 - crop[1]) * s + oy, (x2 - crop[0]) * s + ox, (y2 - crop[1]) * s + oy]
                out_items.append(Annotated(image_path=Path(f"large-{len(out_items):04d}.jpg"), width=cw, height=ch,
                                           boxes=np.array([box], np.float32), labels=[item.labels[k]]))
            n += 1
    return DatasetImages(out_items, Scenes(items, scenes))  # type: ignore[arg-type]
