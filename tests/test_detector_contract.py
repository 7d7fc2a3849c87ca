"""The detector contract and its config: a typed union on ``type``, thresholds the pipeline reads
from the detector (fusion included), one tiling implementation, no import cycle."""

import subprocess
import sys

import numpy as np
import pytest

from facemask.config import Config, parse_config
from facemask.detectors import Detector, build_detector
from facemask.detectors.configs import RetinaFaceConfig, YuNetConfig
from facemask.detectors.fusion import FusionDetector
from facemask.detectors.tiling import run_tiled
from facemask.errors import ConfigError
from facemask.filters import LOW_SCORE
from facemask.pipeline import FramePipeline
from facemask.types import Face
from tests.conftest import REPO


def face(x, y, size=40, score=0.9, source="yunet") -> Face:
    return Face(box=np.array([x, y, x + size, y + size], np.float32), score=score, source=source)


class Marker:
    """A classifier that marks what it was given."""

    def classify(self, frame, faces):
        for f in faces:
            f.mask_prob, f.class_probs, f.label = 0.9, {"mask": 0.9, "no_mask": 0.1}, "mask"


@pytest.mark.parametrize("tiles", [[0, 1], [1, 0], [9, 1]])
@pytest.mark.parametrize("detector", ["retinaface", "yunet", "movenet"])
def test_tiles_out_of_range_are_a_config_error_for_every_detector(detector, tiles):
    # RetinaFace used to accept tiles [0, 1] and then find nothing
    with pytest.raises(ConfigError, match="detector.tiles: .*between 1 and 8"):
        parse_config({"detector": {"type": detector, "tiles": tiles}})


def test_fusion_keeps_each_members_classify_score():
    """With fusion, YuNet's classify_score (0.7) used to be lost: the pipeline read it from the
    fusion's own config, which has none, and classified every YuNet face."""
    cfg = parse_config({"detector": {"type": "fusion", "detectors": [
        {"type": "yunet", "classify_score": 0.7}, {"type": "posenet"}]}})
    pipe = FramePipeline(cfg, classifier=Marker())
    assert isinstance(pipe.detector, FusionDetector)
    faces = [face(100, 100, score=0.95), face(200, 100, score=0.6), face(300, 100, score=0.4, source="posenet"),
             face(400, 100, score=0.6, source="yunet+posenet")]
    pipe.classify(np.zeros((480, 640, 3), np.uint8), faces)
    assert [f.skip_reason for f in faces] == [None, LOW_SCORE, None, LOW_SCORE]
    assert [f.mask_prob for f in faces] == [0.9, None, 0.9, None]
    assert pipe.detector.classify_threshold(faces[0]) == 0.7 and pipe.detector.classify_threshold(faces[2]) == 0.0


def test_the_detector_section_is_a_typed_union():
    cfg = parse_config({"detector": {"type": "retinaface", "tiles": [2, 2]}})
    assert isinstance(cfg.detector, RetinaFaceConfig) and cfg.detector.tiles == [2, 2]
    assert isinstance(Config().detector, YuNetConfig)
    with pytest.raises(ConfigError, match="detectors\\[1\\] unknown detector type 'nope'"):
        parse_config({"detector": {"type": "fusion", "detectors": [{"type": "yunet"}, {"type": "nope"}]}})
    with pytest.raises(ConfigError, match="detector.model"):
        parse_config({"detector": {"type": "retinaface", "model": 3}})


def test_validating_a_config_imports_no_detector_backend():
    code = ("import sys; import facemask.config as c; c.load_config('configs/config-x86.json'); "
            "print(sorted(m for m in sys.modules if m.startswith('facemask.detectors.')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['facemask.detectors.base', 'facemask.detectors.configs']", out


def test_every_detector_follows_the_contract(x86_config):
    det = build_detector(x86_config)
    assert isinstance(det, Detector) and det.searches_regions
    assert (det.score_threshold, det.classify_score) == (x86_config.detector.score_threshold,
                                                          x86_config.detector.classify_score)
    pose = build_detector(parse_config({"detector": {"type": "posenet"}}))
    assert not pose.searches_regions and pose.classify_score == 0.0
    with pytest.raises(NotImplementedError):
        pose.detect_regions(np.zeros((64, 64, 3), np.uint8), np.zeros((0, 4)), 2.0)


def test_tiling_moves_faces_back_and_merges_the_overlap():
    cfg = YuNetConfig(tiles=[2, 1], tile_overlap=0.5, nms_threshold=0.3)
    image = np.zeros((100, 300, 3), np.uint8)
    image[40:60, 140:160] = 255  # one bright square, in the overlap of both tiles

    def find_square(tile):
        ys, xs = np.nonzero(tile[:, :, 0])
        if not len(xs):
            return []
        f = face(xs.min(), ys.min(), size=20)
        f.landmarks = np.tile([xs.min(), ys.min()], (5, 1)).astype(np.float32)
        return [f]

    (found,) = run_tiled(image, cfg, find_square)
    np.testing.assert_array_equal(found.box, [140, 40, 160, 60])
    np.testing.assert_array_equal(found.landmarks[0], [140, 40])
