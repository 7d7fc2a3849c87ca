"""Optional runtimes that cannot be installed here fail with one clear line."""

import importlib.util
import logging
import shutil

import pytest

from facemask.classifiers import MaskClassifier
from facemask.config import ClassifierConfig
from facemask.errors import BackendUnavailable
from tests.conftest import KAGGLE, MODELS, REPO, run_script


@pytest.mark.parametrize("backend,words", [("tensorrt", "tensorrt and cuda-python"), ("edgetpu", "needs libedgetpu")])
def test_missing_runtime_is_one_clear_error(backend, words):
    model = MODELS / "mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite"
    with pytest.raises(BackendUnavailable) as exc:
        MaskClassifier(ClassifierConfig(model=str(model), backend=backend))
    assert words in str(exc.value) and "\n" not in str(exc.value) and "pycuda" not in str(exc.value)


def test_fallback_model_runs_on_the_cpu_when_the_runtime_is_missing(caplog):
    logging.getLogger("facemask").addHandler(caplog.handler)
    model = MODELS / "mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite"
    cfg = ClassifierConfig(model=str(model), backend="edgetpu", fallback_model="ofm_classifier_int8", max_batch=8)
    classifier = MaskClassifier(cfg)
    assert classifier.input_size == 45 and classifier.backend.max_batch == 8
    assert any("fallback_model" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- TensorRT where it is not installed

no_tensorrt = pytest.mark.skipif(all(importlib.util.find_spec(m) for m in ("tensorrt", "cuda")),
                                 reason="tensorrt and cuda-python are installed here")


def _images_command(tmp_path, *overrides):
    images = tmp_path / "in"
    images.mkdir()
    shutil.copy(sorted((KAGGLE / "images").iterdir())[0], images)
    out = tmp_path / "out"
    proc = run_script("inference_images.py", "--input_image_dir", images, "--output_image_dir", out, "--no-progress",
                      *overrides)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    assert "tensorrt" in lines[0] and "cuda-python" in lines[0] and "JetPack" in lines[0], lines[0]
    assert "pycuda" not in lines[0] and "Traceback" not in proc.stderr
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())  # nothing written
    return lines[0]


@no_tensorrt
def test_openpifpaf_trt_detector_without_tensorrt_is_one_error_line(tmp_path):
    """The Jetson config's detector, with a CPU classifier from the catalog so only the detector needs TensorRT."""
    line = _images_command(tmp_path, "--config", REPO / "configs" / "config-jetson.json",
                           "--set", "classifier.backend=tflite", "--set", "classifier.model=ofm_classifier_int8")
    assert "OpenPifPaf TensorRT detector" in line and 'detector.runtime to "onnxruntime"' in line, line


@no_tensorrt
def test_tensorrt_classifier_without_tensorrt_is_one_error_line(tmp_path):
    """The x86 config (YuNet from the catalog) with its classifier switched to TensorRT."""
    line = _images_command(tmp_path, "--config", REPO / "configs" / "config-x86.json",
                           "--set", "classifier.backend=tensorrt")
    assert "TensorRT classifier" in line and "classifier.backend" in line, line
