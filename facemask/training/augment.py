"""CCTV-like augmentation with OpenCV/numpy: one stored face crop in, one model input out.

CCTV faces are small, blurry, compressed and badly lit. Each sample is (in this order):
a small rotation / shift / zoom and a horizontal flip; a downscale of the crop to the size a
``min_face_px``.. face would have, followed by blur, JPEG artefacts and sensor noise at that size;
the upscale to the model's input with the interpolation face_crop uses at inference; finally
brightness / contrast / saturation changes. Roughly 0.1 ms per crop: no bottleneck on 2 cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..crops import DEFAULT_PAD
from .data import resize
from .synthetic import put_brim_shadow, put_hand, put_head


@dataclass(frozen=True)
class CCTVAugment:
    out_size: int
    min_face_px: int = 10
    pad: float = DEFAULT_PAD
    p_lowres: float = 0.6
    p_blur: float = 0.3
    p_jpeg: float = 0.5
    p_noise: float = 0.2
    p_gray: float = 0.1
    max_rotate_deg: float = 12.0

    def __call__(self, crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        img = self._geometry(crop, rng)
        side = img.shape[0]
        if rng.random() < self.p_lowres:
            # crop side = face side * (1 + 2 pad); faces from min_face_px to about the input size
            lo = self.min_face_px * (1 + 2 * self.pad)
            hi = max(lo + 1.0, float(min(side, self.out_size)))
            low = int(round(np.exp(rng.uniform(np.log(lo), np.log(hi)))))
            img = cv2.resize(img, (low, low), interpolation=cv2.INTER_AREA)
        if rng.random() < self.p_blur:
            img = cv2.GaussianBlur(img, (0, 0), sigmaX=rng.uniform(0.3, 0.8) * img.shape[0] / 32)
        if rng.random() < self.p_noise:
            img = np.clip(img + rng.normal(0, rng.uniform(2, 8), img.shape), 0, 255).astype(np.uint8)
        if rng.random() < self.p_jpeg:
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 80))])
            img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else img
        img = resize(img, self.out_size)
        return self._photometric(img, rng)

    def _geometry(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() < 0.5:
            img = img[:, ::-1]
        s = img.shape[0]
        angle = rng.uniform(-self.max_rotate_deg, self.max_rotate_deg)
        zoom = rng.uniform(0.9, 1.1)
        m = np.asarray(cv2.getRotationMatrix2D((s / 2, s / 2), angle, zoom), np.float64)
        m[:, 2] += rng.uniform(-0.05, 0.05, 2) * s
        return cv2.warpAffine(np.ascontiguousarray(img), m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def _photometric(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = img.astype(np.float32)
        if rng.random() < self.p_gray:
            x = np.repeat(x.mean(axis=2, keepdims=True), 3, axis=2)
        else:
            gray = x.mean(axis=2, keepdims=True)
            x = gray + (x - gray) * rng.uniform(0.6, 1.3)  # saturation
        mean = x.mean()
        x = (x - mean) * rng.uniform(0.6, 1.4) + mean + rng.uniform(-35, 35)  # contrast, brightness
        return np.clip(x, 0, 255).astype(np.uint8)


@dataclass(frozen=True, eq=False)
class Occlusion:
    """Occluders that keep the label, drawn on the stored crop before CCTVAugment (so they are
    downscaled, blurred and compressed with the face). Unmasked faces get a hand over the mouth
    (probability ``hand``; training.occlusion) or the head of someone in front over the lower
    face (``crowd``; training.crowd; its texture is the top of one of ``donors``, unmasked
    crops); any face gets a cap brim's shadow (``shadow``; training.shadow). ``landmarks`` are
    the crop's five YuNet points, or a mean layout when the crop has none."""

    hand: float = 0.0
    shadow: float = 0.0
    crowd: float = 0.0
    donors: np.ndarray | None = None  # (N, S, S, 3) unmasked crops; needed when crowd > 0

    def __call__(self, crop: np.ndarray, unmasked: bool, landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if unmasked:
            u = rng.random()
            if u < self.hand:
                crop = put_hand(crop, landmarks, rng)
            elif u < self.hand + self.crowd and self.donors is not None and len(self.donors):
                crop = put_head(crop, landmarks, self.donors[rng.integers(len(self.donors))], rng)
        if rng.random() < self.shadow:
            crop = put_brim_shadow(crop, landmarks, rng)
        return crop


def augment_batch(aug: CCTVAugment, crops: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.stack([aug(c, rng) for c in crops])


def plain_batch(crops: np.ndarray, size: int) -> np.ndarray:
    """No augmentation: only the resize to the model input."""
    return np.stack([resize(c, size) for c in crops])
