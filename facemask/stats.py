"""People statistics from tracks: who counts as a person, their decisions, events, a time series.

A confirmed track (one with an id) is, at any time, in one status:

* ``pending``: not yet ``stats.min_track_frames`` frames between its first and latest
  detection, or neither moved nor old enough for the static test (``filters.static_after_frames``);
* ``person``: counted, for good. Long enough, and moved, or passed the static test (at
  ``static_after_frames``, or over its whole life when it ended younger);
* ``static``: did not move nor change look in ``static_after_frames`` frames (a poster, a
  painting, see :meth:`facemask.tracking.Track.is_static`): reported apart, not counted; it
  becomes a person if it moves or changes later;
* ``short``: ended while pending and too short: not counted;
* ``face_not_seen``: ended long enough and not static, but its face was never seen well enough to be
  judged (see :func:`judged`): "passed, face not seen", reported apart, not counted in ``people``.

A track becomes a person only once it is judged: its face was classified (voted or abstained) on
at least ``stats.min_classified_frames`` frames, of which at least ``stats.min_voted_frames`` cast a
vote (an abstention is the classifier unsure of what it saw), or it has a decision. Faces too small, outside the
detection area, at the frame edge, low-score or not whole faces are not classified, so a track of
the back of a head, a hand or a bag never becomes a person.

% masked = masked / (masked + unmasked + mask_incorrect) among counted people; mask_incorrect
counts as unmasked there and is also reported apart.
"""

from __future__ import annotations

import math
import weakref
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from .config import FiltersConfig, StatsConfig
from .tracking import Track
from .types import INCORRECT, MASK, NO_MASK, Event, EventIds, EventKind
from .votes import UNDECIDED

PENDING, PERSON, STATIC, SHORT = "pending", "person", "static", "short"
FACE_NOT_SEEN = "face_not_seen"

CSV_HEADER = [
    "track_id", "status", "decision", "balance", "mask_votes", "no_mask_votes", "mask_incorrect_votes",
    "abstain", "not_classified", "classified", "mean_mask_prob", "first_frame", "last_frame",
    "first_s", "last_s", "frames", "detections", "mean_face_px", "motion", "x1", "y1", "x2", "y2",
]  # x1..y2: the latest detected box


def judged(track: Track, stats: StatsConfig) -> bool:
    """Was the track's face seen well enough to be judged: classified on enough frames with
    enough votes among them, or decided?"""
    v = track.votes
    return (v.classified >= stats.min_classified_frames and v.voted >= stats.min_voted_frames) or v.decision != UNDECIDED


def track_status(track: Track, ended: bool, previous: str, stats: StatsConfig, filters: FiltersConfig) -> str:
    """The status rules of the module docstring; once a person, always a person."""
    if previous == PERSON:
        return PERSON
    if track.is_static(filters, final=ended):
        return STATIC
    if track.span >= stats.min_track_frames and (
        track.moved or ended or filters.static_after_frames == 0 or track.span >= filters.static_after_frames
    ):
        if judged(track, stats):
            return PERSON
        return FACE_NOT_SEEN if ended else PENDING
    return SHORT if ended else PENDING


def pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def decision_counts(c: Counter[str]) -> dict:
    """Counters for people whose decisions are counted in ``c`` (decision -> people)."""
    decided = c[MASK] + c[NO_MASK] + c[INCORRECT]
    return {
        "people": sum(c.values()), "masked": c[MASK], "unmasked": c[NO_MASK] + c[INCORRECT],
        "mask_incorrect": c[INCORRECT], "undecided": c[UNDECIDED], "decided": decided,
        "pct_masked": pct(c[MASK], decided),
    }


@dataclass(eq=False)
class Record:
    track: Track
    status: str = PENDING
    decision: str = UNDECIDED
    ended: bool = False
    decided_once: bool = False


@dataclass
class Interval:
    index: int
    ids: set[int] = field(default_factory=set)  # people detected during the interval
    new: int = 0  # tracks that became people during the interval


class PeopleStats:
    """Fed once per frame with the tracker's step; produces events, counters and a time series.

    Memory stays bounded however long it runs: a record leaves :attr:`records` when its track
    ends (its row goes to :attr:`ended_rows`, the newest ``stats.max_ended_rows`` kept, and to
    the ``track_ended`` event), and :attr:`series` keeps the newest ``stats.max_intervals``.
    """

    def __init__(self, cfg: StatsConfig, filters: FiltersConfig, fps: float, ids: EventIds | None = None):
        self.cfg, self.filters, self.fps = cfg, filters, fps
        self.ids = ids if ids is not None else EventIds("video")
        self.records: dict[int, Record] = {}  # live tracks
        self.ended_rows: deque[dict[str, Any]] = deque(maxlen=cfg.max_ended_rows)
        self._counts: Counter[tuple[str, str]] = Counter()  # (status, decision) -> records
        self.series: deque[dict] = deque(maxlen=cfg.max_intervals)
        self._interval: Interval | None = None
        self.frame = -1  # tick of the latest frame
        self.time_s = 0.0
        self.wall_time = 0.0
        self.in_view = 0  # people and pending (not static) tracks followed on the latest frame
        # (status, decision) of tracks that ended during the open interval, for its entry.
        self._ended_decisions: dict[int, tuple[str, str]] = {}
        self._gone: weakref.WeakSet[Track] = weakref.WeakSet()  # tracks whose end was reported

    # ------------------------------------------------------------- per frame

    def update(self, time_s: float, active: list[Track], ended: list[Track], wall_time: float = 0.0) -> list[Event]:
        """``time_s``: the frame's stream time; ``wall_time``: its capture time (epoch)."""
        self.time_s, self.wall_time = time_s, wall_time
        self.frame = int(round(time_s * self.fps))
        frame = self.frame
        events: list[Event] = []
        interval = self._roll_intervals()
        for track in active:
            if track.id is not None:
                self._refresh(track, False, events)
        for track in ended:
            if track.id is not None:
                self._refresh(track, True, events)
        self.in_view = 0
        for track in active:
            if track.id is None:
                continue
            rec = self.records.get(track.id)
            if rec is None or rec.status not in (PERSON, PENDING):
                continue
            self.in_view += 1  # followed now, counted or about to be
            if rec.status == PERSON and track.last_seen == frame:  # detected, not only coasting
                interval.ids.add(track.id)
        return events

    def finish(self, tracks: list[Track]) -> list[Event]:
        """End the remaining tracks and close the last interval (end of video)."""
        events: list[Event] = []
        for track in tracks:
            if track.id is not None:
                self._refresh(track, True, events)
        if self._interval is not None:
            self.series.append(self._close(self._interval, end_s=self.time_s + 1.0 / self.fps))
            self._interval = None
        self.in_view = 0
        return events

    def _event(self, kind: EventKind, rec: Record, **extra: Any) -> Event:
        t = rec.track
        assert t.id is not None
        return Event(
            kind=kind, camera=self.ids.camera, id=self.ids.next_event(), person=self.ids.person(t.id), track_id=t.id,
            frame=self.frame, time_s=self.time_s, wall_time=self.wall_time, status=rec.status,
            decision=rec.decision, balance=t.votes.balance, data=extra,
        )

    def _refresh(self, track: Track, ended: bool, events: list[Event]) -> None:
        assert track.id is not None
        if track in self._gone:
            return
        rec = self.records.get(track.id)
        if rec is None:
            rec = self.records[track.id] = Record(track)
            self._counts[(rec.status, rec.decision)] += 1
            events.append(self._event(EventKind.TRACK_STARTED, rec))
        if rec.ended:
            return
        status = track_status(track, ended, rec.status, self.cfg, self.filters)
        decision = track.votes.decision
        old_status, old_decision = rec.status, rec.decision
        if (status, decision) != (old_status, old_decision):
            self._counts[(old_status, old_decision)] -= 1
            self._counts[(status, decision)] += 1
            rec.status, rec.decision = status, decision
        if status != old_status and status in (PERSON, STATIC):
            events.append(self._event(EventKind(status), rec, previous_status=old_status))
            if status == PERSON and self._interval is not None:
                self._interval.new += 1
        if decision != old_decision:
            kind = EventKind.DECISION_CHANGED if rec.decided_once else EventKind.DECIDED
            rec.decided_once = True
            events.append(self._event(kind, rec, previous=old_decision))
        if ended:
            rec.ended = True
            row = self.row_dict(rec)
            events.append(self._event(EventKind.TRACK_ENDED, rec, **row))
            # The record leaves memory; its counts stay in _counts and the open interval keeps
            # its decision (see _close), its row stays for the reports.
            self.ended_rows.append(row)
            self._ended_decisions[track.id] = (rec.status, rec.decision)
            del self.records[track.id]
            self._gone.add(track)

    # ------------------------------------------------------------- intervals

    def _roll_intervals(self) -> Interval:
        """Close the intervals the video time has left behind; the current one."""
        index = int(self.time_s // self.cfg.interval_s)
        if self._interval is None:
            self._interval = Interval(index)
            return self._interval
        while self._interval.index < index:
            self.series.append(self._close(self._interval))
            self._interval = Interval(self._interval.index + 1)
            self._ended_decisions = {i: v for i, v in self._ended_decisions.items() if i in self._interval.ids}
        return self._interval

    def _state(self, track_id: int) -> tuple[str, str]:
        rec = self.records.get(track_id)
        return (rec.status, rec.decision) if rec is not None else self._ended_decisions.get(track_id, (SHORT, UNDECIDED))

    def _close(self, iv: Interval, end_s: float | None = None) -> dict:
        """The interval's entry: people detected in it, by their decision as of now."""
        states = [self._state(i) for i in iv.ids]
        decisions = Counter(d for s, d in states if s == PERSON)
        end = (iv.index + 1) * self.cfg.interval_s
        return {
            "start_s": round(iv.index * self.cfg.interval_s, 3),
            "end_s": round(end if end_s is None else min(end, end_s), 3),
            "new_people": iv.new, **decision_counts(decisions),
        }

    # ------------------------------------------------------------- reports

    def counters(self) -> dict:
        people = Counter({d: n for (s, d), n in self._counts.items() if s == PERSON})
        return {
            **decision_counts(people),
            "static_faces": sum(n for (s, _), n in self._counts.items() if s == STATIC),
            "face_not_seen": sum(n for (s, _), n in self._counts.items() if s == FACE_NOT_SEEN),
            "in_view": self.in_view,
        }

    def snapshot(self) -> dict:
        series = list(self.series)[-self.cfg.snapshot_intervals:]
        if self._interval is not None:
            series = series + [{**self._close(self._interval, end_s=self.time_s + 1.0 / self.fps), "partial": True}]
        return {"frame": self.frame, "time_s": round(self.time_s, 3), **self.counters(),
                "interval_s": self.cfg.interval_s, "series": series}

    def row_dict(self, rec: Record) -> dict:
        t = rec.track
        v = t.votes
        mean_prob = v.mean_prob
        box = [round(float(x), 1) for x in t.face.box] if t.face is not None else [None] * 4
        return {
            "track_id": t.id, "status": rec.status, "decision": rec.decision, "balance": v.balance,
            "mask_votes": v.counts[MASK], "no_mask_votes": v.counts[NO_MASK],
            "mask_incorrect_votes": v.counts[INCORRECT], "abstain": v.counts["abstain"],
            "not_classified": v.counts["none"], "classified": v.classified,
            "mean_mask_prob": None if mean_prob is None else round(mean_prob, 4),
            "first_frame": t.first_frame, "last_frame": t.last_seen,
            "first_s": round(t.first_s, 3), "last_s": round(t.last_s, 3),
            "frames": t.span, "detections": t.detections, "mean_face_px": round(t.mean_size, 1),
            "motion": round(t.motion, 3) if math.isfinite(t.motion) else None,
            **dict(zip(("x1", "y1", "x2", "y2"), box)),
        }

    def rows(self) -> list[list]:
        """One row per track, ended ones (the newest ``stats.max_ended_rows``) and live ones."""
        rows = list(self.ended_rows) + [self.row_dict(r) for r in self.records.values()]
        return [[row[k] for k in CSV_HEADER] for row in sorted(rows, key=lambda r: r["track_id"])]
