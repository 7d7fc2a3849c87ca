"""Follow faces across frames: norfair's Kalman tracker on the detector's boxes, one vote box per track.

The detector runs on the whole frame on one frame in ``tracker.detect_every``. In between, either
the detector looks again around the tracks' predicted boxes (``tracker.local_search``: every frame
then has detections, norfair's period is 1) or nothing is detected and norfair, told the period,
keeps the tracks alive while its Kalman estimate carries their boxes. Every detected face is
classified, and each classifier output votes for the track that matched its face (see
:mod:`facemask.votes`).

Time comes from each frame's timestamp. The tracker counts in *ticks*, frames at the source's
nominal frame rate (``tick = round(time_s * fps)``): on a file every frame is one tick, and a live
camera that skipped two frames because processing fell behind advances three ticks, so the Kalman
prediction, the hit counters (``tracker.hit_counter_max``) and every frame count of the config
(``stats.min_track_frames``, ``filters.static_after_frames``) measure time, not processed frames.

Each track also keeps how far its detected box centre has moved, in face sizes, and how often
the region of its first box changed look, so that a face that never moves (a poster, a
painting, a mannequin) can be told from a person. Box motion alone cannot: people standing in
front of a camera move their heads by less than a fifth of a face for seconds, no more than a
painting's detection jitters; but their faces change (talking, blinking, masks) and a painting's
pixels do not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
from norfair import Detection, Tracker
from norfair.tracker import TrackedObject
from norfair.distances import Distance
from norfair.filter import OptimizedKalmanFilterFactory

from . import reid
from .config import FiltersConfig, TrackerConfig, VoteConfig
from .geometry import box_iou
from .scene import SceneCutDetector
from .types import Face
from .votes import VoteState


def face_points(face: Face, with_landmarks: bool) -> np.ndarray:
    """The points norfair tracks: box corners (2, 2), then the five landmarks when asked.

    A face without landmarks (e.g. from a pose) gets its box centre in their place, so every
    detection of a tracker has the same number of points.
    """
    box = np.asarray(face.box, np.float64).reshape(2, 2)
    if not with_landmarks:
        return box
    marks = face.landmarks if face.landmarks is not None else np.tile(box.mean(axis=0), (5, 1))
    return np.vstack([box, np.asarray(marks, np.float64).reshape(5, 2)])


def iou_distance(candidates: np.ndarray, objects: np.ndarray) -> np.ndarray:
    """(N, K) 1 - IoU between the boxes (first four values of each row)."""
    return 1.0 - box_iou(candidates[:, :4], objects[:, :4])


def _sizes(rows: np.ndarray) -> np.ndarray:
    """The larger box side of each row of points (box corners first)."""
    return np.maximum(np.maximum(rows[:, 2] - rows[:, 0], rows[:, 3] - rows[:, 1]), 1.0)


def size_normalized_distance(candidates: np.ndarray, objects: np.ndarray,
                             object_sizes: np.ndarray | None = None) -> np.ndarray:
    """(N, K) mean distance between corresponding points, in units of the smaller of the two
    faces, so one threshold serves 15 px and 150 px faces alike and a large box never swallows
    a small face far from it. ``object_sizes``: the objects' sizes, when not their boxes' own."""
    n, k = len(candidates), len(objects)
    pc = candidates.reshape(n, 1, -1, 2)
    po = objects.reshape(1, k, -1, 2)
    mean_dist = np.linalg.norm(pc - po, axis=-1).mean(axis=-1)
    sizes = _sizes(objects) if object_sizes is None else object_sizes
    return mean_dist / np.minimum(_sizes(candidates)[:, None], sizes[None, :])


class FaceDistance(Distance):
    """norfair's distance between tracked faces and detections (``tracker.distance``).

    With the size-normalised distance, a tracked face is never smaller than when it was last
    detected: a face the detector misses for a few frames coasts on the Kalman estimate, whose
    box keeps the size trend of its last noisy detections and can shrink to half the face in a
    few frames; normalised by that, the face found again is "too far" and starts a new track,
    one person counted twice. (Town Centre with every other frame: a 15 px walker's estimate
    fell to 7.5 px over two missed frames.)"""

    def __init__(self, kind: Literal["euclidean", "iou"]):
        self.kind = kind

    def get_distances(self, objects: Sequence[TrackedObject],
                      candidates: Sequence[Detection] | Sequence[TrackedObject] | None) -> np.ndarray:
        out = np.full((len(candidates or ()), len(objects)), np.inf, np.float32)
        if not objects or not candidates:
            return out
        obj = np.stack([o.estimate.ravel() for o in objects])
        cand = np.stack([np.asarray(c.points if isinstance(c, Detection) else c.estimate).ravel() for c in candidates])
        if self.kind == "iou":
            return iou_distance(cand, obj).astype(np.float32)
        # a norfair object always has a last detection (it starts from one)
        seen = _sizes(np.stack([np.asarray(o.last_detection.points).ravel() for o in objects]))
        return size_normalized_distance(cand, obj, np.maximum(_sizes(obj), seen)).astype(np.float32)


PATCH = 16  # side of the grey patch compared for the static-face test
REJOIN_SIZE_RATIO = 2.0  # tracker.rejoin_frames: a new face this much larger or smaller is someone else
# ... and a new track seen at the same time as a confirmed one may still continue it when its box
# stayed within this many face sizes of that track's face and the two were never both classified
# on one frame: a second, unsure box on the same person (a hand on the cheek, the face blurred by
# a pan) that takes the face over when the track loses it, not a second face.
REJOIN_BESIDE = 0.75
BESIDE_WATCH = 4.0  # ... faces farther apart than REJOIN_BESIDE and up to this are noted as apart


def look(image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """The zero-mean grey PATCH x PATCH patch of ``image`` in ``box`` (None when the box is off
    the image). Zero mean, so a global brightness change is not a change of look."""
    h, w = image.shape[:2]
    x1, y1 = max(int(box[0]), 0), max(int(box[1]), 0)
    x2, y2 = min(int(np.ceil(box[2])), w), min(int(np.ceil(box[3])), h)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    region = cv2.resize(image[y1:y2, x1:x2], (PATCH, PATCH), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY) if region.ndim == 3 else region
    grey = grey.astype(np.float32)
    return grey - grey.mean()


def _note_beside(seen: list["Track"]) -> None:
    """Tracks detected on one frame: each one without an id yet notes the confirmed ones whose
    face is within REJOIN_BESIDE face sizes of its own (the farthest they were seen apart; inf
    once seen farther apart, up to BESIDE_WATCH face sizes) and whether both faces were classified on
    this frame (two faces judged at once are two people). Vectorised: a crowd has hundreds of
    confirmed faces a frame."""
    new = [t for t in seen if t.id is None and t.face is not None]
    confirmed = [(t.id, t.face) for t in seen if t.id is not None and t.face is not None]
    if not new or not confirmed:
        return
    index = {tid: k for k, (tid, _) in enumerate(confirmed)}
    centers = np.array([f.center for _, f in confirmed], np.float64)
    sizes = np.array([max(f.width, f.height) for _, f in confirmed], np.float64)
    judged = np.array([f.mask_prob is not None for _, f in confirmed])
    for track in new:
        face = track.face
        assert face is not None
        dist = np.hypot(*(centers - np.asarray(face.center, np.float64)).T) / np.maximum(
            sizes, max(face.width, face.height, 1.0))
        for tid in track.beside:  # seen near before, far now: someone else
            if tid in index and dist[index[tid]] > REJOIN_BESIDE:
                track.beside[tid] = np.inf
        for k in np.nonzero((dist > REJOIN_BESIDE) & (dist <= BESIDE_WATCH))[0]:  # far now, near later: someone else
            track.beside[confirmed[k][0]] = np.inf
        for k in np.nonzero(dist <= REJOIN_BESIDE)[0]:
            tid, _ = confirmed[k]
            track.beside[tid] = max(track.beside.get(tid, 0.0), float(dist[k]))
            if judged[k] and face.mask_prob is not None:
                track.judged_with.add(tid)


@dataclass(eq=False)
class Track:
    """One followed face: where it is, what it voted, how far it moved."""

    votes: VoteState
    first_frame: int  # tick of the first detection (see the module docstring)
    box: np.ndarray  # (4,) current Kalman estimate x1, y1, x2, y2
    id: int | None = None  # given once the track is confirmed (initialized by norfair, and strong)
    strong: bool = False  # one of its detections reached the detector's score threshold
    last_seen: int = -1  # tick of the last matching detection
    first_s: float = 0.0  # stream time of the first and latest detection
    last_s: float = 0.0
    detections: int = 0
    face: Face | None = None  # the face of the latest matching detection
    moved: bool = False  # box centre moved more than static_max_motion face sizes (sticky)
    looks: int = 0  # detections whose first-box region was compared with the first look
    changes: int = 0  # ... and differed by more than static_max_change grey levels
    _ref_box: np.ndarray | None = None
    _ref_look: np.ndarray | None = None
    _cmin: np.ndarray = field(default_factory=lambda: np.full(2, np.inf))
    _cmax: np.ndarray = field(default_factory=lambda: np.full(2, -np.inf))
    _size_sum: float = 0.0
    embedding: np.ndarray | None = None  # running appearance, for re-identification (facemask.reid)
    merged: int = 0  # broken-off tracks re-identified as this one
    first_center: np.ndarray | None = None  # centre and size of the first detected box (rejoining)
    first_size: float = 0.0
    # before it got an id: the confirmed tracks seen near it, how far apart (face sizes, the most),
    # and those classified on a frame it was classified on too (see _note_beside)
    beside: dict[int, float] = field(default_factory=dict)
    judged_with: set[int] = field(default_factory=set)

    @property
    def span(self) -> int:
        """Frames from the first to the latest detection, both included."""
        return self.last_seen - self.first_frame + 1 if self.detections else 0

    @property
    def mean_size(self) -> float:
        return self._size_sum / self.detections if self.detections else 0.0

    @property
    def motion(self) -> float:
        """Extent of the detected centres over the track's life, in face sizes."""
        if not self.detections:
            return 0.0
        return float(np.max(self._cmax - self._cmin) / max(self.mean_size, 1.0))

    def is_static(self, filters: FiltersConfig, final: bool = False) -> bool:
        """Did not move and, where its look was compared, kept it on most detections, over
        ``static_after_frames`` frames or more; ``final`` (the track has ended): over its whole
        life, however short, provided its look was compared at least once."""
        if filters.static_after_frames == 0 or self.moved:
            return False
        if final:
            if self.looks == 0:
                return False
        elif self.span < filters.static_after_frames:
            return False
        return 2 * self.changes < self.looks or self.looks == 0

    def observe(self, face: Face, frame: int, filters: FiltersConfig, image: np.ndarray | None = None,
                time_s: float | None = None) -> None:
        """A detection matched this track (``frame``: its tick): record position and look, and
        the face's classifier vote."""
        self.face = face
        self.last_seen = frame
        if time_s is not None:
            if not self.detections:
                self.first_s = time_s
            self.last_s = time_s
        if not self.detections:
            self.first_center = np.array(face.center, np.float64)
            self.first_size = float(max(face.width, face.height))
        self.detections += 1
        self._size_sum += max(face.width, face.height)
        centre = np.array(face.center)
        self._cmin = np.minimum(self._cmin, centre)
        self._cmax = np.maximum(self._cmax, centre)
        self.moved = self.moved or self.motion > filters.static_max_motion
        if image is not None and filters.static_after_frames > 0 and not self.moved:
            self._compare_look(image, face.box, filters.static_max_change)
        self.votes.cast(face.mask_prob, face.class_probs)  # None (not classified) casts no vote

    def _compare_look(self, image: np.ndarray, box: np.ndarray, max_change: float) -> None:
        if self._ref_box is None:
            self._ref_box = np.asarray(box, np.float32).copy()
            self._ref_look = look(image, self._ref_box)
            return
        now = look(image, self._ref_box)
        if now is None or self._ref_look is None:
            return
        self.looks += 1
        self.changes += float(np.abs(now - self._ref_look).mean()) > max_change

    def close(self) -> None:
        """The track has ended: drop what only a live track needs (its reference patch)."""
        self._ref_look = None
        self.embedding = None

    def absorb(self, other: "Track") -> None:
        """``other`` (a new track re-identified as this person) continues this track: its votes and
        detections become this track's. The motion extent covers both (a person who came back
        elsewhere moved)."""
        self.votes.merge(other.votes)
        self.detections += other.detections
        self._size_sum += other._size_sum
        self._cmin = np.minimum(self._cmin, other._cmin)
        self._cmax = np.maximum(self._cmax, other._cmax)
        self.moved = self.moved or other.moved
        self.strong = self.strong or other.strong
        if other.detections and other.last_seen > self.last_seen:
            self.last_seen, self.face = other.last_seen, other.face
        self.merged += 1 + other.merged

    def carried_face(self) -> Face | None:
        """The latest detected face moved to the current Kalman estimate (for frames without detection)."""
        if self.face is None:
            return None
        f = self.face
        shift = (self.box[:2] + self.box[2:]) / 2 - np.asarray(f.center)
        return Face(
            box=self.box.astype(np.float32), score=f.score,
            landmarks=None if f.landmarks is None else (f.landmarks + shift).astype(np.float32),
            source="tracker", skip_reason=f.skip_reason, track_id=self.id,
        )


@dataclass
class TrackerStep:
    active: list[Track]  # tracks alive after this frame (confirmed or not)
    started: list[Track]  # tracks confirmed (given an id) on this frame
    ended: list[Track]  # tracks that died on this frame
    # This frame's detections to show: those at the detector's threshold, and weaker ones that
    # continue a track which had one (a weak face alone is only a candidate).
    shown: list[Face] = field(default_factory=list)


class FaceTracker:
    """norfair's Tracker plus per-track votes and motion. Call :meth:`update` once per frame."""

    def __init__(self, cfg: TrackerConfig, vote: VoteConfig, filters: FiltersConfig, local_search: bool = False,
                 strong_score: float = 0.0, fps: float = 25.0):
        """``local_search``: the caller detects on every frame (whole frame or regions), not on
        one in ``detect_every``. ``strong_score``: a track is confirmed only once a detection
        scores at least this (faces below it only keep tracks going; see tracker.keep_score).
        ``fps``: the source's nominal frame rate, which turns timestamps into ticks."""
        self.cfg, self.vote, self.filters = cfg, vote, filters
        self.fps = fps if fps > 0 else 25.0
        self._tick: int | None = None
        self.strong_score = strong_score
        self._next_id = 1
        self._first_period = 1 if local_search else cfg.detect_every
        self._with_landmarks = cfg.points == "box_landmarks"
        self._reid = cfg.reid_hit_counter_max > 0
        self._lost: dict[TrackedObject, Track] = {}  # dead norfair objects kept for re-identification
        self._merged_away: set[int] = set()  # ids of the tracks absorbed on this update
        # tracker.rejoin_frames: confirmed tracks whose norfair object died, kept (not yet ended)
        # for a new track to continue them
        self._rejoin = cfg.rejoin_frames > 0
        self._held: list[Track] = []
        self.rejoined = 0  # new tracks that continued a broken one (see _rejoin_target)
        self._cuts = SceneCutDetector(cfg.scene_cut_threshold) if cfg.scene_cut_threshold > 0 else None
        self.scene_cuts: list[int] = []  # frames where a scene cut ended every track
        self._norfair = self._new_norfair()
        self._tracks: dict[TrackedObject, Track] = {}  # norfair TrackedObject -> Track
        self.last_detection_frame: int | None = None
        self._since_detection = 0

    def _new_norfair(self) -> Tracker:
        cfg = self.cfg
        reid_kw: dict[str, Any] = {}
        if self._reid:
            reid_kw = dict(
                reid_distance_function=reid.make_reid_distance(
                    self._track_of, cfg.reid_max_jump, cfg.reid_embedding,
                    can_continue=lambda track: not track.is_static(self.filters, final=True)),
                reid_distance_threshold=cfg.reid_distance_threshold,
                reid_hit_counter_max=cfg.reid_hit_counter_max,
            )
        tracker = Tracker(
            distance_function="iou",  # replaced below by our vectorized distance
            distance_threshold=cfg.distance_threshold,
            hit_counter_max=cfg.hit_counter_max,
            # A new track starts at hit_counter = period and gains one period per detection cycle,
            # so this delay confirms it on its ``init_detections``-th detection cycle (with local
            # search, after that many cycles' worth of frames of consecutive detections).
            initialization_delay=cfg.detect_every * cfg.init_detections - 1,
            filter_factory=OptimizedKalmanFilterFactory(R=cfg.kalman_r, Q=cfg.kalman_q),
            past_detections_length=0,
            **reid_kw,
        )
        # norfair's constructor takes a distance name or a scalar (per-pair, slow) function; a
        # vectorized one with our own metric is set on the instance.
        tracker.distance_function = FaceDistance(cfg.distance)  # type: ignore[assignment]
        return tracker

    def _track_of(self, obj) -> Track | None:
        return self._tracks.get(obj) or self._lost.get(obj)

    def _scene_cut(self, frame: int) -> list[Track]:
        """End every track (live or kept for re-identification) and start a fresh tracker."""
        ended = list(self._tracks.values()) + list(self._lost.values()) + self._held
        for track in ended:
            track.close()
        self._tracks, self._lost, self._held = {}, {}, []
        self._norfair = self._new_norfair()
        self.last_detection_frame = None
        self._since_detection = 0
        self.scene_cuts.append(frame)
        return ended

    def tick(self, time_s: float) -> int:
        """The tick of a timestamp (see the module docstring)."""
        return int(round(time_s * self.fps))

    def update(self, time_s: float, faces: list[Face] | None, image: np.ndarray | None = None,
               cut: bool = False) -> TrackerStep:
        """Advance to the frame at ``time_s`` (seconds of stream time). ``faces`` are this
        frame's detections (classified or not), or None when the detector did not run on this
        frame; ``image`` (BGR) is the frame, for the static-face test. Ticks skipped since the
        previous frame (a live source that fell behind) are stepped through without detections,
        so the Kalman filter predicts over the real time and the hit counters age by it. The
        image also serves the scene-cut test and re-identification. ``cut``: the footage jumps
        here (:attr:`facemask.types.Frame.cut`): every track ends, as at a detected scene cut."""
        frame = self.tick(time_s)
        cut_ended: list[Track] = []
        detected_cut = self._cuts is not None and image is not None and self._cuts.update(image)
        if cut or detected_cut:
            cut_ended = self._scene_cut(frame)
        if self._tick is not None and frame > self._tick + 1:
            gap = min(frame - self._tick - 1, self.cfg.hit_counter_max + 1)
            # The Kalman filter predicts over the skipped ticks and the hit counters age by them,
            # but ticks nobody looked at cannot end a track: one whose counter ran out in the gap
            # gets this frame's detections to be found again, and ends if it is not.
            # (dead objects kept for re-identification stay dead)
            counters = {obj: obj.hit_counter for obj in self._norfair.tracked_objects if obj.hit_counter_is_positive}
            for obj in counters:
                obj.hit_counter = gap + 1
            for _ in range(gap):
                self._norfair.update()
                self._since_detection += 1
            for obj, counter in counters.items():
                obj.hit_counter = max(counter - gap, 0)
        self._tick = max(frame, self._tick if self._tick is not None else frame)
        if faces is None:
            self._norfair.update()
            self._since_detection += 1
        else:
            dets = [Detection(face_points(f, self._with_landmarks), data=(frame, f, image)) for f in faces if f.width > 0 and f.height > 0]
            # norfair's period: tracker steps per detection, so a track's hit counter gains as
            # much per detection as it loses over the frames without one.
            period = self._first_period if self.last_detection_frame is None else self._since_detection + 1
            self._norfair.update(dets, period=period)
            self.last_detection_frame = frame
            self._since_detection = 0
        started: list[Track] = []
        confirming: list = []  # norfair objects whose new track gets an id (or rejoins) now
        alive: dict[TrackedObject, Track] = {}
        supported: set[int] = set()  # ids of the weak faces matched to a strong track
        objects = self._norfair.tracked_objects
        if self._reid:
            self._absorb_merged(objects)
        lost: dict[TrackedObject, Track] = {}
        for obj in objects:
            if not obj.hit_counter_is_positive:
                # dead: norfair drops it at the next update (it can never match again) or, with
                # re-identification, keeps it until reid_hit_counter_max to compare new tracks with
                known = self._tracks.get(obj) or self._lost.get(obj)
                if self._reid and known is not None and known.id is not None:
                    lost[obj] = known
                continue
            track = self._tracks.get(obj) or self._lost.get(obj)  # a lost one is back (re-identified)
            est = obj.estimate[:2].reshape(4)
            if track is None:
                track = Track(votes=VoteState(self.vote), first_frame=frame, box=est.copy())
            track.box = est.copy()
            stamp, face = obj.last_detection.data[:2]
            if faces is not None and stamp == frame:
                track.observe(face, frame, self.filters, image, time_s)
                # its look, now and then (every detect_every-th detection), for re-identification
                if self._reid and image is not None and track.id is not None and (
                        track.embedding is None or track.detections % self.cfg.detect_every == 0):
                    track.embedding = reid.blend(track.embedding, reid.appearance(image, face.box, self.cfg.reid_embedding))
                track.strong = track.strong or face.score >= self.strong_score
                if track.strong:
                    supported.add(id(face))
            if track.id is None and obj.id is not None and track.strong:
                confirming.append(obj)
            if track.id is not None and track.face is not None and track.last_seen == frame:
                track.face.track_id = track.id
            alive[obj] = track
        if self._rejoin and faces is not None:
            _note_beside([t for t in alive.values() if t.last_seen == frame])
        for obj in confirming:
            track = alive[obj]
            old = self._rejoin_target(track, alive, lost) if self._rejoin else None
            if old is not None:
                # the new track continues the broken one: same id, one ballot box; the old
                # norfair object (coasting off where the face is not, or dead and kept for
                # re-identification) is dropped
                dropped = {id(o) for o, t in [*alive.items(), *lost.items()] if t is old}
                alive = {o: t for o, t in alive.items() if id(o) not in dropped}
                lost = {o: t for o, t in lost.items() if id(o) not in dropped}
                self._norfair.tracked_objects = [o for o in self._norfair.tracked_objects if id(o) not in dropped]
                self._held = [t for t in self._held if t is not old]
                old.absorb(track)
                old.box = track.box.copy()
                alive[obj] = old
                self.rejoined += 1
                track = old
            else:
                track.id = self._next_id
                self._next_id += 1
                started.append(track)
            if track.face is not None and track.last_seen == frame:
                track.face.track_id = track.id
        merged_away = self._merged_away
        living = {id(t) for t in alive.values()}
        ended = [t for obj, t in self._tracks.items()
                 if obj not in alive and obj not in lost and id(t) not in merged_away and id(t) not in living]
        ended += [t for obj, t in self._lost.items() if obj not in alive and obj not in lost and id(t) not in living]
        if self._rejoin:
            # a confirmed, moving track that broke off waits rejoin_frames (plus the time a new
            # track takes to be confirmed) for a new track to continue it before it ends
            wait = self.cfg.rejoin_frames + self.cfg.detect_every * self.cfg.init_detections
            held = [t for t in ended if t.id is not None and not t.is_static(self.filters, final=True)]
            ended = [t for t in ended if not any(t is h for h in held)]
            pool = self._held + held
            ended += [t for t in pool if frame - t.last_seen > wait]
            self._held = [t for t in pool if frame - t.last_seen <= wait]
        ended = cut_ended + ended
        for track in ended:
            track.close()
        self._tracks, self._lost = alive, lost
        self._merged_away = set()
        shown = [f for f in faces or [] if f.score >= self.strong_score or id(f) in supported]
        return TrackerStep(active=list(alive.values()), started=started, ended=ended, shown=shown)

    def finish(self) -> list[Track]:
        """End every track (end of the video); returns them."""
        ended = list(self._tracks.values()) + list(self._lost.values()) + self._held
        for track in ended:
            track.close()
        self._tracks, self._lost, self._held = {}, {}, []
        return ended

    def _rejoin_target(self, new: Track, alive: dict, lost: dict) -> Track | None:
        """The broken track that ``new`` (about to be confirmed) continues, if any
        (``tracker.rejoin_frames``): a confirmed track last detected before ``new`` started, at most
        rejoin_frames ticks before, within rejoin_max_jump face sizes of where ``new`` started and
        of a similar size (a factor of REJOIN_SIZE_RATIO); and the only confirmed track, lost or
        live, whose last detected face is that near: where two people could claim the face (a
        crowd), nothing is joined. A track seen while ``new`` was is joined only when ``new`` was a
        second box on its face (REJOIN_BESIDE)."""
        if new.first_center is None:
            return None
        cfg = self.cfg
        near: list[tuple[float, Track]] = []
        # lost: dead tracks kept for re-identification (tracker.reid_hit_counter_max) are broken
        # tracks too
        others = [t for t in alive.values() if t.id is not None] + self._held + list(lost.values())
        for old in others:
            if old is new or old.face is None or not old.detections:
                continue
            size = max(old.mean_size, new.first_size, 1.0)
            jump = float(np.hypot(*(np.asarray(old.face.center) - new.first_center))) / size
            if jump <= cfg.rejoin_max_jump:
                near.append((jump, old))
        if len(near) != 1:
            return None
        old = near[0][1]
        if new.first_frame > old.last_seen + cfg.rejoin_frames:
            return None  # too long ago
        if new.first_frame <= old.last_seen and not (
                old.id is not None and new.beside.get(old.id, np.inf) <= REJOIN_BESIDE and old.id not in new.judged_with):
            return None  # seen together: two people (unless ``new`` was a second box on ``old``'s face)
        ratio = max(new.first_size, 1.0) / max(old.mean_size, 1.0)
        if not 1 / REJOIN_SIZE_RATIO <= ratio <= REJOIN_SIZE_RATIO:
            return None
        if old.is_static(self.filters, final=True):
            return None  # a poster does not walk off and come back
        return old

    def _absorb_merged(self, objects: Sequence[TrackedObject]) -> None:
        """norfair merged a new (initializing) object into an old one and removed it, handing it
        the new one's latest detection: move the new track's votes into the old track."""
        by_detection = {id(o.last_detection): o for o in objects}
        present = set(map(id, objects))
        self._merged_away = set()
        for obj, track in list(self._tracks.items()):
            if id(obj) in present:
                continue  # (a merged object may have just ended its initialization: not checked)
            target = by_detection.get(id(obj.last_detection))
            old = self._track_of(target) if target is not None else None
            if old is None or old is track:
                continue
            old.absorb(track)
            self._merged_away.add(id(track))

    def carried_faces(self, time_s: float) -> list[Face]:
        """Faces of the tracks not detected at ``time_s`` but within the last ``detect_every``
        ticks, at their Kalman estimate: a face missed for a frame or two is still drawn, and
        on the frames between full detections without local search every track matched at the
        latest detection is (tracks coasting for longer are not shown)."""
        frame = self.tick(time_s)
        out = []
        for track in self._tracks.values():
            if track.strong and track.last_seen < frame and frame - track.last_seen < self.cfg.detect_every:
                face = track.carried_face()
                if face is not None:
                    out.append(face)
        return out

    def predicted_boxes(self) -> np.ndarray:
        """(N, 4) where the live tracks (confirmed or not) should be on the next frame: the Kalman
        estimate moved by its velocity; where local search looks for them."""
        boxes = []
        for obj in self._tracks:
            pts = obj.estimate[:2] + obj.estimate_velocity[:2]
            if not np.isfinite(pts).all():
                continue
            boxes.append(np.concatenate([pts.min(axis=0), pts.max(axis=0)]))  # corners may cross
        return np.array(boxes, np.float64).reshape(-1, 4)

    @property
    def tracks(self) -> list[Track]:
        return list(self._tracks.values())
