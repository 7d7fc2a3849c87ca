"""One camera in its own OS process: ``run_camera(cam, cfg, channel, stop)``.

The process opens the camera's source, runs :class:`facemask.run.Runner` on it live (a capture
thread keeps only the newest frame; the skipped time is in the next frame's timestamp) with a
:class:`~facemask.video.VideoSession` and a :class:`~facemask.io.sinks.publish.PublishSink`,
and when a stream drops or cannot be opened, reopens it with doubling backoff (state
``reconnecting``; a camera that never opened is ``error``). A video file loops by rewinding
(no reopen, not a reconnect). Each open starts a new session run: its people counters are
reported with the run's id, so the receiver adds runs up.

:func:`run_camera` is the reusable part (any :class:`~facemask.io.sinks.publish.Channel`:
the web app's pipes, a broker); :func:`camera_main` is the entry point of a process spawned by
:class:`facemask.web.camera.CameraProcess`, talking to it over :class:`PipeChannel`.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, Protocol

from ..config import CameraConfig, Config, parse_config
from ..errors import FacemaskError
from ..io.sinks.base import FrameOutput, SinkBase
from ..io.sinks.publish import Channel, PublishSink
from ..io.sources import SourceBase, open_source, redact, scheme_of
from ..types import Event, new_run_id

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event as ProcessEvent

    from ..io.sinks.base import Sink
    from ..pipeline import FramePipeline

log = logging.getLogger("facemask.web")

# States of a camera (the process reports the first six; its supervisor adds restarting).
STARTING, RUNNING, RECONNECTING, ERROR, ENDED, STOPPED = "starting", "running", "reconnecting", "error", "ended", "stopped"
RESTARTING = "restarting"

# A live camera's ended people go to the store as track_ended events: keep few rows in memory.
LIVE_MAX_ENDED_ROWS = 1000
LIVE_MAX_INTERVALS = 2000


def camera_threads(cfg: Config, cameras: int) -> int:
    """Inference threads of each of ``cameras`` camera processes (``app.camera_threads``)."""
    if cfg.app.camera_threads:
        return cfg.app.camera_threads
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(cameras, 1))


def _set_threads(detector: dict[str, Any], threads: int) -> None:
    if "num_threads" in detector:
        detector["num_threads"] = threads
    for member in detector.get("detectors") or []:  # fusion
        _set_threads(member, threads)


def live_config(cfg: Config, threads: int | None = None) -> Config:
    """The config a camera process runs with: memory bounds of a process that runs for months,
    and ``threads`` inference threads (detector and classifier; None: as configured)."""
    data = cfg.model_dump(mode="json")
    data["stats"]["max_ended_rows"] = min(cfg.stats.max_ended_rows, LIVE_MAX_ENDED_ROWS)
    data["stats"]["max_intervals"] = min(cfg.stats.max_intervals, LIVE_MAX_INTERVALS)
    if threads is not None:
        _set_threads(data["detector"], threads)
        data["classifier"]["num_threads"] = threads
    return parse_config(data, "app")


def open_camera_source(cam: CameraConfig) -> SourceBase:
    """A file plays at its own frame rate (looped by rewinding when ``cam.loop``); a stream opens
    with ``cam.open_timeout_s``. Any failure is a FacemaskError with one line (an over-long
    path, an unreadable file, an unreachable host)."""
    spec = cam.source
    try:
        if scheme_of(spec) == "file":
            return open_source(spec, loop=cam.loop, realtime=True)
        return open_source(spec, open_timeout_s=cam.open_timeout_s)
    except FacemaskError:
        raise
    except OSError as exc:  # ENAMETOOLONG, EACCES ... from the path checks
        raise FacemaskError(f"{redact(spec)}: cannot open ({exc.strerror or exc})") from None


class _Pace(SinkBase):
    """``camera.max_fps``: waits after each frame so that at most that many are processed a second."""

    def __init__(self, max_fps: float, stop: threading.Event):
        self.period, self.stop = 1.0 / max_fps, stop
        self._last = 0.0

    def on_frame(self, out: FrameOutput) -> None:
        now = time.monotonic()
        wait = self._last + self.period - now
        if wait > 0:
            self.stop.wait(wait)
        self._last = time.monotonic()


def _backoff(failures: int, max_s: float) -> float:
    return min(2.0 ** (failures - 1), max_s)


def run_camera(cam: CameraConfig, cfg: Config, channel: Channel, stop: threading.Event,
               pipeline: FramePipeline | None = None, sinks: list[Sink] | None = None,
               watched: Callable[[], bool] | None = None) -> str:
    """Run one camera until ``stop`` is set or its file ends; returns the final state.

    ``pipeline``: a :class:`~facemask.pipeline.FramePipeline` (built from ``cfg`` when None);
    ``sinks``: more sinks for every run (alerts, MQTT ...), after the publishing one;
    ``watched``: whether anyone watches the camera's video now (None: always; when nobody does,
    pictures are drawn and encoded only every few seconds).
    """
    from ..io.sinks.factory import camera_sinks
    from ..pipeline import FramePipeline, video_config
    from ..run import Runner
    from ..video import VideoSession

    cfg = live_config(cfg)
    channel.state(STARTING, "loading models")
    pipeline = pipeline if pipeline is not None else FramePipeline(video_config(cfg))
    failures, opened_once, reconnects = 0, False, 0
    while not stop.is_set():
        try:
            source = open_camera_source(cam)
        except FacemaskError as exc:
            failures += 1
            delay = _backoff(failures, cfg.app.reconnect_max_s)
            channel.state(RECONNECTING if opened_once else ERROR, f"{redact(str(exc))} (retrying in {delay:g} s)")
            log.warning("%s (retrying in %g s)", redact(str(exc)), delay)
            stop.wait(delay)
            continue
        if opened_once:
            reconnects += 1
        opened_once, started = True, time.monotonic()
        run = new_run_id()
        session = VideoSession(cfg, source.info.fps, pipeline=pipeline, camera=cam.name, run_id=run, live=True)

        def extra(src: SourceBase = source, n: int = reconnects) -> dict[str, Any]:
            return {"reconnects": n, "loops": src.loops, "source_fps": src.info.fps,
                    "frame_size": [src.info.width, src.info.height]}

        publish = PublishSink(channel, session, run=run, jpeg_quality=cfg.output.jpeg_quality, stream_fps=cam.stream_fps,
                              max_side=cam.stream_max_side, extra=extra, watched=watched)
        # MQTT, alerts, snapshots, line crossings first: an event's snapshot exists when it reaches the page
        run_sinks = [*camera_sinks(cfg, cam.name, session), publish, *(sinks or [])]
        if cam.max_fps > 0:
            run_sinks.append(_Pace(cam.max_fps, stop))
        run_stop = threading.Event()
        watcher = threading.Thread(target=lambda ev=run_stop: (stop.wait(), ev.set()), daemon=True)
        watcher.start()

        def frame_failed(frame, exc: Exception, publish: PublishSink = publish) -> None:
            if not publish.process_error:
                log.error("processing failed: %s", redact(traceback.format_exc(limit=5)))
            publish.failed(f"processing failed: {redact(str(exc))}")

        channel.state(RUNNING, "")
        runner = Runner(source, session, run_sinks, live=True, stop=run_stop, on_frame_error=frame_failed)
        ended = "stream ended"
        try:
            runner.run()
        except Exception as exc:  # an OSError in capture, a broken stream: reopen it
            ended = f"capture failed: {redact(str(exc)) or type(exc).__name__}"
            log.warning("%s", ended)
        finally:
            source.close()
            run_stop.set()
        if stop.is_set():
            break
        if time.monotonic() - started > 10.0:
            failures = 0  # it ran for a while: the backoff starts again from one second
        if scheme_of(cam.source) == "file" and ended == "stream ended":
            channel.state(ENDED, "end of the video")
            return ENDED
        failures += 1
        delay = _backoff(failures, cfg.app.reconnect_max_s)
        channel.state(RECONNECTING, f"{ended} (reconnecting in {delay:g} s)")
        log.warning("%s, reconnecting in %g s", ended, delay)
        stop.wait(delay)
    channel.state(STOPPED, "")
    return STOPPED


# ---------------------------------------------------------------------------- the spawned process


class PipeChannel:
    """The camera process's side of its two pipes to the web process. ``messages`` (state,
    statistics, events) are queued here and sent in order by a thread, nothing dropped;
    ``frames`` hold one JPEG: a new one replaces the one not sent yet. The camera never waits
    on either (a sender thread does)."""

    def __init__(self, messages: Connection, frames: Connection):
        self._messages_conn, self._frames_conn = messages, frames
        self._queue: queue.Queue[tuple | None] = queue.Queue()
        self._frame_cond = threading.Condition()
        self._frame: tuple | None = None
        self._closing = False
        self.frames_replaced = 0  # JPEGs replaced by a newer one before they were sent
        self._threads = [threading.Thread(target=self._send_messages, name="facemask-send", daemon=True),
                         threading.Thread(target=self._send_frames, name="facemask-send-frames", daemon=True)]
        for t in self._threads:
            t.start()

    def state(self, state: str, message: str) -> None:
        self._queue.put(("state", state, redact(message)))

    def frame(self, jpeg: bytes, meta: dict[str, Any]) -> None:
        with self._frame_cond:
            if self._frame is not None:
                self.frames_replaced += 1
            self._frame = (jpeg, meta)
            self._frame_cond.notify()

    def stats(self, stats: dict[str, Any]) -> None:
        self._queue.put(("stats", {**stats, "jpeg_replaced": self.frames_replaced}))

    def events(self, events: list[Event]) -> None:
        if events:
            self._queue.put(("events", list(events)))

    def _send_messages(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                self._messages_conn.send(item)
        except (OSError, EOFError):  # the web process is gone
            pass

    def _send_frames(self) -> None:
        try:
            while True:
                with self._frame_cond:
                    self._frame_cond.wait_for(lambda: self._frame is not None or self._closing)
                    if self._closing:
                        return
                    item, self._frame = self._frame, None
                self._frames_conn.send(item)
        except (OSError, EOFError):
            pass

    def close(self, timeout: float = 2.0) -> None:
        """Send what is queued (for at most ``timeout`` s), then close the pipes."""
        self._queue.put(None)
        with self._frame_cond:
            self._closing = True
            self._frame_cond.notify()
        for t in self._threads:
            t.join(timeout)
        self._messages_conn.close()
        self._frames_conn.close()


class RedactingFormatter(logging.Formatter):
    """Log lines with stream credentials removed, whatever logged them."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(prefix: str = "") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(f"%(levelname)s {prefix}%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


class SharedCount(Protocol):
    """A ``multiprocessing.Value("i")``."""

    value: int


def camera_main(cam_data: dict, cfg_data: dict, messages: Connection, frames: Connection, stop: ProcessEvent,
                viewers: SharedCount | None = None) -> None:
    """Entry point of a camera process (spawned): ``messages`` and ``frames`` are the sending
    ends of two pipes, ``stop`` a multiprocessing Event, ``viewers`` a shared integer: the video
    streams of this camera open in the web process (None: always watched)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the web process stops us
    cam = CameraConfig.model_validate(cam_data)
    setup_logging(f"camera {cam.name}: ")
    channel = PipeChannel(messages, frames)
    local_stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.5):
            if os.getppid() == 1:  # the web process is gone (killed): do not run on alone
                break
        local_stop.set()

    threading.Thread(target=watch, name="facemask-stop", daemon=True).start()
    try:
        cfg = parse_config(cfg_data, "app")
        watched = None if viewers is None else (lambda: viewers.value > 0)
        run_camera(cam, cfg, channel, local_stop, watched=watched)
    except FacemaskError as exc:  # a model that cannot load: the supervisor shows it
        channel.state(ERROR, redact(str(exc)))
        log.error("%s", redact(str(exc)))
    except Exception as exc:
        channel.state(ERROR, f"camera failed: {redact(str(exc))}")
        log.error("camera failed: %s", redact(traceback.format_exc(limit=8)))
        raise SystemExit(1) from None
    finally:
        channel.close()
