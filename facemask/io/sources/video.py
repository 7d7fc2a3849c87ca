"""Video files: decoded a few frames ahead on a thread; optionally looped and played in real time."""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ...errors import InputError
from ...types import Frame
from .base import SourceBase, SourceInfo, register

log = logging.getLogger("facemask")

# Past this, the longest side of a frame is refused: a bogus header must not take all memory.
MAX_FRAME_PIXELS = 80_000_000


def open_capture(spec: str | int, what: str, open_timeout_s: float | None = None) -> tuple[cv2.VideoCapture, np.ndarray]:
    """A VideoCapture with its first frame read, or InputError saying why not."""
    params: list[int] = []
    if open_timeout_s is not None:
        ms = int(open_timeout_s * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
    if isinstance(spec, int):
        cap = cv2.VideoCapture(spec)
    elif params:
        cap = cv2.VideoCapture(spec, cv2.CAP_ANY, params)
    else:
        cap = cv2.VideoCapture(spec)
    if not cap.isOpened():
        cap.release()
        raise InputError(f"{what}: cannot open as video (corrupt, unsupported or unreachable)")
    try:
        ok, first = cap.read()
    except cv2.error as exc:  # pragma: no cover - depends on the backend
        ok, first = False, None
        log.debug("%s: read failed: %s", what, exc)
    if not ok or first is None:
        cap.release()
        raise InputError(f"{what}: no frame could be decoded (corrupt or empty video)")
    return cap, first


@register("file")
class VideoFileSource(SourceBase):
    """Frames of a video file, ``time_s = index / fps``.

    ``loop``: at the end, rewind and play again (the index and time keep increasing).
    ``realtime``: frames are released at the file's frame rate, as a camera would deliver them
    (the web app); otherwise as fast as they are asked for (batch commands, decoded ahead on a
    thread: OpenCV releases the GIL while decoding, so decoding overlaps detection; ``ahead=False``
    decodes on the caller's thread, for timing it).
    """

    def __init__(self, spec: str | int, loop: bool = False, realtime: bool = False, ahead: bool = True, **_: object):
        super().__init__()
        text = str(spec)
        path = Path(text)
        if not path.exists():
            raise InputError(f"{text}: no such file")
        if path.is_dir():
            raise InputError(f"{text}: is a folder, not a video")
        try:
            if path.stat().st_size == 0:
                raise InputError(f"{text}: empty file")
        except OSError as exc:
            raise InputError(f"{text}: cannot read ({exc.strerror})") from None
        self.path, self.loop, self.realtime, self.ahead = path, loop, realtime, ahead
        self.cap, first = open_capture(text, text)
        if first.shape[0] * first.shape[1] > MAX_FRAME_PIXELS:
            self.cap.release()
            raise InputError(f"{text}: frames of {first.shape[1]}x{first.shape[0]} px are too large")
        self._first: np.ndarray | None = first
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        count = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.info = SourceInfo(
            name=text, fps=fps if 0 < fps < 1000 else 25.0, width=first.shape[1], height=first.shape[0],
            frames=count if count > 0 else None, live=realtime,
        )
        self.loops = 0  # times the file was rewound
        self._stop = threading.Event()
        self._decoder: tuple[threading.Thread, threading.Event] | None = None

    def _read(self) -> tuple[np.ndarray, bool] | None:
        """The next frame, and whether the file was rewound to get it."""
        ok, frame = self.cap.read()
        if ok and frame is not None:
            return frame, False
        if not self.loop or self._stop.is_set():
            return None
        # Rewind instead of reopening: a loop is not a reconnect, and costs no open.
        if not self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0):
            return None
        ok, frame = self.cap.read()
        if not ok or frame is None:
            return None
        self.loops += 1
        return frame, True

    def _frames(self) -> Iterator[tuple[np.ndarray, bool]]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first, False
        while (item := self._read()) is not None:
            yield item

    def __iter__(self) -> Iterator[Frame]:
        images = self._ahead() if self.ahead and not self.realtime else self._frames()
        period, start = 1.0 / self.info.fps, time.monotonic()
        for index, (image, rewound) in enumerate(images):
            if self._stop.is_set():
                return
            if self.realtime:
                due = start + index * period
                late = time.monotonic() - due
                if late < 0:
                    self._stop.wait(-late)
                elif late > 1.0:  # the machine was paused: do not rush to catch up
                    start += late
            self.report.frames_read = index + 1
            yield Frame(image=image, index=index, time_s=index * period, wall_time=time.time(), cut=rewound)

    def _ahead(self) -> Iterator[tuple[np.ndarray, bool]]:
        frames: queue.Queue[tuple[np.ndarray, bool] | None] = queue.Queue(maxsize=4)
        stop = threading.Event()
        gen = self._frames()

        def decode() -> None:
            while not stop.is_set():
                item = next(gen, None)
                while not stop.is_set():
                    try:
                        frames.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if item is None:
                    return

        worker = threading.Thread(target=decode, name="facemask-decode", daemon=True)
        self._decoder = (worker, stop)
        worker.start()
        try:
            while (frame := frames.get()) is not None:
                yield frame
        finally:
            stop.set()
            worker.join()

    def truncated(self) -> str | None:
        """A warning when the file ended well before the frames its header announces."""
        expected, read = self.info.frames, self.report.frames_read
        if expected and not self.loop and read < 0.98 * expected - 1:
            return f"{self.info.name}: {read} of {expected} frames could be read (truncated or damaged file)"
        return None

    def close(self) -> None:
        self._stop.set()
        # The decode thread may be inside cap.read() (an interrupted run): releasing the capture
        # under it crashes FFmpeg, so stop it first.
        decoder = self._decoder
        if decoder is not None:
            worker, stop = decoder
            stop.set()
            worker.join(timeout=10.0)
        self.cap.release()
