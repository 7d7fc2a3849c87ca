"""Face boxes from body keypoints: geometry of each method, thresholds, landmarks, frontal filter."""

import numpy as np
import pytest

from facemask.detectors.pose_to_face import (
    KEYPOINTS, L_EYE, NOSE, R_EAR, R_EYE, PoseFaceConfig, pose_to_face, poses_to_faces,
)
from facemask.filters import is_frontal


def frontal_pose(scale: float = 1.0, score: float = 0.9) -> np.ndarray:
    """An upright person facing the camera, nose at (100, 100) for scale 1 (pixels)."""
    xy = np.array([
        (100, 100), (105, 96), (95, 96), (112, 98), (88, 98),  # nose, eyes, ears (left = image right)
        (120, 130), (80, 130), (125, 160), (75, 160), (127, 185), (73, 185),
        (115, 190), (85, 190), (115, 240), (85, 240), (115, 290), (85, 290),
    ], np.float64)
    return np.column_stack([xy * scale, np.full(17, score)])


def cfg(*methods: str, **kw) -> PoseFaceConfig:
    return PoseFaceConfig(methods=list(methods), min_size=0.0, **kw)


@pytest.mark.parametrize("method", ["head", "shoulders", "chest"])
def test_each_method_puts_a_face_sized_box_on_the_head(method):
    face = pose_to_face(frontal_pose(), cfg(method), "posenet")
    x1, y1, x2, y2 = face.box
    assert x1 < 95 and x2 > 105 and y1 < 96 and y2 > 100  # eyes and nose inside
    assert 15 < face.width < 40  # eyes 10 px apart, ears 24 px apart: a face ~20-30 px wide
    assert y2 < 130  # above the shoulders
    assert face.source == "posenet"


@pytest.mark.parametrize("method", ["head", "shoulders", "chest"])
def test_boxes_scale_with_the_person(method):
    small = pose_to_face(frontal_pose(1.0), cfg(method), "p")
    big = pose_to_face(frontal_pose(3.0), cfg(method), "p")
    np.testing.assert_allclose(big.box, small.box * 3.0, rtol=1e-4)


def test_chest_size_does_not_change_when_the_head_turns():
    turned = frontal_pose()
    turned[[R_EYE, R_EAR], 2] = 0.0  # looking to the side: one eye and one ear hidden
    turned[NOSE, 0] += 6
    front, side = (pose_to_face(p, cfg("chest"), "p") for p in (frontal_pose(), turned))
    assert side.width == pytest.approx(front.width)
    from_behind = frontal_pose()
    from_behind[[NOSE, L_EYE, R_EYE], 2] = 0.0  # walking away: only the ears
    assert pose_to_face(from_behind, cfg("chest"), "p").width == pytest.approx(front.width)


def test_methods_fall_back_in_order_and_median_combines():
    no_hips = frontal_pose()
    no_hips[11:13, 2] = 0.0
    assert pose_to_face(no_hips, cfg("chest"), "p") is None
    head = pose_to_face(no_hips, cfg("head"), "p")
    np.testing.assert_allclose(pose_to_face(no_hips, cfg("chest", "head", combine="first"), "p").box, head.box)
    boxes = [pose_to_face(frontal_pose(), cfg(m), "p").box for m in ("head", "shoulders", "chest")]
    median = pose_to_face(frontal_pose(), cfg("head", "shoulders", "chest", combine="median"), "p").box
    widths = sorted(b[2] - b[0] for b in boxes)
    assert median[2] - median[0] == pytest.approx(widths[1], rel=1e-4)


def test_keypoint_threshold_decides_what_is_seen():
    pose = frontal_pose()
    pose[L_EYE, 2] = 0.25
    face = pose_to_face(pose, cfg("head", keypoint_threshold=0.3), "p")
    assert "left_eye" not in face.keypoints and "right_eye" in face.keypoints
    assert face.landmarks is None  # one eye: no five-point landmarks
    assert not is_frontal(face)
    face = pose_to_face(pose, cfg("head", keypoint_threshold=0.2), "p")
    assert set(face.keypoints) == set(KEYPOINTS)
    assert is_frontal(face)
    assert face.score == pytest.approx(np.mean([0.9, 0.25, 0.9, 0.9, 0.9]))
    nothing = frontal_pose(score=0.1)
    assert poses_to_faces(np.stack([nothing, frontal_pose()]), cfg("head", "chest"), "p")[0].score == pytest.approx(0.9)


def test_landmarks_follow_yunet_order():
    face = pose_to_face(frontal_pose(), cfg("head"), "p")
    lm = face.landmarks
    assert lm.shape == (5, 2)
    np.testing.assert_allclose(lm[0], (95, 96))  # right eye: image left for a frontal face
    np.testing.assert_allclose(lm[1], (105, 96))
    np.testing.assert_allclose(lm[2], (100, 100))  # the pose's nose
    assert lm[3, 0] < 100 < lm[4, 0]  # mouth corners: right one on the image left
    assert lm[3, 1] > lm[2, 1] and lm[4, 1] > lm[2, 1]  # below the nose
    assert face.box[1] < lm[:, 1].min() and lm[:, 1].max() < face.box[3]


def test_boxes_are_clipped_and_tiny_faces_dropped():
    pose = frontal_pose()
    pose[:, 0] -= 95  # head at the left edge
    face = pose_to_face(pose, cfg("head"), "p", frame_size=(640, 480))
    assert face.box[0] == 0.0
    assert pose_to_face(frontal_pose(0.1), PoseFaceConfig(methods=["head"], min_size=4.0), "p") is None
