"""Sinks: where frames and events go (see :mod:`.base`), and atomic file writing (:mod:`.atomic`)."""

from .atomic import (
    FOURCC_BY_SUFFIX, AtomicFile, JsonlWriter, VideoWriter, check_output, partial_path, same_file, write_csv,
    write_image, write_json,
)
from .base import FrameOutput, Sink, SinkBase
from .files import AnnotatedImagesSink, AnnotatedVideoSink, EventsJsonlSink, FramesJsonlSink

__all__ = [
    "FOURCC_BY_SUFFIX", "AnnotatedImagesSink", "AnnotatedVideoSink", "AtomicFile", "EventsJsonlSink", "FrameOutput",
    "FramesJsonlSink", "JsonlWriter", "Sink", "SinkBase", "VideoWriter", "check_output", "partial_path", "same_file",
    "write_csv", "write_image", "write_json",
]
