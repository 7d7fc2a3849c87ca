"""A local camera by index (``0``, ``1`` ...)."""

from __future__ import annotations

from .base import register
from .stream import LiveCaptureSource


@register("webcam")
class WebcamSource(LiveCaptureSource):
    def __init__(self, spec: str | int, **options: object):
        super().__init__(int(spec), open_timeout_s=None)
