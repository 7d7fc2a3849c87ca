"""Run a trained mask classifier: .tflite with ai-edge-litert, .onnx with onnxruntime.

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
from ..providers import CudaMode, check_cuda, session_providers
from ..types import INCORRECT, MASK, NO_MASK, Face

log = logging.getLogger("facemask")


def _bucket(n: int, cap: int) -> int:
    """Batch sizes are rounded up to powers of two so a handful of shapes serve every frame."""
    b = 1
    while b < n and b < cap:
        b *= 2
    return min(b, cap)


class TFLiteBackend:
    def __init__(self, path: Path, num_threads: int, max_batch: int, delegate: Any = None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:  # pragma: no cover - a dependency of the base install
            raise BackendUnavailable(f"ai-edge-litert is not installed ({exc}); pip install ai-edge-litert") from None
        self._make = lambda: Interpreter(
            model_path=str(path), num_threads=num_threads,
            experimental_delegates=[delegate] if delegate is not None else None,
        )
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
        for start in range(0, len(crops), self.max_batch):
            chunk = crops[start:start + self.max_batch]
            b = _bucket(len(chunk), self.max_batch)
            it = self._get(b)
            inp, outp = it.get_input_details()[0], it.get_output_details()[0]
            x = np.zeros((b,) + chunk.shape[1:], np.float32)
            x[: len(chunk)] = chunk
            scale, zero = inp["quantization"]
            if inp["dtype"] in (np.uint8, np.int8):
                if scale:
                    x = x / scale + zero
                info = np.iinfo(inp["dtype"])
                x = np.clip(np.round(x), info.min, info.max)
            it.set_tensor(inp["index"], x.astype(inp["dtype"]))
            it.invoke()
            y = it.get_tensor(outp["index"])[: len(chunk)].astype(np.float32)
            oscale, ozero = outp["quantization"]
            if outp["dtype"] in (np.uint8, np.int8) and oscale:
                y = (y - ozero) * oscale
            out.append(y)
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


class OnnxBackend:
    def __init__(self, path: Path, num_threads: int, max_batch: int, cuda: CudaMode = "auto"):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendUnavailable(
                f"ONNX models need onnxruntime, which is not installed ({exc}): "
                "pip install 'facemask[onnx]' (or [gpu]), or use a .tflite classifier"
            ) from None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = num_threads
        opts.inter_op_num_threads = 1
        # CUDA when onnxruntime-gpu is installed (x86 GPU config), else the CPU.
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=session_providers(ort, cuda))
            self.input = self.session.get_inputs()[0]
            self.input_size = int(self.input.shape[1])
        except Exception as exc:  # onnxruntime raises its own exception types (InvalidProtobuf, Fail...)
            raise ModelError(f"cannot load ONNX classifier {path}: {_first_line(exc)}") from None
        self.on_cuda = check_cuda(self.session, cuda, f"the ONNX classifier {path.name}")
        self.max_batch = max_batch

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        out = [
            self.session.run(None, {self.input.name: crops[s:s + self.max_batch].astype(np.float32)})[0]
            for s in range(0, len(crops), self.max_batch)
        ]
        return np.concatenate(out).astype(np.float32)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _edgetpu_backend(path: Path, cfg: ClassifierConfig) -> TFLiteBackend:
    """The Edge TPU runs through LiteRT's delegate mechanism; only libedgetpu is needed."""
    import ctypes

    try:  # probe first: a failed load_delegate leaves an object whose destructor prints a traceback
        ctypes.CDLL("libedgetpu.so.1")
    except OSError:
        raise BackendUnavailable(
            "the Edge TPU classifier needs libedgetpu (libedgetpu1-std, see https://coral.ai/software/), "
            "which is not installed here: set classifier.fallback_model to run a CPU model instead"
        ) from None
    from ai_edge_litert.interpreter import load_delegate

    try:
        delegate = load_delegate("libedgetpu.so.1")
    except (ValueError, OSError) as exc:
        raise BackendUnavailable(f"no Edge TPU found or libedgetpu failed to load: {exc}") from None
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
            from .tensorrt import TensorRTBackend  # imported only here: needs tensorrt + cuda-python

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
