"""A camera that runs on a broker worker, as the web app sees it (see facemask/broker/aggregate.py).

It has what the page, the API and the metrics read from a local
:class:`~facemask.web.camera.CameraWorker` (``name``, ``jpeg``, ``state``, ``info()``), fed by the
aggregator from the camera's stat samples and live-view frames instead of a local source.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from .camera import RECONNECTING, RUNNING, STARTING, Latest, pct_masked, placeholder_jpeg
from .storage import COUNTERS


class RemoteCamera:
    def __init__(self, name: str, stale_after_s: float = 10.0, totals: dict[str, int] | None = None):
        self.name = name
        self.stale_after_s = stale_after_s
        self.jpeg: Latest[bytes] = Latest()
        self._lock = threading.Lock()
        self._sample: dict[str, Any] = {}
        self._seen = 0.0  # monotonic time of the last sample
        self._totals = dict(totals or {c: 0 for c in COUNTERS})
        self._runs: set[str] = set()
        self.jpeg.put(placeholder_jpeg(f"{name}: {STARTING}", "waiting for a worker"))

    def start(self) -> None:
        pass

    def stop(self, timeout: float = 0.0) -> None:
        pass

    def update(self, sample: dict[str, Any], totals: dict[str, int]) -> None:
        with self._lock:
            self._sample, self._seen, self._totals = sample, time.monotonic(), dict(totals)
            self._runs.add(str(sample.get("run")))

    def frame(self, jpeg: bytes) -> None:
        self.jpeg.put(jpeg)

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """A worker publishes its live view at its own interval, watched or not."""
        yield

    @property
    def state(self) -> str:
        with self._lock:
            if not self._seen:
                return STARTING
            final = bool(self._sample.get("final"))
            return RUNNING if time.monotonic() - self._seen <= self.stale_after_s and not final else RECONNECTING

    def info(self) -> dict[str, Any]:
        state = self.state
        with self._lock:
            s, totals, runs = dict(self._sample), dict(self._totals), len(self._runs)
            age = time.monotonic() - self._seen if self._seen else None
        worker = s.get("worker")
        message = "" if state == RUNNING else (
            "waiting for a worker" if age is None else f"no news from worker {worker} for {age:.0f} s")
        return {
            "name": self.name,
            "source": f"worker {worker}" if worker else "broker",
            "state": state,
            "message": message,
            "worker": worker,
            "run": s.get("run"),
            "capture_fps": float(s.get("source_fps") or 0.0),
            "process_fps": float(s.get("fps") or 0.0),
            "frames_processed": int(s.get("frames") or 0),
            "frames_streamed": self.jpeg.peek()[0],
            "reconnects": max(runs - 1, 0),  # runs of this camera seen by this app, minus the first
            "latency_ms": dict(s.get("latency_ms") or {}),
            "in_view": dict(s.get("in_view") or {"faces": 0, "masked": 0, "unmasked": 0}),
            "tracking": s.get("counters") is not None,
            "counters": {**totals, "pct_masked": pct_masked(totals)},
        }
