"""Tracking, static faces, people statistics and the video session, on synthetic faces whose
truth is known (the real videos are in test_video_people.py)."""

import csv
import json

import numpy as np
import pytest

from facemask.config import Config, parse_config
from facemask.detectors import Detector
from facemask.errors import ConfigError
from facemask.geometry import box_iou
from facemask.pipeline import FramePipeline
from facemask.stats import PeopleStats
from facemask.tracking import FaceTracker, iou_distance, size_normalized_distance
from facemask.types import INCORRECT, MASK, NO_MASK, Face
from facemask.video import VideoSession

INC_PROBS = {MASK: 0.05, NO_MASK: 0.2, INCORRECT: 0.75}


def face(x, y, size=30, prob=None, class_probs=None):
    f = Face(box=np.array([x, y, x + size, y + size], np.float32), score=0.9)
    f.mask_prob = prob
    f.class_probs = class_probs
    return f


def cfg(**sections) -> Config:
    """A config; the detector runs on every frame unless the test says otherwise."""
    sections.setdefault("tracker", {}).setdefault("detect_every", 1)
    return parse_config(sections)


def run_tracker(config: Config, frames, image=None):
    """frames: list of face lists (the detections of every frame); the detector 'runs' on one
    frame in detect_every, like VideoSession. Returns (tracker, started, ended, carried)."""
    tr = FaceTracker(config.tracker, config.vote, config.filters)
    started, ended, carried = [], [], {}
    for i, faces in enumerate(frames):
        due = i % config.tracker.detect_every == 0
        step = tr.update(i / 25, faces if due else None, image(i) if image else None)
        started += step.started
        ended += step.ended
        if not due:
            carried[i] = tr.carried_faces(i / 25)
    return tr, started, ended + tr.finish(), carried


def iou(a, b) -> float:
    return float(box_iou(a, b)[0, 0])


# ---------------------------------------------------------------- distances


def test_distances_against_hand_computed_values():
    a = np.array([[0, 0, 10, 10], [100, 100, 110, 110]], float)
    b = np.array([[5, 0, 15, 10]], float)
    assert iou_distance(a, b)[:, 0] == pytest.approx([1 - 50 / 150, 1.0])
    # corners 5 px off each, for a 10 px face: half a face size
    assert size_normalized_distance(a, b)[0, 0] == pytest.approx(0.5)


# ---------------------------------------------------------------- tracks


def test_a_face_missed_for_a_moment_is_found_again_though_its_estimate_shrank():
    """A 15 px face whose noisy detections shrink for a few frames, then missed on two: the
    Kalman estimate carries the shrinking on (the box coasts down to a few px), and the face,
    found again at its size a little further on, must still be the same track."""
    sizes = [15] * 20 + [15, 14, 13, 12, 11]
    frames = [[face(100 + 1.5 * i, 50, size=s)] for i, s in enumerate(sizes)]
    frames += [[], [], []]  # missed
    frames += [[face(100 + 1.5 * i + 6, 50, size=15)] for i in range(28, 50)]
    tr, started, ended, _ = run_tracker(cfg(), frames)
    assert [t.id for t in started] == [1], [(t.id, t.first_frame) for t in started]
    assert len([t for t in ended if t.id is not None]) == 1




@pytest.mark.parametrize("every", [1, 2, 3, 4])
def test_a_walking_face_keeps_one_id_and_is_carried_between_detections(every):
    truth = [(20 + 3 * i, 40 + 1 * i) for i in range(60)]
    config = cfg(tracker={"detect_every": every})
    _, started, ended, carried = run_tracker(config, [[face(x, y)] for x, y in truth])
    assert [t.id for t in started] == [1] and len(ended) == 1
    track = ended[0]
    assert track.detections == len(range(0, 60, every)) and track.moved
    # Between detections the Kalman estimate follows the face once its speed is known.
    for i, faces in carried.items():
        assert len(faces) == 1 and faces[0].source == "tracker"
        if i > 15:
            x, y = truth[i]
            assert iou(faces[0].box, [x, y, x + 30, y + 30]) > 0.7, i


def test_two_faces_side_by_side_keep_their_own_ids():
    frames = [[face(50 + 2 * i, 50), face(100 + 2 * i, 52)] for i in range(40)]
    config = cfg(tracker={"detect_every": 2})
    tr = FaceTracker(config.tracker, config.vote, config.filters)
    seen = {}
    for i, faces in enumerate(frames):
        tr.update(i / 25, faces if i % 2 == 0 else None)
        for f, slot in zip(faces, "ab"):
            if i % 2 == 0 and f.track_id is not None:
                seen.setdefault(slot, set()).add(f.track_id)
    assert len(seen["a"]) == 1 and len(seen["b"]) == 1 and seen["a"] != seen["b"]


def test_a_single_false_detection_never_gets_an_id():
    frames = [[face(50, 50)]] + [[] for _ in range(30)]
    _, started, ended, _ = run_tracker(cfg(), frames)
    assert started == [] and [t.id for t in ended] == [None]


@pytest.mark.parametrize("every", [1, 3])
def test_a_face_that_leaves_ends_its_track_once_within_hit_counter_max(every):
    hcm = 12
    config = cfg(tracker={"detect_every": every, "hit_counter_max": hcm})
    frames = [[face(60, 60)] for _ in range(30)] + [[] for _ in range(40)]
    tr = FaceTracker(config.tracker, config.vote, config.filters)
    ended_at = []
    for i, faces in enumerate(frames):
        step = tr.update(i / 25, faces if i % every == 0 else None)
        ended_at += [i for _ in step.ended]
    last_seen = max(i for i in range(30) if i % every == 0)
    assert len(ended_at) == 1 and last_seen < ended_at[0] <= last_seen + hcm + every
    assert tr.tracks == []


def test_only_classified_detections_vote():
    """Frames without a classifier output (filtered, not detected, detector skipped) cast no
    vote: a face never classified stays undecided however long it is followed."""
    every = 3
    config = cfg(tracker={"detect_every": every})
    unclassified = [[face(40 + i, 40)] for i in range(90)]
    _, _, ended, _ = run_tracker(config, unclassified)
    votes = ended[0].votes
    assert votes.decision == "undecided" and votes.balance == 0 and votes.counts["none"] == 30

    half = [[face(40 + i, 40, prob=0.95 if (i // every) % 2 else None)] for i in range(90)]
    _, _, ended, _ = run_tracker(config, half)
    votes = ended[0].votes
    assert votes.counts[MASK] == 15 and votes.counts["none"] == 15 and votes.decision == MASK


def test_bad_tracker_config_is_one_clear_error():
    with pytest.raises(ConfigError, match="hit_counter_max must be at least detect_every"):
        parse_config({"tracker": {"detect_every": 10, "hit_counter_max": 12, "init_detections": 2}})
    with pytest.raises(ConfigError, match="tracker.distance"):
        parse_config({"tracker": {"distance": "cosine"}})


# ---------------------------------------------------------------- static faces


def scene(poster_changes: bool):
    """Grey frames with a textured 'poster' face at (60, 60) and a 'person' face at (140, 60)
    that does not move either but whose pixels change (talking, blinking...)."""
    rng = np.random.default_rng(0)
    base = np.full((200, 240, 3), 120, np.uint8)
    poster = rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)

    def image(i):
        frame = base.copy()
        frame[60:90, 60:90] = rng.integers(0, 255, (30, 30, 3), dtype=np.uint8) if poster_changes else poster
        frame[60:90, 140:170] = rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)
        return frame

    return image


@pytest.mark.parametrize("every", [1, 2])
def test_a_face_that_never_moves_nor_changes_is_static(every):
    config = cfg(tracker={"detect_every": every}, filters={"static_after_frames": 40})
    frames = [[face(60 + (i % 2), 60), face(140, 60 + (i % 2))] for i in range(80)]  # 1 px jitter
    _, _, ended, _ = run_tracker(config, frames, scene(poster_changes=False))
    poster, person = sorted(ended, key=lambda t: t.face.box[0])
    assert not poster.moved and not person.moved  # box motion alone cannot tell them apart
    assert poster.is_static(config.filters) and poster.changes == 0
    assert not person.is_static(config.filters) and person.changes == person.looks > 0


def test_a_walking_face_is_never_static_and_young_tracks_are_judged_when_they_end():
    config = cfg(filters={"static_after_frames": 40})
    _, _, ended, _ = run_tracker(config, [[face(10 + 2 * i, 60)] for i in range(80)], scene(False))
    assert ended[0].moved and not ended[0].is_static(config.filters, final=True)
    _, _, ended, _ = run_tracker(config, [[face(60, 60), face(140, 60)] for _ in range(30)], scene(False))
    poster, person = sorted(ended, key=lambda t: t.face.box[0])
    assert not poster.is_static(config.filters)  # alive: 30 frames < static_after_frames
    assert poster.is_static(config.filters, final=True)  # ended: its whole life is the evidence
    assert not person.is_static(config.filters, final=True)


# ---------------------------------------------------------------- people statistics


def people_run(config, frames, fps=10.0, image=None):
    tr = FaceTracker(config.tracker, config.vote, config.filters, fps=fps)
    stats = PeopleStats(config.stats, config.filters, fps)
    events = []
    for i, faces in enumerate(frames):
        due = i % config.tracker.detect_every == 0
        step = tr.update(i / fps, faces if due else None, image(i) if image else None)
        events += stats.update(i / fps, step.active, step.ended)
    events += stats.finish(tr.finish())
    return stats, events


def test_counts_and_pct_masked_among_decided_with_incorrect_apart():
    """Seven walkers: masked, unmasked, mask worn incorrectly, classified but sure only twice
    (undecided), classified but never sure and never classified (both face not seen: not a
    person), and one seen for 3 frames only (not a person)."""
    config = cfg(stats={"min_track_frames": 5})
    frames = []
    for i in range(40):
        row = [face(10 + i, 10, prob=0.95), face(10 + i, 60, prob=0.05), face(10 + i, 110, prob=0.05, class_probs=INC_PROBS),
               face(10 + i, 160, prob=0.05 if i in (10, 20) else 0.5), face(10 + i, 210), face(10 + i, 260, prob=0.5)]
        if i < 3:
            row.append(face(300, 300 + 2 * i, prob=0.95))
        frames.append(row)
    stats, _ = people_run(config, frames)
    c = stats.counters()
    assert (c["people"], c["masked"], c["unmasked"], c["mask_incorrect"], c["undecided"]) == (4, 1, 2, 1, 1)
    assert c["face_not_seen"] == 2
    assert c["decided"] == 3 and c["pct_masked"] == pytest.approx(33.33)
    statuses = sorted(r["status"] for r in stats.ended_rows)
    assert statuses == ["face_not_seen"] * 2 + ["person"] * 4 + ["short"]


def test_events_tell_the_story_of_one_person_putting_a_mask_on():
    config = cfg(vote={"cap": 10, "min_votes": 3})
    probs = [0.05] * 20 + [0.95] * 30
    _, events = people_run(config, [[face(10 + i, 10, prob=p)] for i, p in enumerate(probs)])
    events = [e.to_json() for e in events]
    mine = [(e["event"], e["decision"]) for e in events]
    assert mine == [
        ("track_started", "undecided"), ("decided", NO_MASK), ("person", NO_MASK),
        ("decision_changed", "undecided"), ("decision_changed", MASK), ("track_ended", MASK),
    ]
    changed = [e for e in events if e["event"] == "decision_changed"]
    # capped at -10 by frame 19: undecided after 8 mask votes, masked after 13
    assert [e["frame"] for e in changed] == [27, 32] and changed[1]["previous"] == "undecided"
    assert all(e["track_id"] == 1 and {"frame", "time_s", "balance", "status"} <= e.keys() for e in events)
    assert events[-1]["mask_votes"] == 30 and events[-1]["no_mask_votes"] == 20


def test_a_static_face_is_reported_apart_and_becomes_a_person_when_it_changes():
    config = cfg(filters={"static_after_frames": 20})
    still, changing = scene(poster_changes=False), scene(poster_changes=True)
    tr = FaceTracker(config.tracker, config.vote, config.filters, fps=10.0)
    stats = PeopleStats(config.stats, config.filters, 10.0)
    statuses = []
    for i in range(120):
        image = changing(i) if i >= 40 else still(i)  # someone steps in front of the poster at 40
        step = tr.update(i / 10.0, [face(60, 60, prob=0.95)], image)
        stats.update(i / 10.0, step.active, step.ended)
        statuses.append(stats.records[1].status if 1 in stats.records else None)
    assert statuses[25] == "static" and stats.counters()["people"] == 1
    assert statuses[30] == "static" and statuses[-1] == "person"


def test_time_series_per_interval_and_snapshot():
    config = cfg(stats={"interval_s": 1.0, "min_track_frames": 3})
    frames = [[face(10 + 3 * i, 10, prob=0.95)] + ([face(10 + 3 * i, 80, prob=0.05)] if 12 <= i < 30 else []) for i in range(35)]
    stats, _ = people_run(config, frames, fps=10.0)
    assert [(s["start_s"], s["people"], s["masked"], s["unmasked"], s["new_people"]) for s in stats.series] == [
        (0.0, 1, 1, 0, 1), (1.0, 2, 1, 1, 1), (2.0, 2, 1, 1, 0), (3.0, 1, 1, 0, 0),
    ]
    assert stats.series[1]["pct_masked"] == 50.0


# ---------------------------------------------------------------- video session


class ScriptedDetector(Detector):
    """Two walkers; the first wears a mask, the second does not."""

    def __init__(self):
        self.calls = []

    def detect(self, frame, min_score=None):
        i = int(frame[0, 0, 0])  # the frame index is written into the image
        self.calls.append(i)
        return [face(20 + 2 * i, 40), face(20 + 2 * i, 120)]


class ScriptedClassifier:
    def classify(self, frame, faces):
        for f in faces:
            f.mask_prob = 0.95 if f.box[1] < 100 else 0.05
            f.class_probs = {MASK: f.mask_prob, NO_MASK: 1 - f.mask_prob}
            f.label = MASK if f.mask_prob > 0.5 else NO_MASK


def test_video_session_detects_every_n_frames_and_reports(tmp_path):
    config = cfg(tracker={"detect_every": 3}, stats={"min_track_frames": 5})
    det = ScriptedDetector()
    session = VideoSession(config, 25.0, FramePipeline(config, detector=det, classifier=ScriptedClassifier()))
    frame_events = []
    for i in range(60):
        image = np.zeros((240, 320, 3), np.uint8)
        image[0, 0, 0] = i
        result = session.process(image, i)
        drawn = session.draw(image, result)
        assert drawn.shape == (240, 320, 3) and len(result.faces) == 2
        assert {f.source for f in result.faces} == ({"face"} if i % 3 == 0 else {"tracker"})
        frame_events.append(session.pop_events())
    assert det.calls == list(range(0, 60, 3))
    assert session.pop_events() == []  # each event is handed out once
    snap = session.snapshot()
    assert (snap["people"], snap["masked"], snap["unmasked"], snap["in_view"], snap["pct_masked"]) == (2, 1, 1, 2, 50.0)
    assert snap["series"] and snap["series"][-1]["partial"]

    session.finish()
    ended = session.pop_events()
    assert [e.kind.value for e in ended] == ["track_ended", "track_ended"]
    paths = session.write_reports(tmp_path / "out")
    assert [p.name for p in paths] == ["out.summary.json", "out.people.csv"]
    summary = json.loads(paths[0].read_text())
    assert summary["people"] == 2 and summary["pct_masked"] == 50.0 and summary["rules"]["detect_every"] == 3
    rows = list(csv.DictReader(paths[1].open()))
    assert sorted((r["decision"], r["mask_votes"], r["no_mask_votes"]) for r in rows) == [("mask", "20", "0"), ("no_mask", "0", "20")]
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]
