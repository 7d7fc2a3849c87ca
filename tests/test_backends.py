"""Optional runtimes that cannot be installed here fail with one clear line."""

import pytest

from facemask.classifiers import MaskClassifier
from facemask.config import ClassifierConfig
from facemask.errors import BackendUnavailable
from tests.conftest import MODELS


@pytest.mark.parametrize("backend,words", [("tensorrt", "tensorrt and pycuda"), ("edgetpu", "pycoral and libedgetpu")])
def test_missing_runtime_is_one_clear_error(backend, words):
    model = MODELS / "mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite"
    with pytest.raises(BackendUnavailable) as exc:
        MaskClassifier(ClassifierConfig(model=str(model), backend=backend))
    assert words in str(exc.value) and "\n" not in str(exc.value)
