"""YuNet on each runtime finds the same faces; OpenVINO compiles one model for every input size."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from facemask.config import parse_config
from facemask.detectors import build_detector
from facemask.errors import BackendUnavailable
from facemask.evaluation.data import load_voc
from facemask.geometry import box_iou
from facemask.io.sources.images import read_image
from facemask.runtimes import openvino as ov_runtime

from .conftest import KAGGLE


@pytest.fixture(scope="module")
def photos_of_different_sizes():
    """Four kaggle853 val photos, no two of the same size (so no two padded inputs alike)."""
    out: dict[tuple[int, int], np.ndarray] = {}
    for item in load_voc(KAGGLE, "val"):
        image = read_image(item.image_path)
        if image.shape[:2] not in out:
            out[image.shape[:2]] = image
        if len(out) == 4:
            return list(out.values())
    raise AssertionError("kaggle853 val has fewer than four image sizes")


def detector(runtime: str):
    return build_detector(parse_config({"detector": {"type": "yunet", "runtime": runtime, "num_threads": 1}}))


def boxes(det, image: np.ndarray) -> np.ndarray:
    return np.array([f.box for f in det.detect(image)]).reshape(-1, 4)


def test_openvino_compiles_once_and_finds_the_faces_onnx_runtime_finds(photos_of_different_sizes, monkeypatch):
    pytest.importorskip("openvino")
    shapes = []
    real = ov_runtime.compiled

    def counted(path, shape, num_threads, ov_core=None):
        shapes.append(list(shape))
        return real(path, shape, num_threads, ov_core)

    monkeypatch.setattr(ov_runtime, "compiled", counted)
    ov, ort = detector("openvino"), detector("onnxruntime")
    assert ov.runtime.name == "openvino" and ort.runtime.name == "onnxruntime"
    padded = set()
    found = 0
    for image in photos_of_different_sizes:
        for s in ov.scales_for(image.shape[1], image.shape[0]):  # both passes: small and large faces
            h, w = round(image.shape[0] * s), round(image.shape[1] * s)
            padded.add((-(-h // 32), -(-w // 32)))
        a, b = boxes(ort, image), boxes(ov, image)
        assert len(a) == len(b)
        if len(a):
            assert (box_iou(a, b).max(axis=1) > 0.99).all()
        found += len(a)
    assert found >= 5 and len(padded) >= 6  # real faces, and many input sizes ...
    assert shapes == [[1, 3, -1, -1]]  # ... for one dynamic-shape compile


def test_auto_runs_yunet_on_onnx_runtime():
    assert detector("auto").runtime.name == "onnxruntime"  # the fastest (scripts/bench_runtimes.py)


def test_openvino_runtime_without_openvino_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino -> ImportError
    with pytest.raises(BackendUnavailable) as exc:
        detector("openvino")
    assert "facemask[openvino]" in str(exc.value) and "\n" not in str(exc.value)
    assert detector("auto").runtime.name == "onnxruntime"  # auto never needed it
