"""The one function that cuts a face out of an image, for training and for inference alike.

Training crops and inference crops come from here with the same padding, so a classifier
cannot learn crop tightness (loose crops = mask) instead of masks.
"""

from __future__ import annotations

import cv2
import numpy as np

DEFAULT_PAD = 0.15  # fraction of the box's longer side added on every side


def square_box(box, pad: float = DEFAULT_PAD, shift: float = 0.0) -> np.ndarray:
    """A square around the box's centre, side = longer side * (1 + 2 * pad); ``shift`` moves the
    centre down by that fraction of the box's height (negative: up)."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    side = max(x2 - x1, y2 - y1, 1.0) * (1.0 + 2.0 * pad)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0 + shift * (y2 - y1)
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], dtype=np.float32)


def face_crop(image: np.ndarray, box, size: int, pad: float = DEFAULT_PAD, shift: float = 0.0) -> np.ndarray:
    """Cut a padded square crop around ``box`` (its centre moved down by ``shift`` box heights)
    and resize it to ``size`` x ``size``.

    ``image`` is HxWx3 uint8 in OpenCV's BGR order; the crop is returned in RGB order (what the
    classifier is trained on). Parts of the square outside the image are filled by replicating
    the border, so faces at the frame edge keep their scale.
    """
    h, w = image.shape[:2]
    sx1, sy1, sx2, sy2 = square_box(box, pad, shift)
    ix1, iy1 = int(np.floor(sx1)), int(np.floor(sy1))
    ix2, iy2 = max(int(np.ceil(sx2)), ix1 + 1), max(int(np.ceil(sy2)), iy1 + 1)
    cx1, cy1, cx2, cy2 = max(ix1, 0), max(iy1, 0), min(ix2, w), min(iy2, h)
    if cx2 <= cx1 or cy2 <= cy1:  # entirely outside the image
        return np.zeros((size, size, 3), np.uint8)
    region = image[cy1:cy2, cx1:cx2]
    top, left, bottom, right = cy1 - iy1, cx1 - ix1, iy2 - cy2, ix2 - cx2
    if top or left or bottom or right:
        region = cv2.copyMakeBorder(region, top, bottom, left, right, cv2.BORDER_REPLICATE)
    interp = cv2.INTER_AREA if region.shape[0] > size else cv2.INTER_LINEAR
    crop = cv2.resize(region, (size, size), interpolation=interp)
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)


def face_crops(image: np.ndarray, boxes, size: int, pad: float = DEFAULT_PAD, shift: float = 0.0) -> np.ndarray:
    """All faces of one image as one (N, size, size, 3) uint8 RGB batch."""
    if len(boxes) == 0:
        return np.zeros((0, size, size, 3), np.uint8)
    return np.stack([face_crop(image, b, size, pad, shift) for b in boxes])
