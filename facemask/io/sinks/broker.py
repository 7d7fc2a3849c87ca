"""The broker sink: a camera's events, counter samples and a low-rate live-view JPEG to RabbitMQ.

Messages go through a :class:`facemask.broker.publisher.Publisher` (persistent, publisher
confirms, buffered while the broker is away):

* ``event.<camera>``: ``{"type": "event", "worker", "camera", "run", "event": Event.to_json()}``,
  message id = the event id;
* ``stats.<camera>``: every ``broker.stats_interval_s`` and at the end, the run's people counters
  ``{"type": "stats", "id", "worker", "camera", "run", "seq", "ts", "counters", "frames", ...}``;
* ``frame.<camera>``: every ``broker.frame_interval_s``, the annotated frame as JPEG (transient).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

from ... import imageops
from ...types import MASK, UNKNOWN, Event
from .base import FrameOutput, SinkBase

if TYPE_CHECKING:
    from ...broker.publisher import Publisher


class BrokerSink(SinkBase):
    def __init__(self, publisher: Publisher, camera: str, worker: str, run_id: str, counters: Callable[[], dict | None],
                 stats_interval_s: float = 2.0, frame_interval_s: float = 1.0, frame_max_side: int = 640,
                 jpeg_quality: int = 80, extra: Callable[[], dict] | None = None):
        self.publisher, self.camera, self.worker, self.run = publisher, camera, worker, run_id
        self.counters = counters  # the session's people counters (None without tracking)
        self.stats_interval_s, self.frame_interval_s = stats_interval_s, frame_interval_s
        self.frame_max_side, self.jpeg_quality = frame_max_side, jpeg_quality
        self.extra = extra
        self.frames = 0
        self._seq = 0
        self._next_stats = 0.0
        self._next_frame = 0.0
        self._in_view = {"faces": 0, "masked": 0, "unmasked": 0}
        self._timings: dict[str, float] = {}
        self._started = time.monotonic()

    def on_frame(self, out: FrameOutput) -> None:
        self.frames += 1
        faces = [f for f in out.result.faces if f.label != UNKNOWN and not f.skip_reason]
        masked = sum(f.label == MASK for f in faces)
        self._in_view = {"faces": len(out.result.faces), "masked": masked, "unmasked": len(faces) - masked}
        self._timings = dict(out.result.timings_ms)
        now = time.monotonic()
        if self.frame_interval_s > 0 and now >= self._next_frame:
            self._next_frame = now + self.frame_interval_s
            data = imageops.jpeg(out.annotated, self.jpeg_quality, self.frame_max_side)
            if data is not None:
                self.publisher.publish_latest(f"frame.{self.camera}", data)
        if now >= self._next_stats:
            self._next_stats = now + self.stats_interval_s
            self._sample(final=False)

    def on_event(self, event: Event) -> None:
        self.publisher.publish(f"event.{self.camera}", {
            "type": "event", "worker": self.worker, "camera": self.camera, "run": self.run, "event": event.to_json(),
        }, message_id=event.id, meta=("event", event.id))

    def _sample(self, final: bool) -> None:
        self._seq += 1
        elapsed = time.monotonic() - self._started
        self.publisher.publish(f"stats.{self.camera}", {
            "type": "stats", "id": f"{self.run}-s{self._seq}", "worker": self.worker, "camera": self.camera,
            "run": self.run, "seq": self._seq, "ts": time.time(), "final": final, "counters": self.counters(),
            "frames": self.frames, "fps": round(self.frames / elapsed, 2) if elapsed > 0 else 0.0,
            "in_view": self._in_view, "latency_ms": {k: round(v, 1) for k, v in self._timings.items()},
            **(self.extra() if self.extra is not None else {}),
        }, message_id=f"{self.run}-s{self._seq}", meta=("stats", self.run))

    def close(self) -> None:
        self._sample(final=True)  # after the session's finish(): the run's last counters

    def abort(self) -> None:
        self._sample(final=True)
