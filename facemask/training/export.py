"""Export a trained Keras model to .tflite (float32, float16, and int8 with uint8 input/output)
and .onnx.

The model rescales its own input, so every file takes RGB pixel values 0..255; the int8 file's
input is uint8 with scale 1/1 (runtime.py quantizes by the tensor's scale / zero point). The int8
calibration data are training crops, half of them through the CCTV augmentation, so the
activation ranges cover small, blurry faces as well as sharp ones. float16 stores the weights as
float16 (half the size of float32) and computes in float32 on a CPU; its input/output stay float32.

The int8 file is full-integer (checked: no float tensor, uint8 in/out), but its batch dimension
is dynamic, which ``edgetpu_compiler`` refuses; ``--edgetpu`` writes ``<stem>_int8_b1.tflite``,
the same model with batch fixed to 1, for the compiler:

``python -m facemask.training.export --config CONFIG [--set KEY=VALUE] [--edgetpu] [--float16]``
exports the model in ``training.output_dir``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from ..config import Config, load_config
from ..cli import report_errors
from ..errors import InputError, ModelError
from ..models import BUNDLED_DIR, CATALOG_PATH, sha256_file
from .augment import CCTVAugment, augment_batch, plain_batch
from .data import load_split

CALIBRATION_SAMPLES = 400
KIND_TEXT = {"float32": "float32 TFLite", "float16": "float16-weight TFLite (float32 in/out)",
             "int8": "int8 TFLite (uint8 in/out)", "int8_b1": "int8 TFLite (uint8 in/out), batch 1, for edgetpu_compiler",
             "onnx": "float32 ONNX"}
FLOAT_TYPES = (np.float16, np.float32, np.float64)


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


def _load(model_path: Path):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras.models.load_model(model_path)


def _int8(conv, calib: np.ndarray) -> bytes:
    """Full-integer quantization: int8 weights and activations, uint8 input and output, and an
    error (not a silent float fallback) for any op without an int8 kernel."""
    import tensorflow as tf

    def representative():
        for i in range(len(calib)):
            yield [calib[i:i + 1]]

    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.uint8
    conv.inference_output_type = tf.uint8
    return conv.convert()


def full_integer_problems(path: Path) -> list[str]:
    """Why a .tflite file is not full-integer (empty list: it is): float tensors, float ops,
    non-uint8 input/output. Read with LiteRT, so it checks what the converter actually wrote."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    problems = [f"{d['name']} is {np.dtype(d['dtype']).name}" for d in it.get_tensor_details() if d["dtype"] in FLOAT_TYPES]
    problems += [f"op {op['op_name']}" for op in it._get_ops_details() if op["op_name"] == "DEQUANTIZE"]
    for side, details in (("input", it.get_input_details()), ("output", it.get_output_details())):
        problems += [f"{side} {d['name']} is {np.dtype(d['dtype']).name}, not uint8" for d in details if d["dtype"] != np.uint8]
    return problems


def _checked_int8(path: Path, data: bytes) -> None:
    _atomic_write(path, data)
    problems = full_integer_problems(path)
    if problems:
        path.unlink()
        raise ModelError(f"{path.name} is not full-integer: {'; '.join(problems[:5])}")


def export_tflite(cfg: Config, model_path: Path, log=print) -> dict[str, Path]:
    """Write ``<stem>_float32.tflite``, ``<stem>_float16.tflite`` and ``<stem>_int8.tflite``
    next to the Keras model."""
    model = _load(model_path)
    import tensorflow as tf

    out_dir = model_path.parent
    stem = _stem(cfg)
    paths = {kind: out_dir / f"{stem}_{kind}.tflite" for kind in ("float32", "float16", "int8")}
    _atomic_write(paths["float32"], tf.lite.TFLiteConverter.from_keras_model(model).convert())
    paths["float16"] = export_float16(model, paths["float16"])
    _checked_int8(paths["int8"], _int8(tf.lite.TFLiteConverter.from_keras_model(model),
                                        representative_crops(cfg).astype(np.float32)))
    for kind, path in paths.items():
        log(f"exported {kind}: {path} ({path.stat().st_size} bytes)")
    return paths


def export_float16(model, path: Path) -> Path:
    """float16 weights, float32 input/output (dequantized to float32 on load by a CPU)."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]
    _atomic_write(path, conv.convert())
    return path


def export_edgetpu_input(cfg: Config, model_path: Path, log=print) -> Path:
    """``<stem>_int8_b1.tflite``: full-integer int8 with the batch fixed to 1, the input that
    ``edgetpu_compiler`` accepts (it refuses dynamic-sized tensors; the Edge TPU runs batch 1)."""
    model = _load(model_path)
    import keras
    import tensorflow as tf

    size = cfg.training.input_size
    image = keras.Input(batch_shape=(1, size, size, 3), name="image")
    fixed = keras.Model(image, model(image, training=False))  # same weights, batch 1 in the graph
    path = model_path.parent / f"{_stem(cfg)}_int8_b1.tflite"
    _checked_int8(path, _int8(tf.lite.TFLiteConverter.from_keras_model(fixed), representative_crops(cfg).astype(np.float32)))
    log(f"exported int8_b1: {path} ({path.stat().st_size} bytes)")
    return path


def export_onnx(cfg: Config, model_path: Path, log=print) -> Path:
    """``<stem>.onnx`` next to the Keras model: NHWC float32 RGB 0..255 in, probabilities out."""
    model = _load(model_path)
    import tensorflow as tf
    import tf2onnx

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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m facemask.training.export", description="export the model in training.output_dir")
    p.add_argument("--config", required=True)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--edgetpu", action="store_true", help="only <stem>_int8_b1.tflite (batch 1, for edgetpu_compiler)")
    p.add_argument("--float16", action="store_true", help="only <stem>_float16.tflite")
    args = p.parse_args(argv)

    def run() -> None:
        cfg = load_config(args.config, args.set)
        from .train import MODEL_FILE

        model_path = Path(cfg.training.output_dir) / MODEL_FILE
        if not model_path.is_file():
            raise InputError(f"no trained model at {model_path} (train first, or set training.output_dir)")
        if args.edgetpu:
            export_edgetpu_input(cfg, model_path)
        if args.float16:
            path = export_float16(_load(model_path), model_path.parent / f"{_stem(cfg)}_float16.tflite")
            print(f"exported float16: {path} ({path.stat().st_size} bytes)")
        if not (args.edgetpu or args.float16):
            export_tflite(cfg, model_path)
            export_onnx(cfg, model_path)

    return report_errors(run)


if __name__ == "__main__":
    sys.exit(main())
