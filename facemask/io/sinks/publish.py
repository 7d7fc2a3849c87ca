"""Publishing a live camera: the newest annotated JPEG, its statistics and its events, to a channel.

A :class:`Channel` is where a camera's output goes: to the web process over multiprocessing
queues (:class:`facemask.web.camera_process.QueueChannel`), or to a broker. Its contract:

* ``frame(jpeg, meta)``: newest-only, never blocks the camera (a frame the reader has not taken
  yet is replaced or dropped);
* ``events(events)``: never dropped;
* ``stats(stats)`` and ``state(state, message)``: the latest wins.

:class:`PublishSink` encodes at most ``stream_fps`` JPEGs a second, at most ``max_side`` pixels on
their longest side (encoding a 1080p frame costs several milliseconds; a viewer does not need
every processed frame at full size) and sends the camera's
statistics every ``stats_every_s``. Each JPEG carries the capture time of its frame, so the page
and ``/api/stats`` can show how far behind the camera the picture is.

Scaling and encoding (~8 ms of CPU for a 1080p frame shown at 1280 px) run on a :class:`FrameEncoder` thread,
newest frame only, so they overlap the next frame's detection instead of delaying it (OpenCV
releases the GIL while it encodes). ``watched``: when it says nobody is watching (no page has
the camera's video open), a picture is drawn and encoded only every ``idle_jpeg_s`` (the
snapshot URL and a page that opens stay recent) and the frames in between are not drawn at all.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ... import imageops
from ...types import MASK, UNKNOWN, Event
from .base import FrameOutput, SinkBase

if TYPE_CHECKING:
    from ...run import CountingSession

log = logging.getLogger("facemask")


class Channel(Protocol):
    def state(self, state: str, message: str) -> None:
        ...

    def frame(self, jpeg: bytes, meta: dict[str, Any]) -> None:
        ...

    def stats(self, stats: dict[str, Any]) -> None:
        ...

    def events(self, events: list[Event]) -> None:
        ...


class Rate:
    """Events per second over the last few seconds (0 when nothing happened lately)."""

    def __init__(self, window_s: float = 3.0) -> None:
        self.window_s = window_s
        self._times: collections.deque[float] = collections.deque(maxlen=512)

    def tick(self, now: float | None = None) -> None:
        self._times.append(time.monotonic() if now is None else now)

    def value(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        times = [t for t in self._times if now - t <= self.window_s]
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / max(times[-1] - times[0], 1e-6)


class FrameEncoder:
    """Scales and encodes pictures to JPEG on its own thread and hands them to ``channel.frame``.
    Only the newest picture waits: one submitted while the previous is still being encoded
    replaces the one not started (``replaced`` counts them); the camera never waits."""

    def __init__(self, channel: Channel, quality: int, max_side: int = 0,
                 on_sent: Callable[[dict[str, Any]], None] | None = None):
        self.channel, self.quality, self.max_side, self.on_sent = channel, quality, max_side, on_sent
        self._cond = threading.Condition()
        self._item: tuple[np.ndarray, dict[str, Any]] | None = None
        self._closing = False
        self.replaced = 0
        self.encoded = 0
        self._thread = threading.Thread(target=self._run, name="facemask-jpeg", daemon=True)
        self._thread.start()

    def submit(self, image: np.ndarray, meta: dict[str, Any]) -> None:
        with self._cond:
            if self._item is not None:
                self.replaced += 1
            self._item = (image, meta)
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._item is not None or self._closing)
                if self._item is None:
                    return  # closing, nothing left
                (image, meta), self._item = self._item, None
            try:
                data = imageops.jpeg(image, self.quality, self.max_side)
                if data is not None:
                    self.channel.frame(data, {**meta, "encoded_time": time.time()})
                    self.encoded += 1
                    if self.on_sent is not None:
                        self.on_sent(meta)
            except Exception:  # a failed encode or a closed channel must not end the thread
                log.debug("live-view picture not published", exc_info=True)

    def close(self, timeout: float = 2.0) -> None:
        """Encode what waits, then end the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)


class PublishSink(SinkBase):
    """See the module docstring. ``session`` is the camera's :class:`~facemask.video.VideoSession`
    (its people counters go with the statistics); ``run`` names the session run, so the receiver
    can tell a new run's counters from the previous one's."""

    def __init__(self, channel: Channel, session: CountingSession, *, run: str, jpeg_quality: int = 90, stream_fps: float = 10.0,
                 stats_every_s: float = 0.5, extra: Callable[[], dict[str, Any]] | None = None, max_side: int = 0,
                 watched: Callable[[], bool] | None = None, idle_jpeg_s: float = 2.0):
        self._images = session.cfg.privacy.store_images
        self.channel, self.session, self.run = channel, session, run
        self.jpeg_period = 1.0 / stream_fps if stream_fps > 0 else 0.0
        self.watched = watched  # None: always watched (every stream_fps-th picture is encoded)
        self.idle_jpeg_s = idle_jpeg_s
        # JPEGs scaled down to max_side on their longest side (0: as processed), off this thread
        self.encoder = FrameEncoder(channel, jpeg_quality, max_side, on_sent=self._sent)
        self.stats_every_s = stats_every_s
        self.extra = extra  # more fields of the statistics, read at each send (reconnects, source loops)
        self.process_rate, self.capture_rate = Rate(), Rate()
        self.frames_processed = 0
        self.frames_captured = 0  # frames of this source (frame.index + 1 of the newest)
        # time the loop waited for frames (nothing newer captured yet): a camera with time to spare
        self.wait_s = 0.0
        self._window = (time.monotonic(), 0.0)  # (start, wait_s then) of the busy_pct window
        self.process_error = ""
        self.shown_capture_time: float | None = None
        self._in_view = {"faces": 0, "masked": 0, "unmasked": 0}
        self._timings: dict[str, list[float]] = {}
        self._last_jpeg = self._last_stats = -1e9
        self._last_index = -1

    def on_frame(self, out: FrameOutput) -> None:
        now = time.monotonic()
        frame, result = out.frame, out.result
        self.frames_processed += 1
        self.process_rate.tick(now)
        for _ in range(max(frame.index - self._last_index, 1)):
            self.capture_rate.tick(now)
        self._last_index = frame.index
        self.frames_captured = frame.index + 1
        self.wait_s += frame.waited_s
        self.process_error = ""
        faces = [f for f in result.faces if f.label != UNKNOWN and not f.skip_reason]
        masked = sum(f.label == MASK for f in faces)
        self._in_view = {"faces": len(result.faces), "masked": masked, "unmasked": len(faces) - masked}
        for stage, ms in result.timings_ms.items():
            values = self._timings.setdefault(stage, [])
            if len(values) < 200:
                values.append(ms)
        period = self.jpeg_period if self.watched is None or self.watched() else max(self.jpeg_period, self.idle_jpeg_s)
        if now - self._last_jpeg >= period and self._images:  # privacy.store_images false: no picture
            self._last_jpeg = now
            self.encoder.submit(out.annotated, {"capture_time": frame.wall_time, "index": frame.index, "run": self.run})
        if now - self._last_stats >= self.stats_every_s:
            self.send_stats(now)

    def _sent(self, meta: dict[str, Any]) -> None:
        self.shown_capture_time = meta["capture_time"]

    def on_event(self, event: Event) -> None:
        self.channel.events([event])

    def failed(self, message: str) -> None:
        """A frame could not be processed (the camera goes on): shown until the next good frame."""
        self.process_error = message
        self.send_stats()

    def send_stats(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._last_stats = now
        summary = self.session.summary()
        counters = {k: int(summary.get(k) or 0) for k in ("people", "masked", "unmasked", "mask_incorrect", "undecided")} \
            if summary else None
        timings, self._timings = self._timings, {}
        # share of the time since the last statistics spent processing, not waiting for a frame
        (t0, wait0), self._window = self._window, (now, self.wait_s)
        busy = None if now - t0 <= 0 else round(100.0 * max(0.0, 1.0 - (self.wait_s - wait0) / (now - t0)), 1)
        self.channel.stats({
            "run": self.run, "time": time.time(), "counters": counters, "in_view": dict(self._in_view),
            "latency_ms": {k: v[-1] for k, v in timings.items() if v}, "timings_ms": timings,
            "frames_processed": self.frames_processed, "frames_captured": self.frames_captured,
            "frames_skipped": max(self.frames_captured - self.frames_processed, 0),
            "capture_fps": round(self.capture_rate.value(now), 2), "process_fps": round(self.process_rate.value(now), 2),
            "wait_s": round(self.wait_s, 3), "busy_pct": busy,
            "shown_capture_time": self.shown_capture_time, "process_error": self.process_error,
            "jpeg_encoded": self.encoder.encoded, "jpeg_dropped": self.encoder.replaced,
            **(self.extra() if self.extra is not None else {}),
        })

    def close(self) -> None:
        self.encoder.close()
        self.send_stats()

    def abort(self) -> None:
        self.encoder.close()
        self.send_stats()
