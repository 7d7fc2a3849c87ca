"""File sinks of the batch commands: annotated video or images, JSON Lines of frames and events.

Each writes under a temporary name and renames on :meth:`close`; :meth:`abort` removes the
partial file.
"""

from __future__ import annotations

from pathlib import Path

from ...types import Event
from .atomic import JsonlWriter, VideoWriter, check_output, write_image
from .base import FrameOutput, SinkBase


class AnnotatedVideoSink(SinkBase):
    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], codec: str = "mp4v"):
        self.writer = VideoWriter(path, fps, size, codec)
        self.path = self.writer.path

    def on_frame(self, out: FrameOutput) -> None:
        self.writer.write(out.annotated)

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        self.writer.abort()


class AnnotatedImagesSink(SinkBase):
    """One annotated image per frame, under the frame's name in ``folder``."""

    def __init__(self, folder: str | Path, jpeg_quality: int = 90):
        self.folder = Path(folder)
        self.jpeg_quality = jpeg_quality
        self.written = 0

    def on_frame(self, out: FrameOutput) -> None:
        name = out.frame.name or f"frame_{out.frame.index:06d}.jpg"
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, out.annotated, self.jpeg_quality)
        self.written += 1

    def abort(self) -> None:
        pass  # each image was complete when renamed; they stay (the summary says so)


class FramesJsonlSink(SinkBase):
    """One JSON object per frame (``FrameResult.to_json``)."""

    def __init__(self, path: str | Path):
        self.writer = JsonlWriter(check_output(path, "JSON Lines output"))
        self.path = self.writer.path

    def on_frame(self, out: FrameOutput) -> None:
        self.writer.write(out.result.to_json())

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        self.writer.abort()


class EventsJsonlSink(SinkBase):
    """One JSON object per event (``Event.to_json``)."""

    def __init__(self, path: str | Path):
        self.writer = JsonlWriter(check_output(path, "events output"))
        self.path = self.writer.path

    def on_event(self, event: Event) -> None:
        self.writer.write(event.to_json())

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        self.writer.abort()
