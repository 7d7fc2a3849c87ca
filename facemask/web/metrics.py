"""Prometheus metrics of the web application (``/metrics``).

Gauges and counters are read from the camera handles and the store when scraped, so there is no
second copy of any number; stage latencies are histograms fed by the statistics each camera
process sends (every frame's timings since the previous ones).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .camera import RUNNING, CameraHandle
from .storage import Store

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
STATES = ("starting", "running", "reconnecting", "restarting", "error", "ended", "stopped")


class _Collector:
    def __init__(self, cameras: Sequence[CameraHandle], store: Store | None):
        self.cameras, self.store = cameras, store

    def collect(self) -> Iterable:
        up = GaugeMetricFamily("facemask_camera_up", "1 while the camera delivers frames", labels=["camera"])
        state = GaugeMetricFamily("facemask_camera_state", "1 for the camera's current state", labels=["camera", "state"])
        cap = GaugeMetricFamily("facemask_capture_fps", "frames read from the source per second", labels=["camera"])
        proc = GaugeMetricFamily("facemask_process_fps", "frames processed per second", labels=["camera"])
        busy = GaugeMetricFamily("facemask_busy_ratio", "share of the time processing, not waiting for a newer frame "
                                 "(under 1: the camera keeps up with its source)", labels=["camera"])
        lag = GaugeMetricFamily("facemask_lag_seconds", "capture to the page, of the frame shown", labels=["camera"])
        # cumulative (it only grows): a counter, exposed as facemask_people_total
        people = CounterMetricFamily("facemask_people", "people counted since the database was created, by decision",
                                     labels=["camera", "decision"])
        pct = GaugeMetricFamily("facemask_masked_ratio", "masked / decided people (0..1)", labels=["camera"])
        faces = GaugeMetricFamily("facemask_faces_in_view", "faces in the latest processed frame", labels=["camera"])
        frames = CounterMetricFamily("facemask_frames_processed", "frames processed since start", labels=["camera"])
        skipped = CounterMetricFamily("facemask_frames_skipped", "captured frames replaced by a newer one before "
                                      "processing", labels=["camera"])
        reconnects = CounterMetricFamily("facemask_reconnects", "times the source was reopened", labels=["camera"])
        restarts = CounterMetricFamily("facemask_camera_restarts", "times the camera process was restarted",
                                       labels=["camera"])
        for cam in self.cameras:
            info = cam.info()
            name = [cam.name]
            up.add_metric(name, 1.0 if info["state"] == RUNNING else 0.0)
            for s in STATES:
                state.add_metric([cam.name, s], 1.0 if info["state"] == s else 0.0)
            cap.add_metric(name, info["capture_fps"])
            proc.add_metric(name, info["process_fps"])
            if info.get("busy_pct") is not None:
                busy.add_metric(name, info["busy_pct"] / 100.0)
            if info.get("lag_s") is not None:
                lag.add_metric(name, info["lag_s"])
            faces.add_metric(name, info["in_view"]["faces"])
            frames.add_metric(name, info["frames_processed"])
            skipped.add_metric(name, info.get("frames_skipped", 0))
            reconnects.add_metric(name, info["reconnects"])
            restarts.add_metric(name, info.get("restarts", 0))
            counters = info["counters"]
            for decision in ("masked", "unmasked", "mask_incorrect", "undecided"):
                people.add_metric([cam.name, decision], counters[decision])
            if counters["pct_masked"] is not None:
                pct.add_metric(name, counters["pct_masked"] / 100.0)
        out = [up, state, cap, proc, busy, lag, people, pct, faces, frames, skipped, reconnects, restarts]
        if self.store is not None:
            db = self.store.info()
            store_up = GaugeMetricFamily("facemask_store_up", "1 while the database is written normally")
            store_up.add_metric([], 1.0 if db["state"] == "ok" else 0.0)
            pending = GaugeMetricFamily("facemask_store_pending", "events and samples waiting to be written")
            pending.add_metric([], db["pending"])
            dropped = CounterMetricFamily("facemask_store_dropped", "events and samples lost (write buffer full)")
            dropped.add_metric([], db["dropped"])
            failures = CounterMetricFamily("facemask_store_write_failures", "failed database writes (retried)")
            failures.add_metric([], db["failures"])
            out += [store_up, pending, dropped, failures]
        return out


class Metrics:
    """A registry of its own (not the process-global one), so several apps can live in one process."""

    def __init__(self, cameras: Sequence[CameraHandle], store: Store | None = None):
        self.registry = CollectorRegistry()
        self.registry.register(_Collector(cameras, store))
        self.latency = Histogram("facemask_stage_seconds", "time per frame of each pipeline stage (detect, classify, ...)",
                                 ["camera", "stage"], buckets=LATENCY_BUCKETS, registry=self.registry)

    def observe(self, camera: str, timings_ms: dict[str, list[float]]) -> None:
        """Stage -> the milliseconds of each frame since the previous call."""
        for stage, values in timings_ms.items():
            hist = self.latency.labels(camera, stage)
            for ms in values:
                hist.observe(ms / 1e3)
