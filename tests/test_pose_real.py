"""PoseNet and MoveNet on a real CCTV frame whose people were counted by hand."""

import cv2
import numpy as np
import pytest

from facemask.config import parse_config
from facemask.detectors import build_detector
from tests.conftest import VIDEOS

# vtest_480x360.avi frame 99 (0-based): six pedestrians near the middle, heads ~8 px tall; the one
# at (272, 114) stands behind a sign and shows little more than a head. Head centres, by hand.
HEADS = np.array([(223, 126), (246, 114), (272, 114), (316, 95), (328, 97), (378, 99)], np.float64)


@pytest.fixture(scope="module")
def vtest_frame() -> np.ndarray:
    cap = cv2.VideoCapture(str(VIDEOS / "vtest_480x360.avi"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 99)
    ok, frame = cap.read()
    cap.release()
    assert ok, "cannot read vtest_480x360.avi"
    return frame


@pytest.mark.parametrize("detector,at_least", [
    ({"type": "posenet", "model": "posenet_mobilenet_v1_075_481_641_quant"}, 4),
    ({"type": "posenet", "model": "posenet_mobilenet_v1_075_721_1281_quant"}, 5),
    ({"type": "movenet", "input_size": 480}, 5),
    ({"type": "movenet", "input_size": 256, "tiles": [2, 2]}, 4),
])
def test_pose_detectors_find_the_counted_people(vtest_frame, detector, at_least):
    det = build_detector(parse_config({"detector": detector}))
    faces = det.detect(vtest_frame)
    centres = np.array([f.center for f in faces]).reshape(-1, 2)
    dist = np.linalg.norm(HEADS[:, None] - centres[None], axis=2) if len(faces) else np.full((len(HEADS), 1), np.inf)
    found = dist.min(axis=1) <= 8.0
    assert found.sum() >= at_least, f"faces near {found.sum()} of the counted heads: {np.round(dist.min(axis=1), 1)}"
    for j in np.argmin(dist, axis=1)[found]:
        f = faces[j]
        assert 2.0 <= f.size <= 12.0  # a face on an ~8 px head, not a body box
        assert f.source == detector["type"] and f.keypoints
    kps, scores = det.poses(vtest_frame)
    assert len(kps) >= at_least and kps.shape[1:] == (17, 3) and np.all(scores > 0)
