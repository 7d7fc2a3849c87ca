"""Sources: open anything the user points at and yield timestamped frames (see :mod:`.base`)."""

from .base import ReadReport, Source, SourceBase, SourceInfo, open_source, redact, register, registry, scheme_of
from .images import IMAGE_SUFFIXES, ImageFolderSource, list_images, read_image
from .stream import LiveCaptureSource
from .video import VideoFileSource
from .webcam import WebcamSource

__all__ = [
    "IMAGE_SUFFIXES", "ImageFolderSource", "LiveCaptureSource", "ReadReport", "Source", "SourceBase", "SourceInfo",
    "VideoFileSource", "WebcamSource", "list_images", "open_source", "read_image", "redact", "register", "registry",
    "scheme_of",
]
