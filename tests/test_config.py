import json

import pytest

from facemask.config import load_config, parse_config
from facemask.errors import ConfigError
from tests.conftest import REPO


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.json")), ids=lambda p: p.name)
def test_every_shipped_config_validates(path):
    cfg = load_config(path)
    assert cfg.detector.type


def _error(data: dict) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_config(data, "test.json")
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("config error in test.json")
    return msg


def test_unknown_key_is_named():
    assert "classifier.treshold: unknown key" in _error({"classifier": {"treshold": 0.5}})
    assert "colour: unknown key" in _error({"colour": "red"})


def test_unknown_detector_key_is_named():
    assert "detector.upscal: unknown key" in _error({"detector": {"type": "yunet", "upscal": 2}})


def test_unknown_detector_type():
    assert "unknown detector type 'nope'" in _error({"detector": {"type": "nope"}})


def test_booleans_are_booleans_and_sizes_are_ints():
    msg = _error({"filters": {"frontal_only": "true", "min_face_size": 16.5}})
    assert "filters.frontal_only" in msg and "filters.min_face_size" in msg


def test_out_of_range_value():
    assert "detector.score_threshold" in _error({"detector": {"type": "yunet", "score_threshold": 1.5}})
    assert "vote.low must not exceed vote.high" in _error({"vote": {"low": 0.9, "high": 0.1}})


def test_bad_json_and_missing_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"detector": ')
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.json")


def test_overrides_are_typed(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"detector": {"type": "yunet"}}))
    cfg = load_config(path, ["detector.upscale=1.5", "filters.frontal_only=true", "classifier.model=my.tflite"])
    assert cfg.detector.upscale == 1.5 and cfg.filters.frontal_only is True and cfg.classifier.model == "my.tflite"
    with pytest.raises(ConfigError, match="detector.upscale"):
        load_config(path, ["detector.upscale=fast"])
