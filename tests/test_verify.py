"""A second opinion on large faces YuNet doubts (filters.verify_large, facemask.detectors.verify),
on real frames of the shared clips with the real models."""

import cv2
import pytest

from facemask.config import load_config
from facemask.detectors.verify import IOU, MAX_SCORE, MIN_FACE, doubtful
from facemask.filters import NOT_VERIFIED
from facemask.pipeline import FramePipeline, video_config
from tests.conftest import FOUR_PEOPLE, REPO, SHARED, VIDEOS

from .test_video_people import run_session

CONFIG = REPO / "configs" / "config-x86.json"


def frame_of(video, index):
    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, image = cap.read()
    cap.release()
    assert ok, (video, index)
    return image


def large_faces(pipeline, image):
    result = pipeline.process(image, frame_index=0, time_s=0.0)
    return [f for f in result.faces if f.size >= MIN_FACE]


@pytest.fixture(scope="module")
def pipelines():
    cfg = load_config(CONFIG)
    off = load_config(CONFIG, ["filters.verify_large=false"])
    on, unchecked = FramePipeline(video_config(cfg)), FramePipeline(video_config(off))
    for pipeline in (on, unchecked):
        pipeline.verify_large_faces()  # what a video session does
    assert unchecked.verifier is None
    return on, unchecked


# Town Centre, frame 80: YuNet boxes a woman walking far up the street, her whole body (167x243 px),
# at 0.78; with the classifier alone that box votes "no mask" and becomes an unmasked person.
def test_a_whole_person_far_away_does_not_vote(pipelines):
    on, off = pipelines
    image = frame_of(VIDEOS / "towncentre_clip_1080p.mp4", 80)
    unchecked = [f for f in large_faces(off, image) if doubtful(f) and f.score >= 0.7]
    assert len(unchecked) == 1 and unchecked[0].mask_prob is not None  # classified without the check
    checked = [f for f in large_faces(on, image) if doubtful(f)]
    assert len(checked) == 1 and checked[0].skip_reason == NOT_VERIFIED and checked[0].mask_prob is None
    assert on.verifier is not None and on.verifier.overlap(image, checked[0]) < IOU


# The 4-people clip, frame 249: a man pulling his mask up over his eyes, YuNet at 0.83: a real face
# it doubts, which UltraFace confirms, so it is classified.
def test_a_real_large_face_yunet_doubts_is_confirmed_and_classified(pipelines):
    on, _ = pipelines
    image = frame_of(FOUR_PEOPLE, 249)
    faces = [f for f in large_faces(on, image) if f.score < MAX_SCORE]
    assert faces, "no doubtful large face on this frame"
    assert all(f.skip_reason is None and f.mask_prob is not None for f in faces), [(f.score, f.skip_reason) for f in faces]


def test_only_large_doubtful_yunet_faces_are_asked(pipelines):
    on, _ = pipelines
    image = frame_of(FOUR_PEOPLE, 0)  # unmasked faces of 80-95 px, YuNet 0.93-0.95
    assert on.verifier is not None
    asked = on.verifier.asked
    faces = large_faces(on, image)
    assert len(faces) >= 2 and not any(doubtful(f) for f in faces)
    assert on.verifier.asked == asked and all(f.mask_prob is not None for f in faces)


# wst54_mask2 (hand count 4 people): a phone held up to the camera and the checkered back of a
# wheelchair get YuNet boxes of 100-200 px at 0.70-0.82 that voted "no mask": 5 people without
# the check.
def test_a_phone_and_a_wheelchair_back_are_not_people():
    session, _ = run_session(load_config(CONFIG), SHARED / "data" / "video_people" / "wst54_mask2.mp4")
    c = session.stats.counters()
    assert c["people"] == 4, c
    assert session.pipeline.verifier is not None and session.pipeline.verifier.rejected > 0


def test_photos_label_the_doubtful_large_face_without_asking():
    pipeline = FramePipeline(load_config(CONFIG))  # the images command's pipeline
    image = frame_of(VIDEOS / "towncentre_clip_1080p.mp4", 80)
    faces = pipeline.process(image, image="frame80.jpg").faces
    assert pipeline.verifier is None
    big = [f for f in faces if f.size >= MIN_FACE]
    assert big and all(f.mask_prob is not None and f.skip_reason is None for f in big)
