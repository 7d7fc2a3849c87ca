"""Prometheus metrics of the web application (``/metrics``).

Gauges and counters are read from the camera workers when scraped, so there is no second copy
of any number; stage latencies are histograms fed by each processed frame.
"""

from __future__ import annotations

from typing import Iterable

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ..types import FrameResult
from .camera import RUNNING, CameraWorker

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class _WorkerCollector:
    def __init__(self, workers: list[CameraWorker]):
        self.workers = workers

    def collect(self) -> Iterable:
        up = GaugeMetricFamily("facemask_camera_up", "1 while the camera delivers frames", labels=["camera"])
        cap = GaugeMetricFamily("facemask_capture_fps", "frames read from the source per second", labels=["camera"])
        proc = GaugeMetricFamily("facemask_process_fps", "frames processed per second", labels=["camera"])
        people = GaugeMetricFamily("facemask_people", "people counted since the database was created, by decision",
                                   labels=["camera", "decision"])
        pct = GaugeMetricFamily("facemask_masked_ratio", "masked / decided people (0..1)", labels=["camera"])
        faces = GaugeMetricFamily("facemask_faces_in_view", "faces in the latest processed frame", labels=["camera"])
        frames = CounterMetricFamily("facemask_frames_processed", "frames processed since start", labels=["camera"])
        reconnects = CounterMetricFamily("facemask_reconnects", "times the source was reopened", labels=["camera"])
        for w in self.workers:
            info = w.info()
            name = [w.name]
            up.add_metric(name, 1.0 if info["state"] == RUNNING else 0.0)
            cap.add_metric(name, info["capture_fps"])
            proc.add_metric(name, info["process_fps"])
            faces.add_metric(name, info["in_view"]["faces"])
            frames.add_metric(name, info["frames_processed"])
            reconnects.add_metric(name, info["reconnects"])
            counters = info["counters"]
            for decision in ("masked", "unmasked", "mask_incorrect", "undecided"):
                people.add_metric([w.name, decision], counters[decision])
            if counters["pct_masked"] is not None:
                pct.add_metric(name, counters["pct_masked"] / 100.0)
        return [up, cap, proc, people, pct, faces, frames, reconnects]


class Metrics:
    """A registry of its own (not the process-global one), so several apps can live in one process."""

    def __init__(self, workers: list[CameraWorker]):
        self.registry = CollectorRegistry()
        self.registry.register(_WorkerCollector(workers))
        self.latency = Histogram("facemask_stage_seconds", "time per frame of each pipeline stage (detect, classify, ...)",
                                 ["camera", "stage"], buckets=LATENCY_BUCKETS, registry=self.registry)

    def observe(self, camera: str, result: FrameResult) -> None:
        for stage, ms in result.timings_ms.items():
            self.latency.labels(camera, stage).observe(ms / 1e3)
