"""Local search between full detections (tracker.local_search), the two score thresholds
(tracker.keep_score) and the classify threshold (detector.classify_score): hand-computed
regions, synthetic tracks whose truth is known, and the real YuNet on real Town Centre frames."""

import numpy as np
import pytest

from facemask.config import parse_config
from facemask.detectors import build_detector
from facemask.filters import LOW_SCORE, apply_filters
from facemask.geometry import box_iou, search_regions
from facemask.io.sources import VideoFileSource
from facemask.tracking import FaceTracker
from facemask.types import Face
from facemask.video import VideoSession
from tests.conftest import VIDEOS

TOWN = VIDEOS / "towncentre_clip_1080p.mp4"


def face(x, y, size=30, score=0.9, prob=None):
    f = Face(box=np.array([x, y, x + size, y + size], np.float32), score=score)
    f.mask_prob = prob
    return f


def iou(a, b) -> float:
    return float(box_iou(a, b)[0, 0])


@pytest.fixture(scope="module")
def town_frames():
    with VideoFileSource(TOWN) as source:
        return [frame.image for _, frame in zip(range(24), source)]


# ---------------------------------------------------------------- regions


def test_search_regions_grow_snap_clip_and_merge_only_when_it_saves_pixels():
    # 20 px box at (100, 100): grown by 2 x 20 px each side -> (60, 60, 160, 160), snapped to 32
    assert search_regions(np.array([[100, 100, 120, 120]]), 2.0, 1920, 1080, align=32) == [(32, 32, 160, 160)]
    # clipped to the image
    assert search_regions(np.array([[0, 0, 20, 20]]), 2.0, 1920, 1080, align=32) == [(0, 0, 64, 64)]
    # a large box: the margin is counted in `context` px, not in its own size
    assert search_regions(np.array([[320, 320, 520, 520]]), 2.0, 1920, 1080, align=32, context=32) == [(256, 256, 608, 608)]
    # two overlapping regions whose bounding rectangle is smaller than both together: merged
    assert search_regions(np.array([[100, 100, 120, 120], [110, 100, 130, 120]]), 2.0, 1920, 1080, align=32) == [(32, 32, 192, 160)]
    # a diagonal pair barely overlapping: merging would search more pixels, so they stay apart
    apart = search_regions(np.array([[100, 100, 120, 120], [190, 190, 210, 210]]), 2.0, 1920, 1080, align=32)
    assert sorted(apart) == [(32, 32, 160, 160), (128, 128, 256, 256)]


def test_yunet_finds_again_in_regions_what_it_finds_on_the_whole_frame(x86_config, town_frames):
    det = build_detector(x86_config)
    hits = total = 0
    for prev, frame in zip(town_frames[:-1:4], town_frames[1::4]):
        boxes = np.array([f.box for f in det.detect(prev)])
        whole = det.detect(frame)
        local = det.detect_regions(frame, boxes, x86_config.tracker.search_margin)
        assert all(f.source == "yunet" for f in local)
        for ref in whole:
            # only the faces that were there on the previous frame can be found again
            if max(iou(ref.box, b) for b in boxes) < 0.3:
                continue
            total += 1
            hits += max((iou(ref.box, f.box) for f in local), default=0.0) >= 0.5
    assert total >= 15
    assert hits >= 0.9 * total, (hits, total)
    assert det.detect_regions(town_frames[0], np.zeros((0, 4)), 2.0) == []


def test_a_lower_min_score_finds_more_faces_and_includes_the_strong_ones(x86_config, town_frames):
    det = build_detector(x86_config)
    strong = det.detect(town_frames[0])
    weak = det.detect(town_frames[0], min_score=0.3)
    assert len(weak) > len(strong) and min(f.score for f in strong) >= 0.5
    assert min(f.score for f in weak) < 0.5
    for f in strong:
        assert max(iou(f.box, w.box) for w in weak) > 0.99


# ---------------------------------------------------------------- two thresholds


def test_weak_detections_keep_a_strong_track_but_never_start_a_person():
    config = parse_config({"tracker": {"detect_every": 1, "init_detections": 2}})
    tr = FaceTracker(config.tracker, config.vote, config.filters, local_search=True, strong_score=0.5)
    ids, shown_weak_person, shown_weak_alone = set(), 0, 0
    for i in range(40):
        person = face(100 + 2 * i, 100, score=0.9 if i < 3 else 0.35)  # strong first, then weak
        ghost = face(500, 300, score=0.35)  # weak all along: a candidate, never a person
        step = tr.update(i / 25, [person, ghost])
        ids |= {t.id for t in step.active if t.id is not None}
        shown_weak_person += i >= 3 and any(f is person for f in step.shown)
        shown_weak_alone += any(f is ghost for f in step.shown)
    assert ids == {1}  # one person, the ghost never got an id
    assert shown_weak_person == 37 and shown_weak_alone == 0
    (track,) = [t for t in tr.tracks if t.id == 1]
    assert track.last_seen == 39 and track.strong


def test_faces_below_classify_score_are_followed_but_not_classified(x86_config):
    faces = [face(100, 100, score=0.95), face(300, 100, score=0.6), face(500, 100, score=0.3)]
    kept = apply_filters(faces, x86_config.filters, 1920, 1080, min_score=x86_config.detector.classify_score)
    assert kept == faces[:1]
    assert [f.skip_reason for f in faces] == [None, LOW_SCORE, LOW_SCORE]


# ---------------------------------------------------------------- the session


@pytest.mark.parametrize("local", [True, False])
def test_frames_between_full_detections_are_searched_and_vote_only_with_local_search(x86_config, town_frames, local):
    config = x86_config.model_copy(update={"tracker": x86_config.tracker.model_copy(update={"local_search": local})})
    session = VideoSession(config, 25.0)
    searched = 0
    for i, frame in enumerate(town_frames):
        result = session.process(frame, i)
        low = [f for f in result.faces if f.source == "yunet" and f.score < config.detector.classify_score]
        assert all(f.mask_prob is None and f.skip_reason for f in low)
        if i % config.tracker.detect_every:
            searched += any(f.source == "yunet" for f in result.faces)
            assert result.faces, i  # boxes on every frame, found again or carried
    # the closest walker (the largest face) is classified on every frame it is found
    track = max(session.tracker.tracks, key=lambda t: t.mean_size)
    classified = track.votes.classified
    full = -(-len(town_frames) // config.tracker.detect_every)
    if local:
        assert searched == len(town_frames) - full and classified >= 20, (searched, classified)
    else:
        assert searched == 0 and 1 <= classified <= full, (searched, classified)  # full detections only
    assert session.detected_frames == full
