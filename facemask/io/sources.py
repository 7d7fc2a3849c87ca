"""Open what the user points at: a video file, an RTSP/HTTP URL, a webcam index, an image folder."""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import InputError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def is_stream(spec: str) -> bool:
    return "://" in spec


@dataclass
class VideoInfo:
    fps: float
    width: int
    height: int
    frames: int | None  # None for live sources or when the container does not say


class VideoSource:
    """Frames of a video file, stream or webcam, with the first frame checked at open.

    A missing, empty or corrupt file raises InputError naming the file and the reason.
    """

    def __init__(self, spec: str | int):
        self.spec = spec
        text = str(spec)
        if isinstance(spec, int) or text.isdigit():
            self.cap = cv2.VideoCapture(int(text))
            self.live = True
        else:
            if not is_stream(text):
                path = Path(text)
                if not path.exists():
                    raise InputError(f"{text}: no such file")
                if path.is_dir():
                    raise InputError(f"{text}: is a folder, not a video")
                if path.stat().st_size == 0:
                    raise InputError(f"{text}: empty file")
            self.cap = cv2.VideoCapture(text)
            self.live = is_stream(text)
        if not self.cap.isOpened():
            raise InputError(f"{text}: cannot open as video (corrupt, unsupported or unreachable)")
        ok, first = self.cap.read()
        if not ok or first is None:
            self.cap.release()
            raise InputError(f"{text}: no frame could be decoded (corrupt or empty video)")
        self._first: np.ndarray | None = first
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        count = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.info = VideoInfo(
            fps=fps if 0 < fps < 1000 else 25.0,
            width=first.shape[1],
            height=first.shape[0],
            frames=count if count > 0 and not self.live else None,
        )

    def __iter__(self) -> Iterator[np.ndarray]:
        """Frames in order. Files are decoded a few frames ahead on a thread (OpenCV releases the
        GIL while decoding, so decoding overlaps detection on another core)."""
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        if self.live:  # a live source is read by the caller's own capture loop, never ahead
            while True:
                ok, frame = self.cap.read()
                if not ok or frame is None:
                    return
                yield frame
        frames: queue.Queue = queue.Queue(maxsize=4)
        stop = threading.Event()

        def decode() -> None:
            while not stop.is_set():
                ok, frame = self.cap.read()
                item = frame if ok and frame is not None else None
                while not stop.is_set():
                    try:
                        frames.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if item is None:
                    return

        worker = threading.Thread(target=decode, name="facemask-decode", daemon=True)
        worker.start()
        try:
            while (frame := frames.get()) is not None:
                yield frame
        finally:
            stop.set()
            worker.join()

    def close(self) -> None:
        self.cap.release()

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def list_images(folder: str | Path) -> list[Path]:
    """Every regular, non-hidden file of the folder, sorted; non-images fail later, one line each."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def read_image(path: Path) -> np.ndarray:
    """BGR image, or InputError with the reason."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError(f"{path.name}: not an image file (suffix {path.suffix or 'none'})")
    data = np.fromfile(str(path), dtype=np.uint8)
    if data.size == 0:
        raise InputError(f"{path.name}: empty file")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path.name}: cannot decode image (corrupt or unsupported)")
    return image
