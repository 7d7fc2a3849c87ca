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
from facemask.detectors.posenet_edgetpu import _loadable, decoder_op_poses
from facemask.errors import BackendUnavailable, ModelError
from tests.conftest import REPO
from tests.test_pose_decode import person, pifpaf_fields

no_edgetpu = pytest.mark.skipif(_loadable("libedgetpu.so.1") is None, reason="libedgetpu is installed here")
no_tensorrt = pytest.mark.skipif(all(importlib.util.find_spec(m) for m in ("tensorrt", "cuda")),
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


@pytest.mark.parametrize("platform", ["x86-gpu", "edgetpu", "jetson"])
def test_platform_configs_differ_from_x86_only_in_platform_detector_classifier(platform):
    x86 = json.loads((REPO / "configs" / "config-x86.json").read_text())
    other = json.loads((REPO / "configs" / f"config-{platform}.json").read_text())
    assert other.keys() == x86.keys()
    differ = {k for k in x86 if x86[k] != other[k]}
    assert "platform" in differ and differ <= {"platform", "detector", "classifier"}, "run python scripts/sync_platform_configs.py"
    assert other["classifier"].keys() - x86["classifier"].keys() <= {"max_batch", "fallback_model"}
    cfg = load_config(REPO / "configs" / f"config-{platform}.json")
    assert cfg.platform == platform


def test_edgetpu_decoder_op_outputs_become_poses():
    yx = np.zeros((1, 10, 17, 2), np.float32)
    yx[0, :, :, 0], yx[0, :, :, 1] = 100.0, 300.0  # y, x
    kp_scores = np.full((1, 10, 17), 0.7, np.float32)
    pose_scores = np.array([[0.9, 0.1, 0.6] + [0.8] * 7], np.float32)  # only the first 3 are counted
    kps, scores = decoder_op_poses(yx, kp_scores, pose_scores, np.array(3.0), pose_threshold=0.5)
    np.testing.assert_allclose(scores, [0.9, 0.6])
    assert kps.shape == (2, 17, 3)
    np.testing.assert_allclose(kps[0, 0], (300.0, 100.0, 0.7))  # x, y, score


def fake_pifpaf_export(path, cif: np.ndarray, caf: np.ndarray, height: int, width: int) -> None:
    """An ONNX file shaped like an OpenPifPaf export whose outputs are the given fields."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("Identity", [f"{n}_const"], [n]) for n in ("cif", "caf")]
    graph = helper.make_graph(
        nodes, "fake_openpifpaf",
        [helper.make_tensor_value_info("input_batch", TensorProto.FLOAT, [1, 3, height, width])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(v.shape)) for n, v in (("cif", cif), ("caf", caf))],
        [numpy_helper.from_array(v.astype(np.float32), f"{n}_const") for n, v in (("cif", cif), ("caf", caf))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.mark.parametrize("frame_scale", [1, 2])
def test_openpifpaf_detector_end_to_end_on_onnxruntime(tmp_path, frame_scale):
    """The adapter without TensorRT: export-shaped ONNX -> letterbox, stride, decoding, faces."""
    people = [person(120, 80, 320), person(400, 60, 300)]  # in the 641 x 481 network input
    fake_pifpaf_export(tmp_path / "pifpaf.onnx", *pifpaf_fields(people), height=481, width=641)
    det = build_detector(parse_config({"detector": {
        "type": "openpifpaf_trt", "runtime": "onnxruntime", "onnx": str(tmp_path / "pifpaf.onnx")}}))
    frame = np.zeros((481 * frame_scale, 641 * frame_scale, 3), np.uint8)
    kps, _ = det.poses(frame)
    assert len(kps) == 2
    for truth in people:
        assert min(np.abs(k[:, :2] - truth * frame_scale).max() for k in kps) < 1.0 * frame_scale
    faces = det.detect(frame)
    assert len(faces) == 2 and all(f.source == "openpifpaf" and f.landmarks is not None for f in faces)
    for f, truth in zip(sorted(faces, key=lambda f: f.center[0]), people):
        assert np.linalg.norm(np.array(f.center) - truth[0] * frame_scale) < 10 * frame_scale  # on the nose
