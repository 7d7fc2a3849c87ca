"""A video session: the frame pipeline over consecutive frames, plus per-video state.

Tracking, per-person voting and people statistics plug in here (see facemask.tracking).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .annotate import draw_result, shade_outside
from .config import Config
from .filters import detection_area
from .pipeline import FramePipeline
from .types import FrameResult


class VideoSession:
    def __init__(self, cfg: Config, fps: float, pipeline: FramePipeline | None = None):
        self.cfg = cfg
        self.fps = fps
        self.pipeline = pipeline if pipeline is not None else FramePipeline(cfg)

    def process(self, frame: np.ndarray, index: int) -> FrameResult:
        return self.pipeline.process(frame, frame_index=index, time_s=index / self.fps)

    def draw(self, frame: np.ndarray, result: FrameResult) -> np.ndarray:
        h, w = frame.shape[:2]
        shade_outside(frame, detection_area(self.cfg.filters.detection_area, w, h))
        return draw_result(frame, result, self.cfg.output.draw_landmarks)

    def summary(self) -> dict:
        """People-level statistics (empty until tracking is enabled)."""
        return {}

    def write_reports(self, stem: Path) -> list[Path]:
        """Write end-of-video reports next to ``stem`` (e.g. summary JSON, per-person CSV)."""
        return []
