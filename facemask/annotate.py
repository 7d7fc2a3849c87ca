"""Drawing only: boxes, labels and panels on a BGR frame (in place)."""

from __future__ import annotations

from functools import lru_cache

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


# ---------------------------------------------------------------- video: people and statistics

UNDECIDED_COLOR = (0, 215, 255)  # yellow: tracked, not decided yet
STATIC_COLOR = (200, 90, 200)  # purple: a face that never moves (poster, painting)


def person_color(decision: str, status: str) -> tuple[int, int, int]:
    if status == "static":
        return STATIC_COLOR
    return COLORS.get(decision, UNDECIDED_COLOR)


def person_text(track_id: int | None, decision: str, balance: int, status: str) -> str:
    """``#12 mask +37``: the track id, its decision and its vote balance (mask - unmasked)."""
    if track_id is None:
        return "new"
    if status == "static":
        return f"#{track_id} static"
    word = "?" if decision == "undecided" else decision.replace("_", " ")
    return f"#{track_id} {word} {balance:+d}"


def draw_person(image: np.ndarray, face: Face, track_id: int | None, decision: str, balance: int,
                status: str, landmarks: bool = False) -> None:
    """A tracked face coloured by its person-level decision; thin and grey-edged when the face
    is not classified in this frame (filtered: too small, outside the area, not frontal)."""
    x1, y1, x2, y2 = (int(round(v)) for v in face.box)
    color = person_color(decision, status)
    small = max(x2 - x1, y2 - y1) < 40
    if face.skip_reason:
        cv2.rectangle(image, (x1, y1), (x2, y2), SKIPPED, 1, cv2.LINE_AA)
        cv2.rectangle(image, (x1 + 1, y1 + 1), (x2 - 1, y2 - 1), color, 1, cv2.LINE_AA)
    else:
        cv2.rectangle(image, (x1, y1), (x2, y2), color, 1 if small else 2, cv2.LINE_AA)
    text = person_text(track_id, decision, balance, status)
    if face.skip_reason:
        text += f" ({face.skip_reason.replace('_', ' ')})"
    put_label(image, text, x1, y1 - 1, color, scale=0.35 if small else 0.45)
    if landmarks and face.landmarks is not None:
        for px, py in face.landmarks:
            cv2.circle(image, (int(px), int(py)), 1, (255, 255, 0), -1)


def stats_lines(stats: dict) -> list[str]:
    """The panel text from a statistics snapshot (facemask.stats counters)."""
    pct = stats.get("pct_masked")
    return [
        f"people {stats.get('people', 0)}   in view {stats.get('in_view', 0)}",
        f"masked {stats.get('masked', 0)}   unmasked {stats.get('unmasked', 0)}"
        + (f" (incorrect {stats['mask_incorrect']})" if stats.get("mask_incorrect") else ""),
        f"undecided {stats.get('undecided', 0)}   static {stats.get('static_faces', 0)}",
        "masked " + ("--" if pct is None else f"{pct:.0f}%") + " of decided",
    ]


@lru_cache(maxsize=64)
def _panel_text(lines: tuple[str, ...], scale: float, thick: int) -> np.ndarray:
    """The panel's text as a mask, rendered once per distinct text (the counters change rarely,
    anti-aliased text on every frame would not)."""
    sizes = [cv2.getTextSize(t, FONT, scale, thick)[0] for t in lines]
    line_h = max(s[1] for s in sizes) + int(10 * scale) + 2
    mask = np.zeros((line_h * len(lines) + 10, max(s[0] for s in sizes) + 16), np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(mask, text, (8, (i + 1) * line_h), FONT, scale, (255,), thick, cv2.LINE_AA)
    return mask


def draw_stats_panel(image: np.ndarray, stats: dict, origin: tuple[int, int] = (8, 8)) -> np.ndarray:
    """A dark translucent panel with the people counters, top-left, sized to the frame."""
    h, w = image.shape[:2]
    scale = round(min(max(w / 1600.0, 0.4), 1.0), 2)
    text = _panel_text(tuple(stats_lines(stats)), scale, 1 if scale < 0.7 else 2)
    x, y = origin
    ph, pw = min(text.shape[0], h - y), min(text.shape[1], w - x)
    if ph <= 0 or pw <= 0:
        return image
    roi = image[y:y + ph, x:x + pw]
    cv2.convertScaleAbs(roi, roi, alpha=0.35)  # darken the background in place
    cv2.max(roi, cv2.cvtColor(text[:ph, :pw], cv2.COLOR_GRAY2BGR), roi)  # white, anti-aliased text
    return image
