"""Drawing only: boxes, labels and panels on a BGR frame (in place)."""

from __future__ import annotations

import cv2
import numpy as np

from .types import INCORRECT, MASK, NO_MASK, Face, FrameResult

COLORS = {  # BGR
    MASK: (60, 200, 60),
    NO_MASK: (50, 50, 230),
    INCORRECT: (0, 165, 255),
}
SKIPPED = (140, 140, 140)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def put_label(image: np.ndarray, text: str, x: int, y: int, color, scale: float = 0.45) -> None:
    """Text on a filled box above (x, y), kept inside the image."""
    (tw, th), base = cv2.getTextSize(text, FONT, scale, 1)
    h, w = image.shape[:2]
    x = int(min(max(x, 0), max(w - tw - 2, 0)))
    y = int(max(y, th + base + 2))
    cv2.rectangle(image, (x, y - th - base - 2), (x + tw + 2, y), color, -1)
    lum = 0.114 * color[0] + 0.587 * color[1] + 0.299 * color[2]
    cv2.putText(image, text, (x + 1, y - base - 1), FONT, scale, (0, 0, 0) if lum > 140 else (255, 255, 255), 1, cv2.LINE_AA)


def face_text(face: Face) -> str:
    if face.skip_reason:
        return face.skip_reason.replace("_", " ")
    if face.mask_prob is None:
        return f"face {face.score:.2f}"
    p = face.mask_prob if face.label == MASK else 1.0 - face.mask_prob
    return f"{face.label.replace('_', ' ')} {p:.2f}"


def draw_face(image: np.ndarray, face: Face, landmarks: bool = False, text: str | None = None) -> None:
    x1, y1, x2, y2 = (int(round(v)) for v in face.box)
    color = SKIPPED if face.skip_reason else COLORS.get(face.label, SKIPPED)
    thickness = 1 if face.skip_reason or max(x2 - x1, y2 - y1) < 40 else 2
    cv2.rectangle(image, (x1, y1), (x2, y2), color, thickness, cv2.LINE_AA)
    put_label(image, text if text is not None else face_text(face), x1, y1 - 1, color,
              scale=0.35 if (x2 - x1) < 40 else 0.45)
    if landmarks and face.landmarks is not None:
        for px, py in face.landmarks:
            cv2.circle(image, (int(px), int(py)), 1, (255, 255, 0), -1)


def draw_result(image: np.ndarray, result: FrameResult, landmarks: bool = False) -> np.ndarray:
    # Skipped faces first, so classified ones are drawn on top.
    for face in sorted(result.faces, key=lambda f: f.skip_reason is None):
        draw_face(image, face, landmarks)
    return image


def shade_outside(image: np.ndarray, area: tuple[float, float, float, float], factor: float = 0.5) -> None:
    """Darken everything outside the detection area and outline it."""
    x1, y1, x2, y2 = (int(round(v)) for v in area)
    h, w = image.shape[:2]
    if x1 <= 0 and y1 <= 0 and x2 >= w and y2 >= h:
        return
    mask = np.ones((h, w), bool)
    mask[max(y1, 0):max(y2, 0), max(x1, 0):max(x2, 0)] = False
    image[mask] = (image[mask] * factor).astype(np.uint8)
    cv2.rectangle(image, (x1, y1), (x2 - 1, y2 - 1), (255, 255, 255), 1)
