"""A video session: the frame pipeline over consecutive frames, plus people tracking and statistics.

Per frame: on one frame in ``tracker.detect_every`` the detector runs on the whole frame; on the
frames in between it looks only around the tracks' predicted boxes (``tracker.local_search``),
or, without local search, nothing is detected and the tracker carries the latest faces (Kalman
prediction). Detected faces are classified and matched to tracks. Each track decides mask / no mask / undecided by voting
(:mod:`facemask.votes`); :mod:`facemask.stats` turns tracks into people, events and counters.

The batch command and the web GUI use the same session:
``process(frame, index)`` -> FrameResult, ``draw(frame, result)``, ``pop_events()``,
``snapshot()``, and at the end ``finish()`` + ``summary()`` + ``write_reports(stem)``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .annotate import draw_person, draw_result, draw_stats_panel, shade_outside
from .config import Config
from .filters import detection_area
from .io.sinks import write_csv, write_json
from .pipeline import FramePipeline
from .stats import CSV_HEADER, PeopleStats
from .tracking import FaceTracker
from .types import FrameResult
from .votes import UNDECIDED


class VideoSession:
    def __init__(self, cfg: Config, fps: float, pipeline: FramePipeline | None = None):
        self.cfg = cfg
        self.fps = fps if fps > 0 else 25.0
        self.pipeline = pipeline if pipeline is not None else FramePipeline(cfg)
        regions = self.pipeline.searches_regions
        self.local_search = cfg.tracker.local_search and regions
        # Two thresholds (tracker.keep_score): detect down to keep_score, confirm at the detector's.
        self.strong_score = self.pipeline.detector.score_threshold if regions else 0.0
        self.min_score = cfg.tracker.keep_score if regions and cfg.tracker.keep_score < self.strong_score else None
        self.tracker = FaceTracker(cfg.tracker, cfg.vote, cfg.filters, self.local_search,
                                   self.strong_score) if cfg.tracker.enabled else None
        self.stats = PeopleStats(cfg.stats, cfg.filters, self.fps)
        self._events: list[dict] = []
        self.frames = 0
        self.detected_frames = 0  # frames the detector ran on whole
        self._last_full: int | None = None
        self._finished = False

    # ------------------------------------------------------------- per frame

    def process(self, frame: np.ndarray, index: int) -> FrameResult:
        """Detect + classify (when due) and track one frame; index is the frame number in the video."""
        time_s = index / self.fps
        self.frames += 1
        if self.tracker is None:
            self.detected_frames += 1
            return self.pipeline.process(frame, frame_index=index, time_s=time_s)
        last = self._last_full
        detected: FrameResult | None = None  # None: nothing detected on this frame
        if last is None or index - last >= self.cfg.tracker.detect_every or index < last:
            detected = self.pipeline.process(frame, frame_index=index, time_s=time_s, min_score=self.min_score)
            self._last_full = index
            self.detected_frames += 1
        elif self.local_search:
            detected = self.pipeline.process(frame, frame_index=index, time_s=time_s,
                                             near=self.tracker.predicted_boxes(), margin=self.cfg.tracker.search_margin,
                                             min_score=self.min_score)
        t0 = time.perf_counter()
        if detected is None:
            step = self.tracker.update(index, None)
            h, w = frame.shape[:2]
            result = FrameResult(width=w, height=h, faces=[], frame=index, time_s=time_s)
        else:
            step = self.tracker.update(index, detected.faces, frame)
            result = detected
            result.faces = step.shown
        result.faces = result.faces + self.tracker.carried_faces(index)
        self._events.extend(self.stats.update(index, step.active, step.ended))
        result.timings_ms["track"] = (time.perf_counter() - t0) * 1e3
        return result

    def draw(self, frame: np.ndarray, result: FrameResult) -> np.ndarray:
        """Annotate in place: detection area, each face with its track id / decision / vote
        balance, and the people panel."""
        h, w = frame.shape[:2]
        shade_outside(frame, detection_area(self.cfg.filters.detection_area, w, h))
        landmarks = self.cfg.output.draw_landmarks
        if self.tracker is None:
            return draw_result(frame, result, landmarks)
        for face in sorted(result.faces, key=lambda f: f.skip_reason is None):
            rec = self.stats.records.get(face.track_id) if face.track_id is not None else None
            if rec is None:
                draw_person(frame, face, None, UNDECIDED, 0, "pending", landmarks)
            else:
                draw_person(frame, face, face.track_id, rec.decision, rec.track.votes.balance, rec.status, landmarks)
        return draw_stats_panel(frame, self.stats.counters())

    # ------------------------------------------------------------- live consumers (web GUI)

    def pop_events(self) -> list[dict]:
        """Events since the last call: track_started, person, static, decided, decision_changed,
        track_ended; each with frame, time_s, track_id, status, decision and vote balance."""
        events, self._events = self._events, []
        return events

    def snapshot(self) -> dict:
        """Counters now plus the time series of the last ``stats.snapshot_intervals`` intervals."""
        return self.stats.snapshot()

    # ------------------------------------------------------------- end of video

    def finish(self) -> None:
        """End every track (their track_ended events go to :meth:`pop_events`); idempotent."""
        if self._finished or self.tracker is None:
            return
        self._finished = True
        self._events.extend(self.stats.finish(self.tracker.finish()))

    def summary(self) -> dict:
        """People-level counters (empty when tracking is disabled)."""
        if self.tracker is None:
            return {}
        c = self.stats.counters()
        return {k: c[k] for k in ("people", "masked", "unmasked", "mask_incorrect", "undecided", "pct_masked", "static_faces")}

    def write_reports(self, stem: Path) -> list[Path]:
        """``<stem>.summary.json`` and ``<stem>.people.csv`` (one row per track), written atomically."""
        if self.tracker is None:
            return []
        self.finish()
        stem = Path(stem)
        summary_path = stem.with_name(stem.name + ".summary.json")
        people_path = stem.with_name(stem.name + ".people.csv")
        c = self.stats.counters()
        c.pop("in_view", None)
        write_json(summary_path, {
            "frames": self.frames, "detected_frames": self.detected_frames, "fps": self.fps,
            "duration_s": round(self.frames / self.fps, 3),
            **c,
            "rules": {
                "detect_every": self.cfg.tracker.detect_every, "vote": self.cfg.vote.model_dump(),
                "min_track_frames": self.cfg.stats.min_track_frames,
                "static_after_frames": self.cfg.filters.static_after_frames,
                "static_max_motion": self.cfg.filters.static_max_motion,
            },
            "interval_s": self.cfg.stats.interval_s,
            "series": self.stats.series,
        })
        write_csv(people_path, CSV_HEADER, self.stats.rows())
        return [summary_path, people_path]
