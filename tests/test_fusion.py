"""Fusion of face-detector and pose-detector faces: deduplication, preference, config."""

import copy

import cv2
import numpy as np
import pytest

from facemask.config import parse_config
from facemask.detectors import build_detector
from facemask.detectors.fusion import FusionDetector, fuse
from facemask.errors import ConfigError
from facemask.types import Face
from tests.conftest import VIDEOS


def face(x1, y1, x2, y2, score=0.9, source="yunet", landmarks=False, keypoints=False) -> Face:
    return Face(
        box=np.array([x1, y1, x2, y2], np.float32), score=score, source=source,
        landmarks=np.zeros((5, 2), np.float32) + x1 if landmarks else None,
        keypoints={"nose": (x1 + 5.0, y1 + 5.0, 0.8)} if keypoints else None,
    )


def test_fuse_keeps_the_face_detector_box_and_adds_what_pose_found():
    yunet = [face(100, 100, 120, 122, 0.95, landmarks=True), face(300, 50, 316, 68, 0.7, landmarks=True)]
    pose = [face(101, 98, 121, 121, 0.6, "posenet", keypoints=True),  # same person as yunet[0]
            face(500, 200, 510, 211, 0.5, "posenet", keypoints=True),  # only the pose detector saw
            face(301, 56, 317, 74, 0.4, "posenet", keypoints=True)]  # IoU 0.45 with yunet[1]
    out = fuse([copy.deepcopy(yunet), copy.deepcopy(pose)], iou_threshold=0.5)
    assert len(out) == 4
    merged = out[0]
    np.testing.assert_array_equal(merged.box, yunet[0].box)
    np.testing.assert_array_equal(merged.landmarks, yunet[0].landmarks)
    assert merged.keypoints == pose[0].keypoints
    assert merged.source == "yunet+posenet" and merged.score == pytest.approx(0.95)
    assert [f.source for f in out[1:]] == ["yunet", "posenet", "posenet"]
    assert len(fuse([copy.deepcopy(yunet), copy.deepcopy(pose)], iou_threshold=0.25)) == 3


def test_fuse_matches_one_to_one():
    yunet = [face(0, 0, 20, 20)]
    pose = [face(0, 0, 20, 20, 0.5, "posenet"), face(1, 1, 21, 21, 0.8, "posenet")]
    out = fuse([yunet, pose], 0.3)
    assert len(out) == 2 and out[0].source == "yunet+posenet"
    assert out[1].score == 0.5  # the stronger pose face merged; the weaker stays a face of its own


def test_fusion_config_validates_its_members():
    cfg = parse_config({"detector": {"type": "fusion", "detectors": [{"type": "yunet"}, {"type": "posenet"}]}})
    assert [m.type for m in cfg.detector.detectors] == ["yunet", "posenet"]
    with pytest.raises(ConfigError, match="unknown key"):
        parse_config({"detector": {"type": "fusion", "detectors": [{"type": "yunet", "upscal": 2.0}, {"type": "posenet"}]}})
    with pytest.raises(ConfigError, match="another fusion"):
        parse_config({"detector": {"type": "fusion", "detectors": [{"type": "yunet"}, {"type": "fusion", "detectors": []}]}})
    with pytest.raises(ConfigError, match="detectors"):
        parse_config({"detector": {"type": "fusion", "detectors": [{"type": "yunet"}]}})


def test_fusion_on_a_street_frame():
    """Town Centre: YuNet finds a few frontal faces, PoseNet every pedestrian; fusion keeps
    YuNet's boxes untouched and adds the people YuNet missed."""
    cap = cv2.VideoCapture(str(VIDEOS / "towncentre_clip_1080p.mp4"))
    ok, frame = cap.read()
    cap.release()
    assert ok
    det = build_detector(parse_config({"detector": {"type": "fusion", "detectors": [
        {"type": "yunet"}, {"type": "posenet", "model": "posenet_mobilenet_v1_075_481_641_quant"}]}}))
    assert isinstance(det, FusionDetector)
    yunet, pose = (m.detect(frame) for m in det.members)
    assert len(yunet) >= 1 and len(pose) >= 8
    out = fuse([copy.deepcopy(yunet), copy.deepcopy(pose)], det.cfg.iou_threshold)
    assert max(len(yunet), len(pose)) <= len(out) <= len(yunet) + len(pose)
    for y in yunet:
        assert any(np.array_equal(y.box, f.box) and f.landmarks is not None for f in out)
    assert any(f.source == "posenet" for f in out)
    assert len(det.detect(frame)) == len(out)
