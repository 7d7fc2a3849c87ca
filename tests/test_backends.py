"""Optional runtimes that cannot be installed here fail with one clear line."""

import logging

import pytest

from facemask.classifiers import MaskClassifier
from facemask.config import ClassifierConfig
from facemask.errors import BackendUnavailable
from tests.conftest import MODELS


@pytest.mark.parametrize("backend,words", [("tensorrt", "tensorrt and cuda-python"), ("edgetpu", "needs libedgetpu")])
def test_missing_runtime_is_one_clear_error(backend, words):
    model = MODELS / "mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite"
    with pytest.raises(BackendUnavailable) as exc:
        MaskClassifier(ClassifierConfig(model=str(model), backend=backend))
    assert words in str(exc.value) and "\n" not in str(exc.value)


def test_fallback_model_runs_on_the_cpu_when_the_runtime_is_missing(caplog):
    logging.getLogger("facemask").addHandler(caplog.handler)
    model = MODELS / "mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite"
    cfg = ClassifierConfig(model=str(model), backend="edgetpu", fallback_model="ofm_classifier_int8", max_batch=8)
    classifier = MaskClassifier(cfg)
    assert classifier.input_size == 45 and classifier.backend.max_batch == 8
    assert any("fallback_model" in r.getMessage() for r in caplog.records)
