"""A bad config or a bad model file is one ``error:`` line and exit code 2, and nothing is written."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import KAGGLE, MODELS, REPO, run_script

ONE_IMAGE = sorted((KAGGLE / "images").iterdir())[0]


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(ONE_IMAGE, folder)
    return folder


def _run_images(images, out, *args):
    proc = run_script("inference_images.py", "--input_image_dir", images, "--output_image_dir", out, "--no-progress", *args)
    return proc, [line for line in proc.stderr.splitlines() if line.strip()]


def _assert_one_error(proc, lines, *needles):
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    for needle in needles:
        assert needle in lines[0], lines[0]


CONFIGS = {
    "latin1": ('{"app": {"token": "caf\xe9-caf\xe9"}}'.encode("latin-1"), "not UTF-8 text (byte 0xe9"),
    "deep": (("[" * 100_000 + "]" * 100_000).encode(), "nested more than 32 levels deep"),
    "deep_value": (('{"app": {"cameras": ' + "[" * 60 + "]" * 60 + "}}").encode(), "app: nested more than 32 levels"),
    "infinity": (b'{"stats": {"interval_s": Infinity}}', "stats.interval_s: must be a finite number (got Infinity)"),
    "nan": (b'{"classifier": {"mask_threshold": NaN}}', "classifier.mask_threshold: must be a finite number (got NaN)"),
}


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_bad_config_is_one_line_and_exit_2(tmp_path, images, case):
    data, needle = CONFIGS[case]
    cfg = tmp_path / "c.json"
    cfg.write_bytes(data)
    out = tmp_path / "out"
    proc, lines = _run_images(images, out, "--config", cfg)
    _assert_one_error(proc, lines, f"config error in {cfg}", needle)
    assert not out.exists()


def test_non_finite_override_is_refused(tmp_path, images):
    out = tmp_path / "out"
    proc, lines = _run_images(images, out, "--set", "stats.interval_s=Infinity")
    _assert_one_error(proc, lines, "stats.interval_s: must be a finite number")
    assert not out.exists()


def _damaged(data: bytes) -> bytes:
    return data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:]


MODEL_FILES = {
    "garbage.onnx": (lambda: bytes(range(256)) * 40, "is not a valid ONNX model"),
    "garbage.tflite": (lambda: bytes(range(256)) * 40, "is not a valid TFLite model"),
    "half.onnx": (lambda: (REPO / "facemask/weights/ofm_classifier.onnx").read_bytes()[:600_000], "is not a valid ONNX model"),
    "half.tflite": (lambda: (REPO / "facemask/weights/ofm_classifier_int8.tflite").read_bytes()[:150_000],
                    "cannot load TFLite classifier"),
    # an explicit path to a catalog file with one byte changed
    "ofm_classifier_int8.tflite": (lambda: _damaged((REPO / "facemask/weights/ofm_classifier_int8.tflite").read_bytes()),
                                   "damaged copy"),
}


@pytest.mark.parametrize("name", sorted(MODEL_FILES))
def test_bad_classifier_file_is_one_line_and_exit_2(tmp_path, images, name):
    make, needle = MODEL_FILES[name]
    model = tmp_path / "models" / name
    model.parent.mkdir()
    model.write_bytes(make())
    out = tmp_path / "out"
    proc, lines = _run_images(images, out, "--set", f"classifier.model={model}")
    _assert_one_error(proc, lines, str(model), needle)
    assert not out.exists() or not any(out.iterdir())


def test_damaged_detector_file_by_explicit_path_is_refused(tmp_path, images):
    yunet = (MODELS / "face_detection_yunet_2023mar.onnx").read_bytes()
    model = tmp_path / "face_detection_yunet_2023mar.onnx"
    model.write_bytes(_damaged(yunet))
    out = tmp_path / "out"
    proc, lines = _run_images(images, out, "--set", f"detector.model={model}")
    _assert_one_error(proc, lines, "damaged copy")
    assert not out.exists() or not any(out.iterdir())

