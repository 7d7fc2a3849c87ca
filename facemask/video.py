"""A video session: the frame pipeline over consecutive frames, plus people tracking and statistics.

Per frame: when ``tracker.detect_interval_s`` (by default ``tracker.detect_every`` frames at the
source's frame rate) has passed since the last full detection, the detector runs on the whole
frame; on the frames in between it looks only around the tracks' predicted boxes
(``tracker.local_search``), or, without local search, nothing is detected and the tracker carries
the latest faces (Kalman prediction). Time comes from each frame's timestamp, so a live camera
that skips frames when it falls behind gets no extra full detections, and the tracker sees the
real time between frames. Detected faces are classified and matched to tracks. Each track decides
mask / no mask / undecided by voting (:mod:`facemask.votes`); :mod:`facemask.stats` turns tracks
into people, typed events and counters.

It is the session of :class:`facemask.run.Runner` for every video mode (batch command, web
camera, bench, collect): ``process(frame)`` -> FrameResult, ``draw(image, result)``,
``pop_events()``, ``finish()``, ``snapshot()``, and for files ``summary()`` and ``write_reports(stem)``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .annotate import draw_person, draw_result, draw_stats_panel, shade_outside
from .config import Config
from .filters import detection_area
from .io.sinks import write_csv, write_json
from .io.sinks.base import FrameOutput, SinkBase
from .pipeline import FramePipeline, video_config
from .privacy import hide_faces
from .stats import CSV_HEADER, PeopleStats
from .tracking import FaceTracker
from .types import Event, EventIds, Frame, FrameResult
from .votes import UNDECIDED
from .zones import LineCounter, Zones, draw_line, shade_outside_areas


class VideoSession:
    def __init__(self, cfg: Config, fps: float, pipeline: FramePipeline | None = None, camera: str = "video",
                 run_id: str | None = None, live: bool = False):
        """``fps``: the source's nominal frame rate; ``camera`` and ``run_id`` name the events
        (see :class:`facemask.types.Event`); ``live``: frames come in real time and the ones
        processing cannot keep up with are skipped (``tracker.live_detect_share`` applies)."""
        self.live = live
        self.cfg = cfg
        self.fps = fps if fps > 0 else 25.0
        self.pipeline = pipeline if pipeline is not None else FramePipeline(video_config(cfg))
        self.pipeline.verify_large_faces()
        self.ids = EventIds(camera, run_id)
        regions = self.pipeline.searches_regions
        self.local_search = cfg.tracker.local_search and regions
        # Two thresholds (tracker.keep_score): detect down to keep_score, confirm at the detector's.
        self.strong_score = self.pipeline.detector.score_threshold if regions else 0.0
        self.min_score = cfg.tracker.keep_score if regions and cfg.tracker.keep_score < self.strong_score else None
        self.tracker = FaceTracker(cfg.tracker, cfg.vote, cfg.filters, self.local_search,
                                   self.strong_score, fps=self.fps) if cfg.tracker.enabled else None
        self.stats = PeopleStats(cfg.stats, cfg.filters, self.fps, self.ids)
        interval = cfg.tracker.detect_interval_s
        self.detect_interval_s = interval if interval is not None else cfg.tracker.detect_every / self.fps
        self._events: list[Event] = []
        self.frames = 0
        self.detected_frames = 0  # frames the detector ran on whole
        self._last_full: float | None = None  # stream time of the last full detection
        self._since_full = 0  # frames processed since the last full detection, the current one included
        self._full_cost_s = 0.0  # live: running mean of a full detection's wall time
        self._last_time = 0.0
        self._finished = False
        self.zones_cfg = cfg.zones.for_camera(camera)  # polygon areas and a counting line
        self.zones: Zones | None = None  # in pixels, from the first frame
        self.line: LineCounter | None = None

    # ------------------------------------------------------------- per frame

    def full_detection_interval_s(self) -> float:
        """Stream time between full detections: ``detect_interval_s``, and live at least the
        cost of one over ``tracker.live_detect_share``."""
        if not self.live:
            return self.detect_interval_s
        return max(self.detect_interval_s, self._full_cost_s / self.cfg.tracker.live_detect_share)

    def _full_detection_due(self, time_s: float) -> bool:
        last = self._last_full
        if last is None or time_s < last:
            return True
        # Live, a camera that skips frames still runs detect_every - 1 local searches between two
        # full detections, as the batch command does: skipped time never becomes extra full
        # detections, and the mix of work per processed frame is the file's.
        if self.live and self.local_search and self._since_full < self.cfg.tracker.detect_every:
            return False
        # Half a frame of slack: file timestamps are index / fps, and 5 / 25 must count as 0.2 s.
        return time_s - last >= self.full_detection_interval_s() - 0.5 / self.fps

    def process(self, frame: Frame | np.ndarray, index: int | None = None) -> FrameResult:
        """Detect + classify (when due) and track one frame. ``frame`` is a :class:`Frame`
        (its ``time_s`` drives everything), or an image with its ``index`` in a file at
        ``fps`` (time = index / fps)."""
        if not isinstance(frame, Frame):
            if index is None:
                raise TypeError("process(image) needs the frame index")
            frame = Frame(image=frame, index=index, time_s=index / self.fps, wall_time=0.0)
        image, time_s, index = frame.image, frame.time_s, frame.index
        if frame.cut:
            self._last_full = None  # the tracks end here: look at the whole new picture at once
        self.frames += 1
        self._since_full += 1
        self._last_time = time_s
        zones = self._zones_for(image)
        if self.tracker is None:
            self.detected_frames += 1
            return self.pipeline.process(image, frame_index=index, time_s=time_s, zones=zones)
        detected: FrameResult | None = None  # None: nothing detected on this frame
        if self._full_detection_due(time_s):
            t_full = time.perf_counter()
            detected = self.pipeline.process(image, frame_index=index, time_s=time_s, min_score=self.min_score,
                                             zones=zones)
            cost = time.perf_counter() - t_full
            if self.live and self.detected_frames:  # the first call may still warm the models up
                self._full_cost_s = cost if self.detected_frames == 1 else 0.8 * self._full_cost_s + 0.2 * cost
            self._last_full = time_s
            self._since_full = 0
            self.detected_frames += 1
        elif self.local_search:
            detected = self.pipeline.process(image, frame_index=index, time_s=time_s,
                                             near=self.tracker.predicted_boxes(), margin=self.cfg.tracker.search_margin,
                                             min_score=self.min_score, zones=zones)
        t0 = time.perf_counter()
        if detected is None:
            step = self.tracker.update(time_s, None, cut=frame.cut)
            h, w = image.shape[:2]
            result = FrameResult(width=w, height=h, faces=[], frame=index, time_s=time_s)
        else:
            step = self.tracker.update(time_s, detected.faces, image, cut=frame.cut)
            result = detected
            result.faces = step.shown
        result.faces = result.faces + self.tracker.carried_faces(time_s)
        self._events.extend(self.stats.update(time_s, step.active, step.ended, frame.wall_time))
        if self.line is not None:
            self.line.update(result.faces, time_s, {t.id for t in step.active if t.id is not None})
        result.timings_ms["track"] = (time.perf_counter() - t0) * 1e3
        return result

    def _zones_for(self, image: np.ndarray) -> Zones | None:
        if not self.zones_cfg.areas and self.zones_cfg.line is None:
            return None
        h, w = image.shape[:2]
        if self.zones is None or self.zones.size != (w, h):
            self.zones = Zones(self.zones_cfg, w, h)
            if self.zones.line is not None and self.line is None:
                self.line = LineCounter(self.zones)
            elif self.line is not None:
                self.line.zones = self.zones
        return self.zones if self.zones.has_areas else None

    def line_counts(self) -> dict | None:
        """Crossings of the counting line: ``{"in", "out", "zones": {area: {"in", "out"}}}``; None without a line."""
        return self.line.snapshot() if self.line is not None else None

    def draw(self, frame: np.ndarray, result: FrameResult) -> np.ndarray:
        """Annotate in place: detection area, each face with its track id / decision / vote
        balance, and the people panel."""
        h, w = frame.shape[:2]
        hide_faces(frame, result.faces, self.cfg.privacy)  # first: no face pixel is drawn around
        shade_outside(frame, detection_area(self.cfg.filters.detection_area, w, h))
        if self.zones is not None:
            shade_outside_areas(frame, self.zones)
            draw_line(frame, self.zones, self.line.counts if self.line is not None else {})
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

    def pop_events(self) -> list[Event]:
        """Events since the last call (see :class:`facemask.types.EventKind`)."""
        events, self._events = self._events, []
        return events

    def snapshot(self) -> dict:
        """Counters now plus the time series of the last ``stats.snapshot_intervals`` intervals."""
        snap = self.stats.snapshot()
        if self.line is not None:
            snap["line"] = self.line.snapshot()
        return snap

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
        out = {k: c[k] for k in ("people", "masked", "unmasked", "mask_incorrect", "undecided", "pct_masked", "static_faces", "face_not_seen")}
        if self.line is not None:
            out.update(line_in=self.line.counts["in"], line_out=self.line.counts["out"])
        return out

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
            "duration_s": round(self._last_time + 1.0 / self.fps, 3) if self.frames else 0.0,
            **c,
            "rules": {
                "detect_every": self.cfg.tracker.detect_every, "detect_interval_s": round(self.detect_interval_s, 4),
                "vote": self.cfg.vote.model_dump(),
                "min_track_frames": self.cfg.stats.min_track_frames,
                "static_after_frames": self.cfg.filters.static_after_frames,
                "static_max_motion": self.cfg.filters.static_max_motion,
            },
            **({"line": self.line.snapshot()} if self.line is not None else {}),
            "interval_s": self.cfg.stats.interval_s,
            "series": list(self.stats.series),
        })
        write_csv(people_path, CSV_HEADER, self.stats.rows())
        return [summary_path, people_path]


class PeopleReportSink(SinkBase):
    """``<stem>.summary.json`` and ``<stem>.people.csv`` of a video session, written at the end."""

    def __init__(self, session: VideoSession, stem: Path):
        self.session, self.stem = session, Path(stem)
        self.paths: list[Path] = []

    def on_frame(self, out: FrameOutput) -> None:
        pass

    def close(self) -> None:
        self.paths = self.session.write_reports(self.stem)

    def abort(self) -> None:
        pass  # nothing written before close
