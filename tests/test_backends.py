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


# ---------------------------------------------------------------- ONNX Runtime's CUDA provider expected, not there

no_cuda_provider = pytest.mark.skipif("CUDAExecutionProvider" in __import__("onnxruntime").get_available_providers(),
                                      reason="this onnxruntime has the CUDA provider")

# Every ONNX Runtime model of the configs, from the catalog, and what names it in the message.
ONNX_MODELS = {
    "retinaface": ({"detector": {"type": "retinaface", "model": "retinaface_mobilenet0.25_640"}}, "RetinaFace detector"),
    "ultraface": ({"detector": {"type": "ultraface", "model": "ultraface_rfb640_masked_face_v2"}}, "UltraFace detector"),
    "yunet": ({"detector": {"type": "yunet", "runtime": "onnxruntime"}}, "YuNet detector"),
    "classifier": ({"classifier": {"model": "ofm_classifier_onnx", "backend": "onnx"}}, "ONNX classifier"),
}


def _build(section: dict, cuda: str):
    from facemask.classifiers import build_classifier
    from facemask.config import parse_config
    from facemask.detectors import build_detector

    key = next(iter(section))
    cfg = parse_config({key: {**section[key], "cuda": cuda}})
    return build_detector(cfg) if key == "detector" else build_classifier(cfg.classifier)


def _sessions(built) -> list:
    """The ONNX Runtime sessions a detector or classifier made."""
    holders = [built, getattr(built, "backend", None), getattr(built, "runtime", None)]
    return [h.session for h in holders if h is not None and hasattr(h, "session")]


@no_cuda_provider
@pytest.mark.parametrize("name", sorted(ONNX_MODELS))
def test_cuda_require_without_cuda_is_one_error_line(name):
    section, words = ONNX_MODELS[name]
    with pytest.raises(BackendUnavailable) as exc:
        _build(section, "require")
    msg = str(exc.value)
    assert words in msg and "not CUDA" in msg and "onnxruntime-gpu" in msg and "\n" not in msg, msg


@no_cuda_provider
@pytest.mark.parametrize("name", sorted(ONNX_MODELS))
def test_cuda_warn_without_cuda_warns_once_and_runs_on_the_cpu(name, caplog):
    section, words = ONNX_MODELS[name]
    log = logging.getLogger("facemask")
    log.addHandler(caplog.handler)
    try:
        built = _build(section, "warn")
    finally:
        log.removeHandler(caplog.handler)
    # (one record may reach caplog twice: through the handler added here and through the root logger)
    records = {id(r): r for r in caplog.records if r.levelno == logging.WARNING and "not CUDA" in r.getMessage()}
    warnings = [r.getMessage() for r in records.values()]
    assert len(warnings) == 1 and words in warnings[0], warnings
    sessions = _sessions(built)
    assert sessions and all(s.get_providers() == ["CPUExecutionProvider"] for s in sessions)


@pytest.mark.parametrize("name", sorted(ONNX_MODELS))
def test_cuda_auto_is_silent(name, caplog):
    section, _ = ONNX_MODELS[name]
    log = logging.getLogger("facemask")
    log.addHandler(caplog.handler)
    try:
        assert _sessions(_build(section, "auto"))
    finally:
        log.removeHandler(caplog.handler)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@no_cuda_provider
def test_gpu_config_with_cuda_required_stops_with_one_line(tmp_path):
    images = tmp_path / "in"
    images.mkdir()
    shutil.copy(sorted((KAGGLE / "images").iterdir())[0], images)
    proc = run_script("inference_images.py", "--config", REPO / "configs" / "config-x86-gpu.json", "--set", "detector.cuda=require",
                      "--input_image_dir", images, "--output_image_dir", tmp_path / "out", "--no-progress")
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith("error: the RetinaFace detector") and "not CUDA" in lines[0], lines[0]


def test_yunet_cuda_needs_onnxruntime():
    from facemask.config import parse_config
    from facemask.errors import ConfigError

    with pytest.raises(ConfigError, match='needs runtime "onnxruntime"'):
        parse_config({"detector": {"type": "yunet", "runtime": "opencv", "cuda": "warn"}})
