"""Run a trained mask classifier: .tflite with ai-edge-litert, .onnx with onnxruntime, an Edge
TPU .tflite with libedgetpu, a TensorRT .engine with tensorrt and cuda-python.

All faces of a frame go through in one call. TensorFlow is never imported here. The model takes
RGB uint8-range pixels (0..255; float models rescale inside the graph) of shape (N, S, S, 3) and
returns class probabilities in the order given by ``classifier.classes`` in the config.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ClassifierConfig
from ..crops import face_crops
from ..errors import BackendUnavailable, ModelError
from ..models import resolve
from ..runtimes import edgetpu, onnx, tensorrt, tflite
from ..runtimes.providers import CudaMode
from ..types import INCORRECT, MASK, NO_MASK, Face

log = logging.getLogger("facemask")


def _pieces(n: int, cap: int) -> list[int]:
    """Batch sizes for ``n`` crops: ``cap`` while that many are left, then powers of two, largest
    first (5 -> 4 + 1), so a handful of interpreters serve every frame and none runs padding
    (padding 5 crops to a batch of 8 costs 3 crops' time; scripts/bench_runtimes.py)."""
    out = []
    while n > 0:
        b = cap if n >= cap else 1 << (n.bit_length() - 1)
        out.append(b)
        n -= b
    return out


class TFLiteBackend:
    """LiteRT interpreters (``facemask.runtimes.tflite``), one per batch size (:func:`_pieces`)."""

    def __init__(self, path: Path, num_threads: int, max_batch: int, delegate: Any = None):
        self._make = lambda: tflite.interpreter(path, num_threads, [delegate] if delegate is not None else None)
        self.max_batch = max_batch
        self._interpreters: dict[int, Any] = {}
        try:
            probe = self._get(1)
            inp = probe.get_input_details()[0]
            self.input_size = int(inp["shape"][1])
        except (ValueError, RuntimeError, IndexError) as exc:
            raise ModelError(f"cannot load TFLite classifier {path}: {_first_line(exc)}") from None

    def _get(self, batch: int) -> Any:
        it = self._interpreters.get(batch)
        if it is None:
            it = self._make()
            idx = it.get_input_details()[0]["index"]
            shape = list(it.get_input_details()[0]["shape"])
            if shape[0] != batch:
                it.resize_tensor_input(idx, [batch] + shape[1:])
            it.allocate_tensors()
            self._interpreters[batch] = it
        return it

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        out = []
        start = 0
        for b in _pieces(len(crops), self.max_batch):
            it = self._get(b)
            inp, outp = it.get_input_details()[0], it.get_output_details()[0]
            it.set_tensor(inp["index"], tflite.quantize(np.asarray(crops[start:start + b], np.float32), inp))
            it.invoke()
            out.append(tflite.dequantize(it.get_tensor(outp["index"]), outp))
            start += b
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


class OnnxBackend:
    """An ONNX Runtime session (``facemask.runtimes.onnx``): CUDA when onnxruntime-gpu has it
    (``cuda`` says what happens when it is expected but not active), else the CPU."""

    def __init__(self, path: Path, num_threads: int, max_batch: int, cuda: CudaMode = "auto"):
        try:
            self.session = onnx.session(path, num_threads, cuda, what=f"the ONNX classifier {path.name}",
                                        hint="or use a .tflite classifier")
            self.input = self.session.get_inputs()[0]
            self.input_size = int(self.input.shape[1])
        except BackendUnavailable:  # no onnxruntime, or cuda "require" without CUDA: one line as it is
            raise
        except Exception as exc:  # onnxruntime raises its own exception types (InvalidProtobuf, Fail...)
            raise ModelError(f"cannot load ONNX classifier {path}: {_first_line(exc)}") from None
        self.on_cuda = onnx.on_cuda(self.session)
        self.max_batch = max_batch

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        out = [
            self.session.run(None, {self.input.name: crops[s:s + self.max_batch].astype(np.float32)})[0]
            for s in range(0, len(crops), self.max_batch)
        ]
        return np.concatenate(out).astype(np.float32)


class TensorRTBackend:
    """The mask classifier as a TensorRT engine: one input (N, S, S, 3), one output (N, classes).
    tensorrt and cuda-python are imported when it is made (``facemask.runtimes.tensorrt``)."""

    def __init__(self, path: Path, max_batch: int):
        self.engine = tensorrt.TrtEngine(path, what="the TensorRT classifier",
                                         otherwise='elsewhere set classifier.backend to "tflite" or "onnx"')
        if len(self.engine.inputs) != 1 or len(self.engine.outputs) != 1:
            raise ModelError(f"{path}: a classifier engine has one input and one output "
                             f"(found {self.engine.inputs} -> {self.engine.outputs})")
        self.input_name, self.output_name = self.engine.inputs[0], self.engine.outputs[0]
        self.input_size = int(self.engine.shape(self.input_name)[1])
        self.max_batch = max_batch

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        outs = [self.engine.run({self.input_name: crops[s:s + self.max_batch]})[self.output_name]
                for s in range(0, len(crops), self.max_batch)]
        return np.concatenate(outs)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _edgetpu_backend(path: Path, cfg: ClassifierConfig) -> TFLiteBackend:
    """The Edge TPU runs through LiteRT's delegate mechanism; only libedgetpu is needed."""
    edgetpu.require(what="the Edge TPU classifier", hint="set classifier.fallback_model to run a CPU model instead")
    delegate = edgetpu.delegate()
    # Edge TPU-compiled models have a fixed batch size: classify one face per call.
    return TFLiteBackend(path, cfg.num_threads, 1, delegate=delegate)


class MaskClassifier:
    """Crops faces, classifies them in one batch, writes ``mask_prob``/``label`` into each Face."""

    def __init__(self, cfg: ClassifierConfig):
        self.cfg = cfg
        try:
            self.backend = self._load(cfg.model, cfg.backend)
        except BackendUnavailable as exc:
            if not cfg.fallback_model:
                raise
            log.warning("%s; using classifier.fallback_model %s on the CPU", exc, cfg.fallback_model)
            self.backend = self._load(cfg.fallback_model, "auto")
        self.input_size = self.backend.input_size
        self.mask_index = cfg.classes.index(MASK)

    def _load(self, model: str, backend: str):
        cfg = self.cfg
        path = resolve(model)
        if backend == "auto":
            backend = "onnx" if path.suffix == ".onnx" else "tflite"
        if backend == "tflite":
            return TFLiteBackend(path, cfg.num_threads, cfg.max_batch)
        if backend == "onnx":
            return OnnxBackend(path, cfg.num_threads, cfg.max_batch, cfg.cuda)
        if backend == "edgetpu":
            return _edgetpu_backend(path, cfg)
        if backend == "tensorrt":
            return TensorRTBackend(path, cfg.max_batch)
        raise ModelError(f"unknown classifier backend {backend}")  # pragma: no cover - validated

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 RGB crops -> (N, n_classes) probabilities."""
        if len(crops) == 0:
            return np.zeros((0, len(self.cfg.classes)), np.float32)
        probs = self.backend(crops)
        if probs.shape[1] != len(self.cfg.classes):
            raise ModelError(
                f"classifier {self.cfg.model} outputs {probs.shape[1]} classes but the config lists "
                f"{len(self.cfg.classes)} ({', '.join(self.cfg.classes)})"
            )
        return probs

    def crops(self, frame: np.ndarray, faces: list[Face]) -> np.ndarray:
        return face_crops(frame, [f.box for f in faces], self.input_size, self.cfg.crop_pad, self.cfg.crop_shift)

    def classify(self, frame: np.ndarray, faces: list[Face]) -> None:
        if not faces:
            return
        probs = self.predict(self.crops(frame, faces))
        for face, p in zip(faces, probs):
            face.class_probs = {c: float(v) for c, v in zip(self.cfg.classes, p)}
            face.mask_prob = float(p[self.mask_index])
            face.label = label_from_probs(face.class_probs, self.cfg.mask_threshold)


def label_from_probs(class_probs: dict[str, float], mask_threshold: float) -> str:
    """'mask' when mask_prob clears the threshold; otherwise the likelier of the other classes."""
    if class_probs[MASK] >= mask_threshold:
        return MASK
    if class_probs.get(INCORRECT, 0.0) > class_probs[NO_MASK]:
        return INCORRECT
    return NO_MASK


def build_classifier(cfg: ClassifierConfig) -> MaskClassifier:
    return MaskClassifier(cfg)
