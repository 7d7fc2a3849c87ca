"""One camera of the web application: a capture thread and a processing thread.

The capture thread reads the source at its own pace (a video file at its frame rate, a stream
or webcam as fast as it delivers) and keeps only the newest frame, so a slow detector drops
frames instead of building up lag. The processing thread runs the video session (detection,
classification, tracking, votes) on the newest frame, draws it, encodes it to JPEG once and
publishes it for every viewer. A source that fails or drops is reopened with doubling backoff
while the other cameras go on.
"""

from __future__ import annotations

import collections
import logging
import re
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

import cv2
import numpy as np

from ..config import CameraConfig, Config
from ..errors import FacemaskError
from ..io.sources import SourceBase, open_source
from ..types import MASK, UNKNOWN
from .storage import COUNTERS, Store

log = logging.getLogger("facemask.web")

T = TypeVar("T")

# States shown on the page.
STARTING, RUNNING, RECONNECTING, ERROR, ENDED, STOPPED = "starting", "running", "reconnecting", "error", "ended", "stopped"


class Latest(Generic[T]):
    """A one-item mailbox: ``put`` replaces the item, readers wait for one newer than theirs."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._seq = 0

    def put(self, item: T) -> None:
        with self._cond:
            self._item = item
            self._seq += 1
            self._cond.notify_all()

    def newer(self, seq: int, timeout: float) -> tuple[int, T] | None:
        """(sequence number, item) once the item is newer than ``seq``; None on timeout."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._seq > seq, timeout):
                return None
            return self._seq, self._item  # type: ignore[return-value]

    def peek(self) -> tuple[int, T | None]:
        with self._cond:
            return self._seq, self._item


class Rate:
    """Events per second over the last few seconds (0 when nothing happened lately)."""

    def __init__(self, window_s: float = 3.0) -> None:
        self.window_s = window_s
        self._times: collections.deque[float] = collections.deque(maxlen=256)

    def tick(self, now: float | None = None) -> None:
        self._times.append(time.monotonic() if now is None else now)

    def value(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        times = [t for t in list(self._times) if now - t <= self.window_s]
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / max(times[-1] - times[0], 1e-6)


def redact_source(source: str | int) -> str:
    """A source for display: credentials in a stream URL are hidden."""
    return re.sub(r"://[^/@]*@", "://***@", str(source))


def people_counts(session: Any) -> dict[str, int] | None:
    """People counters of a video session (``snapshot()``, else ``summary()``); None without tracking."""
    snapshot = getattr(session, "snapshot", None)
    data = snapshot() if callable(snapshot) else session.summary()
    counters = data.get("counters", data) if isinstance(data, dict) else {}
    if "people" not in counters:
        return None
    return {k: int(counters.get(k) or 0) for k in COUNTERS}


def pct_masked(counters: dict[str, int]) -> float | None:
    """% of decided people wearing a mask ("unmasked" includes masks worn incorrectly)."""
    decided = counters["masked"] + counters["unmasked"]
    return round(100.0 * counters["masked"] / decided, 1) if decided else None


def _wrap(text: str, max_px: int, scale: float) -> list[str]:
    """Greedy word wrap for cv2.putText (long paths break at '/' too)."""
    words = re.split(r"(?<=[ /])", text)
    lines, line = [], ""
    for word in words:
        if line and cv2.getTextSize(line + word, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] > max_px:
            lines.append(line.rstrip())
            line = ""
        line += word
    return lines + [line.rstrip()] if line else lines


def placeholder_jpeg(title: str, message: str, size: tuple[int, int] = (640, 360)) -> bytes:
    """A grey frame with the camera's state and message, streamed while it has no picture."""
    w, h = size
    image = np.full((h, w, 3), 48, np.uint8)
    scale = max(w / 900, 0.5)
    rows = [(title, 1.3 * scale, (235, 235, 235))]
    rows += [(line, 0.75 * scale, (175, 175, 175)) for line in _wrap(message, w - 40, 0.75 * scale)[:6]]
    heights = [cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, s, 2)[0][1] + int(18 * scale) for t, s, _ in rows]
    y = (h - sum(heights)) // 2
    for (text, s, color), dy in zip(rows, heights):
        tw = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, s, 2)[0][0]
        y += dy
        cv2.putText(image, text, (max((w - tw) // 2, 8), y), cv2.FONT_HERSHEY_SIMPLEX, s, color, 2 if s > scale else 1, cv2.LINE_AA)
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


@dataclass
class Frame:
    index: int  # frame number since the camera started (keeps increasing over loops and reconnects)
    image: np.ndarray
    fps: float  # the source's frame rate


class CameraWorker:
    """Owns one source, one video session and the latest JPEG of the camera."""

    def __init__(self, cam: CameraConfig, cfg: Config, store: Store, session_factory: Callable[[float], Any],
                 on_result: Callable[[str, Any], None] | None = None):
        self.cam = cam
        self.name = cam.name
        self.cfg = cfg
        self.store = store
        self._session_factory = session_factory  # fps -> VideoSession
        self._on_result = on_result  # e.g. latency metrics
        self.frames: Latest[Frame] = Latest()
        self.jpeg: Latest[bytes] = Latest()
        self.capture_rate, self.process_rate = Rate(), Rate()
        self.frames_processed = 0
        self.reconnects = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._state, self._message = STARTING, ""
        self._process_error = ""  # last processing failure, cleared by the next good frame
        self._counts_at = 0.0
        self._frame_size = (640, 360)
        self._in_view = {"faces": 0, "masked": 0, "unmasked": 0}
        self._timings: dict[str, float] = {}
        self._session_counts: dict[str, int] | None = None
        self._base = self._resume_counts()
        self._threads = [
            threading.Thread(target=self._capture_loop, name=f"capture-{self.name}", daemon=True),
            threading.Thread(target=self._process_loop, name=f"process-{self.name}", daemon=True),
        ]
        self._publish_placeholder()

    # ------------------------------------------------------------ life cycle

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop both threads and store the final counters."""
        self._stop.set()
        for t in self._threads:
            if t.is_alive():
                t.join(timeout)
        if self._session_counts is not None:
            self.store.add_sample(self.name, self.totals())
        self._set_state(STOPPED, "")

    # ------------------------------------------------------------ state for the API

    def _set_state(self, state: str, message: str) -> None:
        with self._lock:
            changed = (state, message) != (self._state, self._message)
            self._state, self._message = state, message
        if changed and state != RUNNING:
            self._publish_placeholder()

    def _publish_placeholder(self) -> None:
        with self._lock:
            state, message = self._state, self._message
        self.jpeg.put(placeholder_jpeg(f"{self.name}: {state}", message, self._frame_size))

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    def _resume_counts(self) -> dict[str, int]:
        """People counted by earlier runs; this run's counts are added to them."""
        last = self.store.last_counters(self.name) or {}
        return {k: int(last.get(k, 0)) for k in COUNTERS}

    def totals(self) -> dict[str, int]:
        session = self._session_counts or {}
        return {k: self._base[k] + session.get(k, 0) for k in COUNTERS}

    def info(self) -> dict[str, Any]:
        with self._lock:
            state, message = self._state, self._message
            if self._process_error and state == RUNNING:
                state, message = ERROR, self._process_error
            in_view, timings = dict(self._in_view), dict(self._timings)
            tracking = self._session_counts is not None
        totals = self.totals()
        return {
            "name": self.name,
            "source": redact_source(self.cam.source),
            "state": state,
            "message": message,
            "capture_fps": round(self.capture_rate.value(), 2),
            "process_fps": round(self.process_rate.value(), 2),
            "frames_processed": self.frames_processed,
            "frames_streamed": self.jpeg.peek()[0],
            "reconnects": self.reconnects,
            "latency_ms": {k: round(v, 1) for k, v in timings.items()},
            "in_view": in_view,
            "tracking": tracking,
            "counters": {**totals, "pct_masked": pct_masked(totals)},
        }

    # ------------------------------------------------------------ capture

    def _open(self) -> SourceBase:
        return open_source(self.cam.source)

    def _capture_loop(self) -> None:
        index, failures, opened_once = 0, 0, False
        while not self._stop.is_set():
            try:
                source = self._open()
            except FacemaskError as exc:
                failures += 1
                delay = self._backoff(failures)
                self._set_state(RECONNECTING if opened_once else ERROR, f"{exc} (retrying in {delay:g} s)")
                log.warning("camera %s: %s (retrying in %g s)", self.name, exc, delay)
                self._stop.wait(delay)
                continue
            if opened_once:
                self.reconnects += 1
            opened_once, started = True, time.monotonic()
            self._frame_size = (source.info.width, source.info.height)
            self._set_state(RUNNING, "")
            index = self._pump(source, index)
            source.close()
            if self._stop.is_set():
                break
            if time.monotonic() - started > 10.0:
                failures = 0  # it ran for a while: start the backoff again from one second
            if not source.info.live and self.cam.loop:
                continue  # a video file played to its end: play it again
            if not source.info.live:
                self._set_state(ENDED, "end of the video")
                return
            failures += 1
            delay = self._backoff(failures)
            self._set_state(RECONNECTING, f"stream dropped (reconnecting in {delay:g} s)")
            log.warning("camera %s: stream dropped, reconnecting in %g s", self.name, delay)
            self._stop.wait(delay)

    def _backoff(self, failures: int) -> float:
        """1, 2, 4 ... seconds, up to ``app.reconnect_max_s``."""
        return min(2.0 ** (failures - 1), self.cfg.app.reconnect_max_s)

    def _pump(self, source: SourceBase, index: int) -> int:
        """Read frames until the source ends or the worker stops; files are paced at their fps."""
        fps = source.info.fps
        period = 0.0 if source.info.live else 1.0 / fps
        due = time.monotonic()
        for item in source:
            image = item.image
            if self._stop.is_set():
                break
            if period:
                due += period
                late = time.monotonic() - due
                if late < 0:
                    self._stop.wait(-late)
                elif late > 1.0:
                    due = time.monotonic()  # fell far behind (paused machine): do not rush to catch up
            self.frames.put(Frame(index, image, fps))
            self.capture_rate.tick()
            index += 1
        return index

    # ------------------------------------------------------------ processing

    def _process_loop(self) -> None:
        seq, session, next_sample = 0, None, time.monotonic() + self.cfg.app.sample_interval_s
        min_period = 1.0 / self.cam.max_fps if self.cam.max_fps > 0 else 0.0
        while not self._stop.is_set():
            got = self.frames.newer(seq, timeout=0.5)
            if got is None:
                continue
            seq, frame = got
            started = time.monotonic()
            try:
                if session is None:
                    session = self._session_factory(frame.fps)
                self._process(session, frame)
            except Exception as exc:  # a bug must not kill the camera: show it and go on
                if not self._process_error:
                    log.error("camera %s: processing failed: %s", self.name, traceback.format_exc(limit=5))
                with self._lock:
                    self._process_error = f"processing failed: {exc}"
            now = time.monotonic()
            if now >= next_sample and self._session_counts is not None:
                self.store.add_sample(self.name, self.totals())
                next_sample = now + self.cfg.app.sample_interval_s
            if min_period:
                self._stop.wait(max(min_period - (now - started), 0.0))
        if session is not None:
            finish = getattr(session, "finish", None)  # end the open tracks: they count as people seen
            if callable(finish):
                finish()
            self._collect(session, force=True)

    def _process(self, session: Any, frame: Frame) -> None:
        result = session.process(frame.image, frame.index)
        annotated = session.draw(frame.image, result)
        ok, buf = cv2.imencode(".jpg", annotated, [cv2.IMWRITE_JPEG_QUALITY, self.cfg.output.jpeg_quality])
        if ok:
            self.jpeg.put(buf.tobytes())
        self.frames_processed += 1
        self.process_rate.tick()
        faces = [f for f in result.faces if f.label != UNKNOWN and not f.skip_reason]
        masked = sum(f.label == MASK for f in faces)
        with self._lock:
            self._in_view = {"faces": len(result.faces), "masked": masked, "unmasked": len(faces) - masked}
            self._timings = dict(result.timings_ms)
            self._process_error = ""
        self._collect(session)
        if self._on_result is not None:
            self._on_result(self.name, result)

    def _collect(self, session: Any, force: bool = False) -> None:
        """Store the session's new events; refresh its people counters (at most twice a second:
        a snapshot is more than a page needs per frame)."""
        pop_events = getattr(session, "pop_events", None)  # not every session reports events
        events = [e.to_json() for e in pop_events()] if callable(pop_events) else []
        self.store.add_events(self.name, events)
        now = time.monotonic()
        if force or events or now - self._counts_at >= 0.5:
            counts = people_counts(session)
            self._counts_at = now
            with self._lock:
                self._session_counts = counts
