"""LiteRT (ai-edge-litert) interpreters and the uint8/int8 quantisation of their tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BackendUnavailable


def interpreter(path: str | Path, num_threads: int, delegates: list | None = None):
    """A LiteRT interpreter (ai-edge-litert imported here, not at module import)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:  # pragma: no cover - installed with requirements.txt
        raise BackendUnavailable(f"ai-edge-litert is not installed ({exc}); pip install ai-edge-litert") from None
    return Interpreter(model_path=str(path), num_threads=num_threads, experimental_delegates=delegates or None)


def load_delegate(library: str, options: dict | None = None):
    from ai_edge_litert.interpreter import load_delegate as load

    return load(library, options or {})


def dequantize(tensor: np.ndarray, detail: dict) -> np.ndarray:
    """A tensor as float32, undoing its uint8/int8 quantisation when it has one."""
    scale, zero = detail["quantization"]
    if tensor.dtype in (np.uint8, np.int8) and scale:
        return (tensor.astype(np.float32) - zero) * scale
    return tensor.astype(np.float32)


def output(it, detail: dict) -> np.ndarray:
    """An output tensor of interpreter ``it`` as float32."""
    return dequantize(it.get_tensor(detail["index"]), detail)


def quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    """Float values for an input tensor, quantised when the tensor is uint8/int8."""
    dtype = detail["dtype"]
    if dtype in (np.uint8, np.int8):
        scale, zero = detail["quantization"]
        if scale:
            x = x / scale + zero
        info = np.iinfo(dtype)
        x = np.clip(np.round(x), info.min, info.max)
    return x.astype(dtype)
