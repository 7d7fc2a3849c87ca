"""Synthetic masks: a mask template (PNG with alpha) warped onto an unmasked face from its five
YuNet landmarks (right eye, left eye, nose, right and left mouth corner), as in MaskTheFace.

The mask spans from the nose bridge to below the chin and a little wider than the cheeks,
turned with the eye line; its colours are shaded to the face's brightness so a white mask on a
dark, underexposed face does not glow.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError

TEMPLATE_MAX_SIDE = 256
# The mask's box in face units: x across (0 = between the eyes, unit = eye distance), y down
# (0 = eye line, 1 = mouth line).
MASK_X = (-1.3, 1.3)
MASK_Y = (0.3, 1.8)


def load_templates(folder: str | Path) -> list[np.ndarray]:
    """RGBA templates cut to their alpha's bounding box, longest side <= TEMPLATE_MAX_SIDE."""
    folder = Path(folder)
    out = []
    for path in sorted(folder.glob("*.png")):
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None or img.ndim != 3 or img.shape[2] != 4:
            continue
        ys, xs = np.nonzero(img[..., 3] > 10)
        img = img[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        s = TEMPLATE_MAX_SIDE / max(img.shape[:2])
        if s < 1:
            img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        out.append(cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA))
    if not out:
        raise InputError(f"no RGBA mask templates (*.png with alpha) in {folder}")
    return out


def put_mask(face_rgb: np.ndarray, landmarks: np.ndarray, template: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``face_rgb`` with ``template`` placed from ``landmarks`` ((5, 2), same pixel frame)."""
    eyes = (landmarks[0] + landmarks[1]) / 2
    mouth = (landmarks[3] + landmarks[4]) / 2
    across = landmarks[1] - landmarks[0]
    eye_dist = float(np.hypot(*across))
    if eye_dist < 1.0:
        return face_rgb
    ux = across / eye_dist  # face x axis in the image
    down = mouth - eyes  # face y axis, unit = eye-to-mouth distance
    jitter = rng.uniform(0.92, 1.08, 4)
    x0, x1 = MASK_X[0] * jitter[0], MASK_X[1] * jitter[1]
    y0, y1 = MASK_Y[0] * jitter[2], MASK_Y[1] * jitter[3]
    th, tw = template.shape[:2]
    # template corners (0,0), (tw,0), (0,th) -> face points
    dst = np.float32([
        eyes + ux * eye_dist * x0 + down * y0,
        eyes + ux * eye_dist * x1 + down * y0,
        eyes + ux * eye_dist * x0 + down * y1,
    ])
    m = cv2.getAffineTransform(np.float32([[0, 0], [tw, 0], [0, th]]), dst)
    h, w = face_rgb.shape[:2]
    warped = cv2.warpAffine(template, m, (w, h), flags=cv2.INTER_AREA if tw > w else cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0)).astype(np.float32)
    alpha = warped[..., 3:] / 255.0
    if alpha.max() == 0:
        return face_rgb
    face = face_rgb.astype(np.float32)
    shade = np.clip(face.mean() / 128.0, 0.35, 1.1) * rng.uniform(0.85, 1.05)
    out = face * (1 - alpha) + warped[..., :3] * shade * alpha
    return np.clip(out, 0, 255).astype(np.uint8)
