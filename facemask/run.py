"""The one frame loop: ``Runner(source, session, sinks).run()``.

Every mode is this loop with other parts: the batch commands (a file or an image folder, every
frame, sinks that write files), each web camera (a live source, only the newest frame, sinks that
publish to the page and the store), ``bench``, ``collect`` and the broker worker.

* a :class:`~facemask.io.sources.base.Source` yields timestamped :class:`~facemask.types.Frame` s;
* a :class:`Session` turns each into a :class:`~facemask.types.FrameResult` and typed
  :class:`~facemask.types.Event` s (:class:`facemask.video.VideoSession`, :class:`ImageSession`);
* each :class:`~facemask.io.sinks.base.Sink` gets every frame and event; on a normal end the
  runner closes them, on an error or an interruption it aborts them (no half-written file stays).

Live (``live=True``), a capture thread reads the source at its own pace and keeps only the
newest frame: when processing falls behind, frames are skipped, and the skipped time is in the
next frame's timestamp (the tracker and the detection schedule read time, not frame counts).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Protocol

import numpy as np

from .io.sinks.base import FrameOutput, Sink
from .io.sources.base import SourceBase
from .types import Event, Frame, FrameResult

if TYPE_CHECKING:
    from .config import Config
    from .stats import PeopleStats

log = logging.getLogger("facemask")


class Session(Protocol):
    def process(self, frame: Frame) -> FrameResult:
        ...

    def draw(self, image: np.ndarray, result: FrameResult) -> np.ndarray:
        """Annotate ``image`` in place and return it."""
        ...

    def pop_events(self) -> list[Event]:
        ...

    def finish(self) -> None:
        """The source ended: end what is open (its events come from the next pop_events)."""
        ...


class CountingSession(Session, Protocol):
    """A session that follows and counts people (:class:`facemask.video.VideoSession`): what
    the operator sinks read besides frames and events (the web stream, MQTT, line crossings)."""

    cfg: Config
    stats: PeopleStats

    def summary(self) -> dict:
        """People-level counters (empty when tracking is off)."""
        ...

    def line_counts(self) -> dict | None:
        """Crossings of the counting line; None without one."""
        ...


@dataclass
class RunReport:
    frames_read: int = 0  # frames the source delivered to the loop (live: captured)
    frames_processed: int = 0
    frames_skipped: int = 0  # live: captured frames replaced by a newer one before processing
    failed: list[str] = field(default_factory=list)  # frames (images) that failed, with the reason
    elapsed_s: float = 0.0
    waited_s: float = 0.0  # live: time the loop waited for a newer frame (the source's pace, not work)
    completed: bool = False  # the source ended (not stopped, not interrupted)

    @property
    def fps(self) -> float:
        return self.frames_processed / self.elapsed_s if self.elapsed_s > 0 else 0.0


class LatestFrames:
    """Reads a source on a thread and hands out only the newest frame (live sources).

    Iterating blocks until a frame newer than the last one handed out arrives; it ends when the
    source ends (or fails: the exception is raised to the consumer) or ``stop`` is set.
    """

    def __init__(self, source: Iterable[Frame], stop: threading.Event):
        self._source, self._stop = source, stop
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._done = False
        self._error: BaseException | None = None
        self.captured = 0
        self.skipped = 0
        self._thread = threading.Thread(target=self._capture, name="facemask-capture", daemon=True)

    def _capture(self) -> None:
        try:
            for frame in self._source:
                with self._cond:
                    if self._frame is not None:
                        self.skipped += 1
                        # a cut in the skipped frame is still a cut before this one
                        frame.cut = frame.cut or self._frame.cut
                    self._frame = frame
                    self.captured += 1
                    self._cond.notify_all()
                if self._stop.is_set():
                    break
        except BaseException as exc:  # an OSError in capture must reach the camera, not vanish
            with self._cond:
                self._error = exc
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def __iter__(self) -> Iterator[Frame]:
        self._thread.start()
        waited = 0.0
        while True:
            with self._cond:
                t0 = time.perf_counter()
                self._cond.wait_for(lambda: self._frame is not None or self._done or self._stop.is_set(), 0.5)
                waited += time.perf_counter() - t0
                if self._stop.is_set():
                    return
                frame, self._frame = self._frame, None
                if frame is None:
                    if self._done:
                        if self._error is not None:
                            raise self._error
                        return
                    continue
            frame.waited_s, waited = waited, 0.0
            yield frame

    def join(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)


class Runner:
    """Source -> session -> sinks, once per frame; see the module docstring.

    ``on_frame_error``: called with the frame and the exception when processing or a sink fails
    on one frame; the loop then goes on (an image folder: one image's failure; a camera: shown,
    not fatal). Without it the error ends the run (a video file: every sink is aborted).
    ``max_frames``: stop after that many processed frames. ``on_progress(frames_done)`` after each
    frame. ``stop``: set it from another thread to end the run (sinks are closed, not aborted).
    """

    def __init__(self, source: SourceBase, session: Session, sinks: list[Sink], *, live: bool = False,
                 stop: threading.Event | None = None, max_frames: int | None = None,
                 on_frame_error: Callable[[Frame, Exception], None] | None = None,
                 on_progress: Callable[[int], None] | None = None):
        self.source, self.session, self.sinks = source, session, sinks
        self.live = live
        self.stop = stop if stop is not None else threading.Event()
        self.max_frames = max_frames
        self.on_frame_error = on_frame_error
        self.on_progress = on_progress
        self.report = RunReport()

    def _frames(self) -> tuple[Iterator[Frame], LatestFrames | None]:
        if self.live:
            latest = LatestFrames(self.source, self.stop)
            return iter(latest), latest
        return iter(self.source), None

    def _emit_events(self) -> None:
        for event in self.session.pop_events():
            for sink in self.sinks:
                sink.on_event(event)

    def _step(self, frame: Frame) -> None:
        result = self.session.process(frame)
        out = FrameOutput(frame, result, self.session.draw)
        for sink in self.sinks:
            sink.on_frame(out)
        self._emit_events()

    def run(self) -> RunReport:
        rep = self.report
        start = time.perf_counter()
        frames, latest = self._frames()
        try:
            for frame in frames:
                if self.stop.is_set():
                    break
                if not self.live:
                    rep.frames_read += 1
                rep.waited_s += frame.waited_s
                try:
                    self._step(frame)
                except Exception as exc:
                    if self.on_frame_error is None:
                        raise
                    rep.failed.append(f"{frame.name or frame.index}: {exc}")
                    self.on_frame_error(frame, exc)
                else:
                    rep.frames_processed += 1
                if self.on_progress is not None:
                    self.on_progress(rep.frames_processed + len(rep.failed))
                if self.max_frames is not None and rep.frames_processed >= self.max_frames:
                    break
            else:
                rep.completed = not self.stop.is_set()
            self.session.finish()
            self._emit_events()
        except BaseException:
            self._abort()
            raise
        finally:
            if latest is not None:
                self.stop.set()
                latest.join()
                rep.frames_read, rep.frames_skipped = latest.captured, latest.skipped
            rep.elapsed_s = time.perf_counter() - start
        self._close()
        return rep

    def _abort(self) -> None:
        for sink in self.sinks:
            try:
                sink.abort()
            except Exception:  # abort is best effort: the first error is the one to report
                log.exception("aborting %s failed", type(sink).__name__)

    def _close(self) -> None:
        closed = 0
        try:
            for sink in self.sinks:
                sink.close()
                closed += 1
        except BaseException:
            for sink in self.sinks[closed + 1:]:
                try:
                    sink.abort()
                except Exception:
                    log.exception("aborting %s failed", type(sink).__name__)
            raise


class ImageSession:
    """The session of an image folder: each frame on its own, no tracking, no events."""

    def __init__(self, pipeline: "FramePipelineLike", draw_landmarks: bool = False):
        self.pipeline = pipeline
        self.draw_landmarks = draw_landmarks

    def process(self, frame: Frame) -> FrameResult:
        return self.pipeline.process(frame.image, image=frame.name)

    def draw(self, image: np.ndarray, result: FrameResult) -> np.ndarray:
        from .annotate import draw_result
        from .privacy import hide_faces

        hide_faces(image, result.faces, self.pipeline.cfg.privacy)  # before boxes and labels
        return draw_result(image, result, self.draw_landmarks)

    def pop_events(self) -> list[Event]:
        return []

    def finish(self) -> None:
        pass


class FramePipelineLike(Protocol):
    cfg: Config

    def process(self, frame: np.ndarray, *, image: str | None = None) -> FrameResult:
        ...
