"""Zones and a counting line, per camera (``zones`` in the config).

* **areas**: polygons where faces are classified; a face whose centre lies in none of them is
  still tracked and drawn (darker), but not classified (``skip_reason`` ``outside_area``).
* **line**: a segment with a direction; a tracked face whose centre crosses it from its
  ``out`` side to its ``in`` side counts one ``in`` (and the other way one ``out``), for the
  camera and for the area the face is in when it crosses.

Coordinates of a polygon or of the line that are all <= 1 are fractions of the frame, else pixels.
"""

from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np

from .config import CameraZones
from .types import Face

NO_ZONE = "-"  # crossings outside every area (or with no areas)


def to_pixels(points: list[list[float]], width: int, height: int) -> np.ndarray:
    pts = np.asarray(points, np.float64)
    if np.all(pts <= 1.0):
        pts = pts * [width, height]
    return pts


def side(a: np.ndarray, b: np.ndarray, p: tuple[float, float]) -> float:
    """> 0: p is right of a->b in image coordinates (y down), < 0 left, 0 on the line."""
    return float((b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]))


def segments_cross(p: tuple[float, float], q: tuple[float, float], a: np.ndarray, b: np.ndarray) -> bool:
    """Does the move p -> q cross the segment a-b (touching the line counts on the side reached)?"""
    d1, d2 = side(a, b, p), side(a, b, q)
    if (d1 > 0) == (d2 > 0) or d1 == 0:
        return False
    d3 = float((q[0] - p[0]) * (a[1] - p[1]) - (q[1] - p[1]) * (a[0] - p[0]))
    d4 = float((q[0] - p[0]) * (b[1] - p[1]) - (q[1] - p[1]) * (b[0] - p[0]))
    return (d3 > 0) != (d4 > 0) or d3 == 0 or d4 == 0


class Zones:
    """One camera's areas and line, in the pixels of its frames (set on the first frame)."""

    def __init__(self, cfg: CameraZones, width: int, height: int):
        self.cfg = cfg
        self.size = (width, height)
        self.areas = [(z.name, to_pixels(z.points, width, height)) for z in cfg.areas]
        self._contours = [(name, pts.astype(np.float32).reshape(-1, 1, 2)) for name, pts in self.areas]
        self.line = to_pixels(cfg.line.points, width, height) if cfg.line is not None else None
        self.in_right = cfg.line is not None and cfg.line.in_side == "right"

    @property
    def has_areas(self) -> bool:
        return bool(self.areas)

    def zone_of(self, point: tuple[float, float]) -> str | None:
        """The first area holding ``point``; None outside every area."""
        for name, contour in self._contours:
            if cv2.pointPolygonTest(contour, (float(point[0]), float(point[1])), False) >= 0:
                return name
        return None

    def inside(self, point: tuple[float, float]) -> bool:
        return not self.areas or self.zone_of(point) is not None


class LineCounter:
    """Crossings of the counting line by tracked faces, for the camera and per area."""

    def __init__(self, zones: Zones):
        self.zones = zones
        self._last: dict[int, tuple[float, float]] = {}  # track id -> latest centre
        self.counts = {"in": 0, "out": 0}
        self.by_zone: dict[str, dict[str, int]] = {}
        self.crossings: list[dict] = []  # (bounded) the latest crossings: track, direction, zone, time

    def update(self, faces: Iterable[Face], time_s: float, active: set[int] | None = None) -> list[dict]:
        """Feed one frame's tracked faces; return the crossings on it. ``active``: the track ids
        still followed (the others are forgotten)."""
        line = self.zones.line
        new: list[dict] = []
        seen: set[int] = set()
        for face in faces:
            if face.track_id is None or face.track_id in seen:
                continue
            seen.add(face.track_id)
            centre = face.center
            prev = self._last.get(face.track_id)
            self._last[face.track_id] = centre
            if line is None or prev is None or not segments_cross(prev, centre, line[0], line[1]):
                continue
            right = side(line[0], line[1], centre) > 0
            direction = "in" if right == self.zones.in_right else "out"
            zone = self.zones.zone_of(centre) or NO_ZONE
            self.counts[direction] += 1
            self.by_zone.setdefault(zone, {"in": 0, "out": 0})[direction] += 1
            new.append({"track_id": face.track_id, "direction": direction, "zone": zone, "time_s": round(time_s, 3)})
        if active is not None:
            for tid in [t for t in self._last if t not in active]:
                del self._last[tid]
        self.crossings = (self.crossings + new)[-100:]
        return new

    def snapshot(self) -> dict:
        return {**self.counts, "zones": {k: dict(v) for k, v in self.by_zone.items()}}


# ---------------------------------------------------------------- drawing

def shade_outside_areas(image: np.ndarray, zones: Zones, factor: float = 0.5) -> None:
    """Darken everything outside the areas and outline each, with its name."""
    if not zones.areas:
        return
    h, w = image.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    polys = [np.round(pts).astype(np.int32) for _, pts in zones.areas]
    cv2.fillPoly(mask, polys, (255,))
    outside = mask == 0
    image[outside] = (image[outside] * factor).astype(np.uint8)
    for (name, _), poly in zip(zones.areas, polys, strict=True):
        cv2.polylines(image, [poly], True, (255, 255, 255), 1, cv2.LINE_AA)
        x, y = poly[:, 0].min(), poly[:, 1].min()
        cv2.putText(image, name, (int(x) + 4, int(y) + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)


def draw_line(image: np.ndarray, zones: Zones, counts: dict) -> None:
    """The counting line with an arrow towards its ``in`` side and the in / out counts."""
    if zones.line is None:
        return
    a, b = (tuple(int(round(v)) for v in p) for p in zones.line)
    cv2.line(image, a, b, (255, 255, 0), 2, cv2.LINE_AA)
    mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
    dx, dy = b[0] - a[0], b[1] - a[1]
    norm = max((dx * dx + dy * dy) ** 0.5, 1e-6)
    nx, ny = -dy / norm, dx / norm  # points right of a->b in image coordinates
    if not zones.in_right:
        nx, ny = -nx, -ny
    tip = (int(mid[0] + nx * 25), int(mid[1] + ny * 25))
    cv2.arrowedLine(image, (int(mid[0]), int(mid[1])), tip, (255, 255, 0), 2, cv2.LINE_AA, tipLength=0.4)
    text = f"in {counts.get('in', 0)}  out {counts.get('out', 0)}"
    cv2.putText(image, text, (tip[0] + 6, tip[1] + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, (tip[0] + 6, tip[1] + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 0), 1, cv2.LINE_AA)
