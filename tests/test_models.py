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


def test_missing_model_without_mirror_names_the_variable(offline, monkeypatch):
    monkeypatch.delenv("FACEMASK_MODELS_DIR")
    with pytest.raises(ModelError, match="FACEMASK_MODELS_DIR is not set"):
        models.resolve(YUNET, download=False)


def test_explicit_path_with_a_catalog_name_is_checked(tmp_path):
    original = (MODELS / f"{YUNET}.onnx").read_bytes()
    damaged = tmp_path / f"{YUNET}.onnx"
    damaged.write_bytes(original[:1000] + bytes([original[1000] ^ 1]) + original[1001:])  # one byte changed
    with pytest.raises(ModelError, match="damaged copy"):
        models.resolve(damaged)
    intact = tmp_path / "copy" / f"{YUNET}.onnx"
    intact.parent.mkdir()
    intact.write_bytes(original)
    assert models.resolve(intact) == intact


def test_own_model_under_a_catalog_name_loads_with_a_warning(tmp_path, caplog):
    import logging

    own = tmp_path / f"{YUNET}.onnx"
    own.write_bytes((MODELS / "retinaface_mobilenet0.25_640.onnx").read_bytes())  # another model, another size
    with caplog.at_level(logging.WARNING, logger="facemask"):
        assert models.resolve(own) == own
    assert "model of your own" in caplog.text


def test_retrained_model_of_the_catalog_size_loads_with_a_warning(tmp_path, caplog):
    """Training exports under the catalog's names, often at the same size: most bytes differ."""
    import logging

    genuine = (models.BUNDLED_DIR / "ofm_classifier_float32.tflite").read_bytes()
    retrained = tmp_path / "run" / "ofm_classifier_float32.tflite"
    retrained.parent.mkdir()
    retrained.write_bytes(genuine[:8] + bytes(255 - b for b in genuine[8:]))  # same size, other contents
    with caplog.at_level(logging.WARNING, logger="facemask"):
        assert models.resolve(retrained) == retrained
    assert "model of your own" in caplog.text


def test_catalog_folders_are_strict(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEMASK_MODELS_DIR", str(tmp_path))
    (tmp_path / f"{YUNET}.onnx").write_bytes((MODELS / "retinaface_mobilenet0.25_640.onnx").read_bytes())
    with pytest.raises(ModelError, match="refusing to load"):
        models.resolve(tmp_path / f"{YUNET}.onnx")


@pytest.mark.parametrize("name, data, problem", [
    ("garbage.onnx", bytes(range(256)) * 20, "not a valid ONNX model"),
    ("garbage.tflite", bytes(range(256)) * 20, "not a valid TFLite model"),
    ("empty.onnx", b"", "empty file"),
])
def test_garbage_model_files_are_refused(tmp_path, name, data, problem):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ModelError, match=problem):
        models.resolve(path)


def test_truncated_models_are_refused(tmp_path):
    from facemask.classifiers.runtime import MaskClassifier
    from facemask.config import ClassifierConfig

    data = (MODELS / f"{YUNET}.onnx").read_bytes()
    (tmp_path / "half.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        models.resolve(tmp_path / "half.onnx")
    data = (models.BUNDLED_DIR / "ofm_classifier_int8.tflite").read_bytes()
    (tmp_path / "half.tflite").write_bytes(data[: len(data) // 2])  # the identifier survives: LiteRT's verifier refuses it
    with pytest.raises(ModelError, match="cannot load TFLite classifier"):
        MaskClassifier(ClassifierConfig(model=str(tmp_path / "half.tflite")))


def test_every_catalog_model_passes_the_format_check():
    for entry in models.catalog().values():
        for folder in (models.BUNDLED_DIR, MODELS):
            if (folder / entry["file"]).is_file():
                models.check_format(folder / entry["file"])
