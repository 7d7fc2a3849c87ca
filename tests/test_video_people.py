"""People on real video, with the product config (configs/config-x86.json) and the real models:
follow each person, decide once per person, count them, report % masked.

Each video is processed once per module (the 4-people clip through the command a user runs, so
its output files are checked too); the cost is the detector on one frame in detect_every plus
the local searches around the tracked faces in between.
"""

import csv
import json

import pytest

from facemask.config import load_config
from facemask.io.sources import VideoFileSource
from facemask.video import VideoSession
from tests.conftest import FOUR_PEOPLE, REPO, SHARED, VIDEOS, clip_from

PAINTING = (412, 78, 560, 270)  # the framed painting on the wall (a masked face in it), pixels


def inside(row: dict, area) -> bool:
    cx = (float(row["x1"]) + float(row["x2"])) / 2
    cy = (float(row["y1"]) + float(row["y2"])) / 2
    return area[0] <= cx <= area[2] and area[1] <= cy <= area[3]


def run_session(config, video, max_frames=None):
    events = []
    with VideoFileSource(video) as source:
        session = VideoSession(config, source.info.fps)
        for frame in source:
            if max_frames is not None and frame.index >= max_frames:
                break
            session.process(frame)
            events += session.pop_events()
    session.finish()
    return session, events + session.pop_events()


@pytest.fixture(scope="module")
def four_people(four_people_batch):
    proc, out = four_people_batch
    stem = out.with_suffix("")
    events = [json.loads(line) for line in stem.with_name("four.events.jsonl").read_text().splitlines()]
    summary = json.loads(stem.with_name("four.summary.json").read_text())
    rows = list(csv.DictReader(stem.with_name("four.people.csv").open()))
    return proc, events, summary, rows


def test_people_standing_still_are_people_and_the_painting_is_not(x86_config, tmp_path):
    """The last 4.5 s of the 4-people clip: four masked people standing still under the painting.
    None of them ends as a poster (filters.static_max_change: at 8 two of them did; a still face
    may be static for a while, until its look has changed often enough), and the painting is
    still no person."""
    session, ended = run_session(x86_config, clip_from(FOUR_PEOPLE, 300, tmp_path / "still.avi"))
    events = [e.to_json() for e in ended]
    people = [e for e in events if e["event"] == "person"]
    assert session.summary()["people"] == len(people) == 4, session.summary()
    ended = [e for e in events if e["event"] == "track_ended"]
    assert not [e for e in ended if e["status"] == "static" and not inside(e, PAINTING)], ended
    painting = [e for e in ended if inside(e, PAINTING)]
    assert painting and all(e["status"] != "person" for e in painting), painting


def test_four_people_are_counted_once_each_and_the_painting_is_not(four_people):
    proc, _, summary, rows = four_people
    people = [r for r in rows if r["status"] == "person"]
    assert summary["people"] == len(people) == 4, rows
    assert "people: 4" in proc.stdout
    # the painting's masked face is followed but reported as static, never as a person
    assert any(r["status"] == "static" and inside(r, PAINTING) for r in rows), rows
    assert not any(inside(r, PAINTING) for r in people)
    assert summary["static_faces"] >= 1


def test_four_people_unmasked_first_then_all_masked(four_people):
    _, events, summary, rows = four_people
    people = {int(r["track_id"]) for r in rows if r["status"] == "person"}
    for tid in people:
        mine = [e for e in events if e["track_id"] == tid and e["event"] in ("decided", "decision_changed")]
        assert mine and mine[0]["event"] == "decided", (tid, mine)
        assert mine[0]["decision"] == "no_mask" and mine[0]["time_s"] <= 2.0, (tid, mine[0])
        assert mine[-1]["decision"] == "mask", (tid, mine[-1])  # the change is in the events
    assert (summary["masked"], summary["unmasked"], summary["undecided"], summary["pct_masked"]) == (4, 0, 0, 100.0)
    assert [e["frame"] for e in events] == sorted(e["frame"] for e in events)


def test_four_people_outputs_are_complete(four_people):
    _, events, summary, rows = four_people
    assert {e["event"] for e in events} >= {"track_started", "person", "static", "decided", "decision_changed", "track_ended"}
    ended = [e for e in events if e["event"] == "track_ended"]
    assert sorted(e["track_id"] for e in ended) == sorted(int(r["track_id"]) for r in rows)
    assert summary["frames"] == 414 and summary["series"] and summary["series"][-1]["end_s"] <= 16.6


# Passes, narrowly: 2 people decided, both unmasked (a third "unmasked person" was a box over a
# whole woman far up the street, now not verified: tests/test_verify.py). A walker in a light hat
# (13-19 px face under the brim, frames 24-62 near (978,162)) is still called "mask" by the
# classifier, but only 2 of his detections reach detector.classify_score (0.7): 1 mask vote, short
# of a decision.
def test_town_centre_nobody_is_decided_masked(x86_config):
    session, _ = run_session(x86_config, VIDEOS / "towncentre_clip_1080p.mp4")
    c = session.stats.counters()
    assert c["decided"] >= 2, c  # enough people decided for the check to mean something
    masked = [r for r in session.stats.ended_rows if r["status"] == "person" and r["decision"] == "mask"]
    assert c["masked"] == 0, masked


# On the whole clip (199 frames): 12 of 261 decided people masked (4.60%), on palms and fists
# YuNet takes for faces and on the clip's cross-fades (a translucent grey shape over a face);
# without detector.classify_score (every detection voting) 20 of 300 (6.67%). Its first 40
# frames (1.6 s: ~200 faces a frame is the suite's heaviest clip) already hold ~180 decided
# people: 5 of 180 masked.
def test_stadium_hands_near_mouths_are_rarely_decided_masked(x86_config):
    session, _ = run_session(x86_config, VIDEOS / "crowd_stadium_dense_faces_720p.mp4", max_frames=40)
    c = session.stats.counters()
    assert c["decided"] >= 150, c
    assert c["masked"] <= 0.05 * c["decided"], c



# A man at a front door (face 9-14 px, backlit) walks in past the camera. At the door his face is
# lost for about a second; the Kalman estimate of the lost track coasts off (its box drifts away
# and shrinks to nothing), so when the face is found again it starts a new track: without
# tracker.rejoin_frames he is counted twice. Hand count: 1 person (shared data/video_people).
# With re-identification on too (tracker.reid_*), the lost track is kept for it as a dead norfair
# object: rejoining must still find it (it once did not, and he was counted twice).
@pytest.mark.parametrize("reid", [False, True], ids=["rejoin", "rejoin_and_reid"])
def test_a_person_whose_face_is_lost_for_a_moment_is_counted_once(x86_config, reid):
    assert x86_config.tracker.rejoin_frames > 0
    if reid:
        x86_config = load_config(REPO / "configs" / "config-x86.json", ["tracker.reid_hit_counter_max=90"])
    session, _ = run_session(x86_config, SHARED / "data" / "video_people" / "omullan_test4.avi")
    rows = [r for r in session.stats.ended_rows if r["status"] == "person"]
    assert session.stats.counters()["people"] == len(rows) == 1, list(session.stats.ended_rows)
    assert session.tracker.rejoined >= 1
    assert rows[0]["first_s"] <= 0.5 and rows[0]["last_s"] >= 5.0  # from the door to the camera


# A handheld pan along a hospital corridor: the seated young woman (P3, cheek on her hand, face
# ~50-70 px, 5.3-8.1 s) gets a second, unsure box beside her face (hand and cheek, under
# detector.classify_score) while her track still holds the face; in the pan's blur that box takes
# the face over and her first track coasts off. The two were seen together but never both
# classified, within REJOIN_BESIDE face sizes: one person. Before, she was counted twice (6
# people; the hand count is 4, and a wheelchair's checkered back is still counted as a fifth).
def test_a_second_box_that_takes_a_face_over_is_the_same_person(x86_config):
    session, _ = run_session(x86_config, SHARED / "data" / "video_people" / "wst54_mask2.mp4")
    people = [r for r in session.stats.ended_rows if r["status"] == "person"]
    # P3: the people detected at the left-hand beds (x < 400 px) after 5 s
    p3 = [r for r in people if r["first_s"] >= 5.0 and float(r["x2"]) < 400 and r["mean_face_px"] >= 40]
    assert len(p3) == 1, people
    assert p3[0]["first_s"] <= 5.6 and p3[0]["last_s"] >= 7.9, p3  # from where she appears to the end
    assert session.stats.counters()["people"] <= 5, people


# A live camera that falls behind processes only some frames, their real times kept. Town Centre
# with every other frame must count the people every frame counts: the 15 px walker near the top
# (frames 23-95) is missed on two processed frames in a row, and his Kalman box, shrinking with
# the trend of his last noisy detections, fell to half his size; measured against that box he
# was "too far" when found again and became a second track, each half classified once: not a
# person (tracking.FaceDistance keeps a coasting face at its last detected size).
def test_town_centre_with_every_other_frame_counts_the_people_of_every_frame(x86_config):
    def counts(keep_every):
        with VideoFileSource(VIDEOS / "towncentre_clip_1080p.mp4") as source:
            session = VideoSession(x86_config, source.info.fps)
            for frame in source:
                if frame.index % keep_every == 0:
                    session.process(frame)
        session.finish()
        c = session.stats.counters()
        return {k: c[k] for k in ("people", "masked", "unmasked", "undecided")}

    every = counts(1)
    assert every["people"] >= 3, every
    assert counts(2) == every
