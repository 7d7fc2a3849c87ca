"""Edge TPU and Jetson pose detectors: one clear error where their runtime is missing, the CPU
fallback, and platform configs that differ from the x86 one only where they must."""

import importlib.util
import json
import logging

import numpy as np
import pytest

from facemask.config import load_config, parse_config
from facemask.detectors import build_detector
from facemask.detectors.openpifpaf_trt import split_fields
from facemask.detectors.posenet_edgetpu import _loadable
from facemask.errors import BackendUnavailable, ModelError
from tests.conftest import REPO

no_edgetpu = pytest.mark.skipif(_loadable("libedgetpu.so.1") is None, reason="libedgetpu is installed here")
no_tensorrt = pytest.mark.skipif(all(importlib.util.find_spec(m) for m in ("tensorrt", "pycuda")),
                                 reason="TensorRT is installed here")


@no_edgetpu
def test_edgetpu_posenet_missing_runtime_is_one_clear_error(tmp_path):
    cfg = parse_config({"detector": {"type": "posenet_edgetpu", "decoder_lib": str(tmp_path / "posenet_decoder.so")}})
    with pytest.raises(BackendUnavailable) as exc:
        build_detector(cfg)
    msg = str(exc.value)
    assert "libedgetpu.so.1" in msg and "posenet_decoder.so" in msg and "fallback_to_cpu" in msg
    assert "\n" not in msg


@no_edgetpu
def test_edgetpu_posenet_falls_back_to_the_cpu_model(caplog):
    cfg = parse_config({"detector": {"type": "posenet_edgetpu", "fallback_to_cpu": True,
                                     "cpu_model": "posenet_mobilenet_v1_075_353_481_quant"}})
    log = logging.getLogger("facemask")  # the CLI may have stopped it propagating to the root
    log.addHandler(caplog.handler)
    try:
        det = build_detector(cfg)
    finally:
        log.removeHandler(caplog.handler)
    assert det.source == "posenet" and "falling back" in caplog.text
    assert det.runner.model_path.endswith("posenet_mobilenet_v1_075_353_481_quant.tflite")


@no_tensorrt
def test_openpifpaf_tensorrt_missing_is_one_clear_error():
    cfg = load_config(REPO / "configs" / "config-jetson.json")
    with pytest.raises(BackendUnavailable) as exc:
        build_detector(cfg)
    assert "tensorrt" in str(exc.value) and "\n" not in str(exc.value)


def test_openpifpaf_onnxruntime_needs_an_export(tmp_path):
    cfg = parse_config({"detector": {"type": "openpifpaf_trt", "runtime": "onnxruntime",
                                     "onnx": str(tmp_path / "missing.onnx")}})
    with pytest.raises(ModelError, match="export OpenPifPaf"):
        build_detector(cfg)


def test_openpifpaf_outputs_found_by_name_or_shape():
    cif, caf = np.zeros((1, 17, 5, 4, 6)), np.zeros((1, 19, 8, 4, 6))
    assert split_fields({"out1": caf, "out0": cif})[0] is cif
    with pytest.raises(ModelError, match="not an OpenPifPaf"):
        split_fields({"x": np.zeros((1, 10, 5, 4, 6))})


@pytest.mark.parametrize("platform", ["edgetpu", "jetson"])
def test_platform_configs_differ_from_x86_only_in_platform_detector_classifier(platform):
    x86 = json.loads((REPO / "configs" / "config-x86.json").read_text())
    other = json.loads((REPO / "configs" / f"config-{platform}.json").read_text())
    assert other.keys() == x86.keys()
    differ = {k for k in x86 if x86[k] != other[k]}
    assert differ == {"platform", "detector", "classifier"}, "run python scripts/sync_platform_configs.py"
    assert other["classifier"].keys() - x86["classifier"].keys() <= {"max_batch"}
    cfg = load_config(REPO / "configs" / f"config-{platform}.json")
    assert cfg.platform == platform
