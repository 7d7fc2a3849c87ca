"""Network streams (``rtsp://``, ``http(s)://``): time from the capture clock.

Opening and reading time out (``open_timeout_s``), so a silent camera fails with one line
instead of hanging; reconnecting is the caller's business (a camera process reopens with backoff).
"""

from __future__ import annotations

import time
from typing import Iterator

import cv2
import numpy as np

from ...types import Frame
from .base import SourceBase, SourceInfo, redact, register
from .video import open_capture


class LiveCaptureSource(SourceBase):
    """Frames of a live capture (a stream or a webcam), as fast as it delivers them."""

    def __init__(self, spec: str | int, open_timeout_s: float | None = 10.0, **_: object):
        super().__init__()
        self.name = redact(spec)
        self.cap, first = open_capture(spec, self.name, open_timeout_s)
        self._first = first
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.info = SourceInfo(name=self.name, fps=fps if 0 < fps < 1000 else 25.0,
                               width=first.shape[1], height=first.shape[0], frames=None, live=True)
        self._t0 = time.monotonic()
        self._closed = False

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        image: np.ndarray | None = self._first
        while not self._closed:
            if image is None:
                ok, image = self.cap.read()
                if not ok or image is None:
                    return
            now = time.monotonic()
            yield Frame(image=image, index=index, time_s=now - self._t0, wall_time=time.time())
            index += 1
            self.report.frames_read = index
            image = None

    def close(self) -> None:
        self._closed = True
        self.cap.release()


for _scheme in ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp"):
    register(_scheme)(LiveCaptureSource)
