"""Whole-picture operations shared by the outputs."""

from __future__ import annotations

import cv2
import numpy as np


def shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` scaled down to at most ``max_side`` px on its longest side (unchanged when it
    fits, or when ``max_side`` is 0).

    OpenCV's area averaging is fast only for whole-number factors: 1920 -> 1280 px took 16 ms of
    CPU where bilinear takes 2-3 ms (the JPEG encode after it about 3). So the whole-number part
    of the factor is area-averaged (edges trimmed to a multiple of it, under that many pixels) and
    the rest, under 2x, is bilinear, which at such factors still reads every source pixel.
    """
    h, w = image.shape[:2]
    if max_side <= 0 or max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    size = (max(round(w * scale), 1), max(round(h * scale), 1))
    k = int(1.0 / scale)
    if k >= 2:
        hk, wk = h // k * k, w // k * k
        image = cv2.resize(image[:hk, :wk], (wk // k, hk // k), interpolation=cv2.INTER_AREA)
    if (image.shape[1], image.shape[0]) == size:
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)


def jpeg(image: np.ndarray, quality: int, max_side: int = 0) -> bytes | None:
    """``image`` (BGR) as JPEG bytes, first shrunk to ``max_side`` (0: as it is); None when
    OpenCV cannot encode it."""
    ok, buf = cv2.imencode(".jpg", shrink(image, max_side), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes() if ok else None
