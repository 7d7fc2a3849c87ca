"""Export formats beyond the tiny-run test: float16 parity, full-integer int8, the batch-1 file
for edgetpu_compiler, and the TensorRT build script where TensorRT is missing.

A small OFM model (width 0.25) is fitted for two epochs on faces cut from a few kaggle853 train
images, so its outputs are not all 0.5 and parity means something; the committed default is
never re-exported.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import cv2
import numpy as np
import pytest

from facemask.config import ClassifierConfig, parse_config
from facemask.crops import face_crops
from facemask.datasets import load_voc_dataset

from .conftest import KAGGLE, REPO

N_IMAGES = 30
FOLDERS = {"with_mask": "with_mask", "without_mask": "without_mask"}


def _cut_faces(root, n_images: int) -> None:
    """<root>/{train,validation}/<class>/*.png from the GT boxes of kaggle853 *train* images."""
    for i, item in enumerate(load_voc_dataset(KAGGLE, "train")[:n_images]):
        image = cv2.imread(str(item.image_path))
        split = "validation" if i % 5 == 0 else "train"
        for j, (crop, label) in enumerate(zip(face_crops(image, item.boxes, 64), item.labels)):
            folder = {"mask": "with_mask", "no_mask": "without_mask"}.get(label)
            if folder:
                out = root / split / folder
                out.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(out / f"{i}_{j}.png"), crop[:, :, ::-1])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import keras

    from facemask.training.data import load_split
    from facemask.training.export import export_edgetpu_input, export_tflite
    from facemask.training.train import build_model

    tmp = tmp_path_factory.mktemp("export")
    _cut_faces(tmp / "data", N_IMAGES)
    cfg = parse_config({"training": {"data_dir": str(tmp / "data"), "output_dir": str(tmp / "run"), "width": 0.25}})
    train = load_split(tmp / "data", "train", ["mask", "no_mask"], cfg.training.class_dirs, 45)
    keras.utils.set_random_seed(0)
    model = build_model(cfg)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(train.images.astype(np.float32), train.labels, epochs=2, batch_size=32, verbose=0)
    (tmp / "run").mkdir()
    model_path = tmp / "run" / "model.keras"
    model.save(model_path)
    paths = export_tflite(cfg, model_path, log=lambda *_: None)
    paths["int8_b1"] = export_edgetpu_input(cfg, model_path, log=lambda *_: None)
    crops = load_split(tmp / "data", "validation", ["mask", "no_mask"], cfg.training.class_dirs, 45).images
    return paths, crops


def _probs(path, crops, max_batch: int = 64) -> np.ndarray:
    from facemask.classifiers.runtime import MaskClassifier

    return MaskClassifier(ClassifierConfig(model=str(path), num_threads=1, max_batch=max_batch)).predict(crops)


def test_float16_matches_float32(exported):
    paths, crops = exported
    assert len(crops) >= 10
    p32, p16 = _probs(paths["float32"], crops), _probs(paths["float16"], crops)
    assert p32.std() > 1e-3  # the model answers differently per face: parity is not trivial
    np.testing.assert_allclose(p16, p32, atol=2e-3)
    assert (p16.argmax(axis=1) == p32.argmax(axis=1)).mean() >= 0.95
    # weights stored as float16: the file is about half the float32 one
    assert paths["float16"].stat().st_size < 0.65 * paths["float32"].stat().st_size


def test_int8_is_full_integer(exported):
    from facemask.training.export import full_integer_problems

    paths, crops = exported
    assert full_integer_problems(paths["int8"]) == []
    assert full_integer_problems(paths["int8_b1"]) == []
    assert any("float32" in p for p in full_integer_problems(paths["float32"]))  # the check can fail


def test_edgetpu_input_has_batch_one_and_agrees(exported):
    from ai_edge_litert.interpreter import Interpreter

    paths, crops = exported
    inp = Interpreter(model_path=str(paths["int8_b1"])).get_input_details()[0]
    assert list(inp["shape_signature"]) == [1, 45, 45, 3] and inp["dtype"] == np.uint8
    dynamic = Interpreter(model_path=str(paths["int8"])).get_input_details()[0]
    assert dynamic["shape_signature"][0] == -1  # the CPU file keeps its dynamic batch
    np.testing.assert_allclose(_probs(paths["int8_b1"], crops, max_batch=1), _probs(paths["int8"], crops), atol=0.02)


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_tensorrt_build_without_tensorrt_is_one_line(tmp_path):
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"\0")  # never parsed: the TensorRT import fails first
    out = tmp_path / "m.engine"
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "build_trt_engine.py"), "--onnx", str(onnx),
                        "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "TensorRT" in lines[0] and "not installed" in lines[0]
    assert not out.exists()
