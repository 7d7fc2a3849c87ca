"""Export a trained Keras model to .tflite (float32, and int8 with uint8 input/output) and .onnx.

The model rescales its own input, so both files take RGB pixel values 0..255; the int8 file's
input is uint8 with scale 1/1 (runtime.py quantizes by the tensor's scale / zero point). The int8
calibration data are training crops, half of them through the CCTV augmentation, so the
activation ranges cover small, blurry faces as well as sharp ones.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from ..config import Config
from ..models import BUNDLED_DIR, CATALOG_PATH, sha256_file
from .augment import CCTVAugment, augment_batch, plain_batch
from .data import load_split

CALIBRATION_SAMPLES = 400
KIND_TEXT = {"float32": "float32 TFLite", "int8": "int8 TFLite (uint8 in/out)", "onnx": "float32 ONNX"}


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _stem(cfg: Config) -> str:
    """File stem of the exported model: ``ofm_classifier``, ``ofm_classifier_3class``..."""
    n = len(cfg.classifier.classes)
    return f"{cfg.training.backbone}_classifier" + ("" if n == 2 else f"_{n}class")


def representative_crops(cfg: Config, n: int = CALIBRATION_SAMPLES) -> np.ndarray:
    t = cfg.training
    split = load_split(t.data_dir, "train", list(cfg.classifier.classes), t.class_dirs, max(t.store_size, t.input_size))
    rng = np.random.default_rng(t.seed)
    pick = split.images[rng.choice(len(split.labels), size=min(n, len(split.labels)), replace=False)]
    half = len(pick) // 2
    aug = CCTVAugment(t.input_size, min_face_px=t.min_face_px, pad=cfg.classifier.crop_pad)
    return np.concatenate([plain_batch(pick[:half], t.input_size), augment_batch(aug, pick[half:], rng)])


def export_tflite(cfg: Config, model_path: Path, log=print) -> dict[str, Path]:
    """Write ``<stem>_float32.tflite`` and ``<stem>_int8.tflite`` next to the Keras model."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    model = keras.models.load_model(model_path)
    out_dir = model_path.parent
    stem = _stem(cfg)
    paths = {"float32": out_dir / f"{stem}_float32.tflite", "int8": out_dir / f"{stem}_int8.tflite"}

    _atomic_write(paths["float32"], tf.lite.TFLiteConverter.from_keras_model(model).convert())

    calib = representative_crops(cfg).astype(np.float32)

    def representative():
        for i in range(len(calib)):
            yield [calib[i:i + 1]]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.uint8
    conv.inference_output_type = tf.uint8
    _atomic_write(paths["int8"], conv.convert())
    for kind, path in paths.items():
        log(f"exported {kind}: {path} ({path.stat().st_size} bytes)")
    return paths


def export_onnx(cfg: Config, model_path: Path, log=print) -> Path:
    """``<stem>.onnx`` next to the Keras model: NHWC float32 RGB 0..255 in, probabilities out."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf
    import tf2onnx

    model = keras.models.load_model(model_path)
    size = cfg.training.input_size
    path = model_path.parent / f"{_stem(cfg)}.onnx"
    proto, _ = tf2onnx.convert.from_keras(
        model, input_signature=(tf.TensorSpec((None, size, size, 3), tf.float32, name="image"),), opset=17
    )
    _atomic_write(path, proto.SerializeToString())
    log(f"exported onnx: {path} ({path.stat().st_size} bytes)")
    return path


def install(paths: dict[str, Path], what: str, log=print) -> None:
    """Copy exported files into facemask/weights/ and record them in the catalog.

    The catalog name is the file stem (``ofm_classifier_int8``), with ``_onnx`` for .onnx files.
    """
    entries = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    for kind, path in paths.items():
        dest = BUNDLED_DIR / path.name
        tmp = dest.with_name(dest.name + ".part")
        shutil.copyfile(path, tmp)
        os.replace(tmp, dest)
        name = dest.stem + ("_onnx" if dest.suffix == ".onnx" else "")
        entries[name] = {
            "file": dest.name,
            "sha256": sha256_file(dest),
            "bytes": dest.stat().st_size,
            "url": "",
            "license": "MIT (trained by facemask)",
            "what": f"{what}, {KIND_TEXT.get(kind, kind)}, RGB 0..255 input (see facemask/weights/MODEL_CARD.md)",
        }
        log(f"installed {dest} as catalog entry '{name}'")
    _atomic_write(CATALOG_PATH, (json.dumps(dict(sorted(entries.items())), indent=1) + "\n").encode("utf-8"))
