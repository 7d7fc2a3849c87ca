import hashlib

import pytest

from facemask import models
from facemask.errors import ModelError
from tests.conftest import MODELS

YUNET = "face_detection_yunet_2023mar"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An empty mirror and cache, and upstream URLs that fail at once."""
    monkeypatch.setenv("FACEMASK_MODELS_DIR", str(tmp_path / "mirror"))
    monkeypatch.setenv("FACEMASK_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "mirror").mkdir()
    entries = {k: {**v, "url": "http://127.0.0.1:9/unreachable"} for k, v in models.catalog().items()}
    monkeypatch.setattr(models, "catalog", lambda: entries)
    return tmp_path


def test_resolves_from_mirror_with_matching_checksum():
    path = models.resolve(YUNET)
    assert path.parent == MODELS
    assert hashlib.sha256(path.read_bytes()).hexdigest() == models.catalog()[YUNET]["sha256"]
    assert models.resolve(YUNET + ".onnx") == path  # the file name works too


def test_wrong_checksum_is_refused(offline):
    (offline / "mirror" / f"{YUNET}.onnx").write_bytes(b"not the model")
    with pytest.raises(ModelError, match="refusing to load"):
        models.resolve(YUNET)


def test_missing_and_offline_says_where_it_looked(offline):
    with pytest.raises(ModelError) as exc:
        models.resolve(YUNET)
    msg = str(exc.value)
    assert "could not download" in msg and str(offline / "mirror") in msg and str(offline / "cache") in msg


def test_unknown_name_and_missing_explicit_path(tmp_path):
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        models.resolve("nope")
    with pytest.raises(ModelError, match="model file not found"):
        models.resolve(tmp_path / "nope.tflite")


def test_cache_is_used_when_mirror_lacks_the_file(offline):
    cache = offline / "cache"
    cache.mkdir()
    (cache / f"{YUNET}.onnx").write_bytes((MODELS / f"{YUNET}.onnx").read_bytes())
    assert models.resolve(YUNET) == cache / f"{YUNET}.onnx"
