"""One camera of the web application, seen from the web process: a supervised camera process.

Each camera runs in its own OS process (spawned; see :mod:`facemask.web.camera_process`), so N
cameras use N cores and a source that hangs while opening stalls nobody else. The web process
keeps, per camera, a :class:`CameraProcess`: a supervisor thread that starts the process,
restarts it with doubling backoff when it dies (state ``restarting``), and two reader threads:
one takes the newest JPEG (with the capture time of its frame), one takes states, statistics
and events (events go to the store, the one writer of the database).

Totals continue across restarts: the counters stored last (the previous run of the app) plus
every finished session run of every camera process plus the current run.

:func:`create_app` needs from a camera handle only: ``name``, ``state``, ``info()`` (the dict of
``/api/stats``), ``jpeg`` (a :class:`Latest` of JPEG bytes), ``watching()`` (a context held while
a video stream is open), ``totals()`` and ``tracking``; ``start()`` and ``stop()`` are for the
server.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import re
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any, ContextManager, Generic, Protocol, TypeVar

import cv2
import numpy as np

from .. import imageops
from ..config import CameraConfig, Config
from ..errors import ConfigError
from ..io.sources import redact
from .camera_process import (
    ENDED,
    ERROR,
    RECONNECTING,
    RESTARTING,
    RUNNING,
    STARTING,
    STOPPED,
    camera_main,
    camera_threads,
    live_config,
)
from .storage import COUNTERS, Store, StoreUnavailable

log = logging.getLogger("facemask.web")

T = TypeVar("T")

__all__ = [
    "ENDED",
    "ERROR",
    "RECONNECTING",
    "RESTARTING",
    "RUNNING",
    "STARTING",
    "STOPPED",
    "CameraProcess",
    "Latest",
    "pct_masked",
    "placeholder_jpeg",
    "redact_source",
]

# Fields of the camera process's statistics that add up over its session runs and restarts.
CUMULATIVE = ("frames_processed", "frames_captured", "frames_skipped")


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


class CameraHandle(Protocol):
    """What the web app reads of a camera: :class:`CameraProcess` here, a
    :class:`facemask.web.remote.RemoteCamera` for a broker worker's camera."""

    name: str
    jpeg: Latest[bytes]  # the newest picture

    @property
    def state(self) -> str: ...

    def info(self) -> dict[str, Any]:
        """The camera's entry of ``/api/stats`` (at least ``state`` and ``counters``)."""
        ...

    def watching(self) -> ContextManager[None]:
        """Held while a video stream of the camera is open."""
        ...


def redact_source(source: str | int) -> str:
    """A source for display: credentials in a stream URL are hidden."""
    return redact(source)


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
    data = imageops.jpeg(image, 80)
    assert data is not None  # a plain uint8 picture always encodes
    return data


def resume_counts(store: Store, camera: str, wait_s: float = 10.0) -> dict[str, int]:
    """The totals stored last for ``camera`` (where this run's totals start). A database that
    another process holds is waited for a little; then the app stops with one line, rather than
    starting from zero and storing lower totals over the real ones."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return store.last_counters(camera) or {}
        except StoreUnavailable as exc:
            if time.monotonic() > deadline:
                raise ConfigError(f"app.db_path {store.path}: cannot read the stored totals ({exc})") from None
            time.sleep(0.5)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        import signal

        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class CameraProcess:
    """A camera's process and its supervisor (see the module docstring)."""

    def __init__(self, cam: CameraConfig, cfg: Config, store: Store,
                 on_timings: Callable[[str, dict[str, list[float]]], None] | None = None, cameras: int = 1):
        self.cam, self.cfg, self.store = cam, cfg, store
        self.name = cam.name
        self._on_timings = on_timings  # stage -> ms of the frames since the last statistics (metrics)
        self._ctx = multiprocessing.get_context("spawn")
        self._cam_data = cam.model_dump(mode="json")
        # ``cameras``: how many camera processes share the machine (their inference threads)
        self.threads = camera_threads(cfg, cameras)
        self._cfg_data = live_config(cfg, self.threads).model_dump(mode="json")
        self.jpeg: Latest[bytes] = Latest()
        # Open video streams of this camera, shared with its process: nobody watching, it draws
        # and encodes a picture only every few seconds (the snapshot URL stays recent).
        self._viewers = self._ctx.Value("i", 0)
        self._lock = threading.Lock()
        self._state, self._message = STARTING, ""
        self._stats: dict[str, Any] = {}
        self._run: str | None = None
        self._run_counts: dict[str, int] | None = None
        self._run_cumulative = dict.fromkeys(CUMULATIVE, 0)
        self._cumulative = dict.fromkeys(CUMULATIVE, 0)
        self._proc_reconnects = 0
        self.reconnects = 0  # of the processes before this one
        self.restarts = 0
        self.events_received = 0
        self.pid: int | None = None
        self._shown: dict[str, Any] = {}
        self._frame_size = (640, 360)
        last = resume_counts(store, self.name)
        self._base = {k: int(last.get(k, 0)) for k in COUNTERS}  # earlier runs of the app, then finished runs
        self._tracking = False
        self._stop = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name=f"camera-{self.name}", daemon=True)
        self._publish_placeholder()

    # ------------------------------------------------------------ life cycle

    def start(self) -> None:
        self._supervisor.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the process to stop (it ends its tracks and sends its last counters); kill it when
        it does not within ``app.stop_timeout_s``; store the final totals."""
        self._stop.set()
        if self._supervisor.is_alive():
            self._supervisor.join((timeout or self.cfg.app.stop_timeout_s) + 3.0)
        if self._tracking:
            self.store.add_sample(self.name, self.totals())
        self._set_state(STOPPED, "")

    def _supervise(self) -> None:
        failures = 0
        while not self._stop.is_set():
            started = time.monotonic()
            code = self._run_process()
            if self._stop.is_set():
                break
            with self._lock:
                state = self._state
            if state == ENDED and code == 0:
                return  # a video file that does not loop played to its end
            if time.monotonic() - started > 30.0:
                failures = 0
            failures += 1
            self.restarts += 1
            delay = min(2.0 ** (failures - 1), self.cfg.app.reconnect_max_s)
            why = describe_exit(code)
            log.warning("camera %s: camera process %s; restarting in %g s", self.name, why, delay)
            self._set_state(RESTARTING, f"camera process {why} (restarting in {delay:g} s)")
            self._stop.wait(delay)

    def _run_process(self) -> int | None:
        """Start one camera process and wait until it ends (or the app stops): its exit code."""
        msg_recv, msg_send = self._ctx.Pipe(duplex=False)
        frame_recv, frame_send = self._ctx.Pipe(duplex=False)
        stop = self._ctx.Event()
        proc = self._ctx.Process(target=camera_main, name=f"facemask-camera-{self.name}", daemon=True,
                                 args=(self._cam_data, self._cfg_data, msg_send, frame_send, stop, self._viewers))
        proc.start()
        self.pid = proc.pid
        msg_send.close()  # the child holds the sending ends: its exit ends the readers (EOF)
        frame_send.close()
        readers = [threading.Thread(target=self._read_messages, args=(msg_recv,), daemon=True,
                                    name=f"camera-{self.name}-messages"),
                   threading.Thread(target=self._read_frames, args=(frame_recv,), daemon=True,
                                    name=f"camera-{self.name}-frames")]
        for t in readers:
            t.start()
        while proc.is_alive() and not self._stop.is_set():
            proc.join(0.25)
        if proc.is_alive():  # stopping: ask, then insist
            stop.set()
            proc.join(self.cfg.app.stop_timeout_s)
            if proc.is_alive():
                log.warning("camera %s: process did not stop in %g s; killed", self.name, self.cfg.app.stop_timeout_s)
                proc.kill()
                proc.join(2.0)
        for t in readers:
            t.join(3.0)
        msg_recv.close()
        frame_recv.close()
        with self._lock:
            self._end_run()
            self.reconnects += self._proc_reconnects
            self._proc_reconnects = 0
        self.pid = None
        code = proc.exitcode
        if code is not None:
            proc.close()
        return code

    # ------------------------------------------------------------ what the process sends

    def _read_messages(self, conn: Connection) -> None:
        while True:
            try:
                item = conn.recv()
            except (EOFError, OSError):
                return
            except Exception:  # a message cut short by a killed process
                log.warning("camera %s: unreadable message from the camera process", self.name)
                return
            kind = item[0]
            if kind == "events":
                self.events_received += len(item[1])
                self.store.add_events(item[1])
            elif kind == "stats":
                self._on_stats(item[1])
            elif kind == "state":
                self._set_state(item[1], item[2])

    def _read_frames(self, conn: Connection) -> None:
        while True:
            try:
                jpeg, meta = conn.recv()
            except (EOFError, OSError):
                return
            except Exception:
                return
            with self._lock:
                self._shown = {**meta, "received_time": time.time()}
            self.jpeg.put(jpeg)

    def _end_run(self) -> None:
        """The current session run is over: its counts become part of the base (lock held)."""
        if self._run_counts is not None:
            for k in COUNTERS:
                self._base[k] += self._run_counts.get(k, 0)
        for k in CUMULATIVE:
            self._cumulative[k] += self._run_cumulative[k]
        self._run, self._run_counts = None, None
        self._run_cumulative = dict.fromkeys(CUMULATIVE, 0)

    def _on_stats(self, stats: dict[str, Any]) -> None:
        timings = stats.pop("timings_ms", None)
        with self._lock:
            if stats.get("run") != self._run:
                self._end_run()
                self._run = stats.get("run")
            if stats.get("counters") is not None:
                self._run_counts = stats["counters"]
                self._tracking = True
            self._run_cumulative = {k: int(stats.get(k) or 0) for k in CUMULATIVE}
            self._proc_reconnects = int(stats.get("reconnects") or 0)
            if stats.get("frame_size"):
                self._frame_size = tuple(stats["frame_size"])
            self._stats = stats
        if timings and self._on_timings is not None:
            self._on_timings(self.name, timings)

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """Held while a video stream of this camera is open: the camera publishes every picture
        (``stream_fps``), not only one every few seconds."""
        with self._viewers.get_lock():
            self._viewers.value += 1
        try:
            yield
        finally:
            with self._viewers.get_lock():
                self._viewers.value -= 1

    @property
    def viewers(self) -> int:
        return int(self._viewers.value)

    # ------------------------------------------------------------ state for the API

    def _set_state(self, state: str, message: str) -> None:
        message = redact(message)
        with self._lock:
            changed = (state, message) != (self._state, self._message)
            self._state, self._message = state, message
        if changed and state != RUNNING:
            self._publish_placeholder()

    def _publish_placeholder(self) -> None:
        with self._lock:
            state, message, size = self._state, self._message, self._frame_size
        self.jpeg.put(placeholder_jpeg(f"{self.name}: {state}", message, size))

    @property
    def state(self) -> str:
        with self._lock:
            state, error = self._state, self._stats.get("process_error")
        return ERROR if state == RUNNING and error else state

    @property
    def tracking(self) -> bool:
        return self._tracking

    def totals(self) -> dict[str, int]:
        with self._lock:
            run = self._run_counts or {}
            return {k: self._base[k] + int(run.get(k, 0)) for k in COUNTERS}

    def info(self) -> dict[str, Any]:
        totals = self.totals()
        now = time.time()
        with self._lock:
            state, message, s = self._state, self._message, dict(self._stats)
            shown = dict(self._shown)
            cumulative = {k: self._cumulative[k] + self._run_cumulative[k] for k in CUMULATIVE}
            reconnects = self.reconnects + self._proc_reconnects
        if state == RUNNING and s.get("process_error"):
            state, message = ERROR, s["process_error"]
        live = state == RUNNING
        capture = shown.get("capture_time")
        return {
            "name": self.name,
            "source": redact(self.cam.source),
            "state": state,
            "message": message,
            "pid": self.pid,
            "threads": self.threads,
            "restarts": self.restarts,
            "capture_fps": s.get("capture_fps", 0.0) if live else 0.0,
            "process_fps": s.get("process_fps", 0.0) if live else 0.0,
            # % of the time processing (not waiting for a newer frame): under 100, the camera keeps up
            "busy_pct": s.get("busy_pct") if live else None,
            "wait_s": s.get("wait_s", 0.0),  # of this run of the camera process
            **cumulative,
            "frames_streamed": self.jpeg.peek()[0],
            "viewers": self.viewers,
            "reconnects": reconnects,
            "loops": s.get("loops", 0),
            "latency_ms": {k: round(v, 1) for k, v in (s.get("latency_ms") or {}).items()},
            "in_view": s.get("in_view") or {"faces": 0, "masked": 0, "unmasked": 0},
            "tracking": self._tracking,
            "events": self.events_received,
            # The frame on the page: when it was captured, how long it took to reach the page
            # (capture -> processed, drawn, encoded, handed over), and how old it is now.
            "shown_capture_time": None if capture is None else round(capture, 3),
            "lag_s": None if capture is None else round(shown["received_time"] - capture, 3),
            "age_s": None if capture is None else round(now - capture, 3),
            "counters": {**totals, "pct_masked": pct_masked(totals)},
        }
