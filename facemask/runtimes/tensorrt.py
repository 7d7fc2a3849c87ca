"""Serialized TensorRT engines (Jetson, x86 GPU) through TensorRT's own Python API.

TensorRT and its Python bindings come with JetPack on a Jetson (``pip install tensorrt`` on x86).
Device memory and streams go through cuda-python's CUDA runtime API (``pip install cuda-python``,
the ``[jetson]`` extra): it uses the device's primary context, which every host thread shares, so
an engine made in one thread runs from another (a camera's processing thread). Both are imported
only when an engine is made: without them, that fails with one BackendUnavailable line naming
what is missing.

Classifier engines are built on the target device from the ONNX export, e.g.
``trtexec --onnx=ofm_classifier.onnx --saveEngine=ofm_classifier.engine --fp16
--minShapes=image:1x45x45x3 --optShapes=image:16x45x45x3 --maxShapes=image:64x45x45x3``
(or ``python scripts/build_trt_engine.py``, which reads the input name from the file); the
OpenPifPaf detector builds its own on first use (``facemask.detectors.openpifpaf_trt``).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendUnavailable, ModelError

INSTALL = "tensorrt comes with JetPack on a Jetson (x86: pip install tensorrt), cuda-python with the [jetson] extra"


def import_cudart() -> Any:
    """cuda-python's runtime API module (``cuda.bindings.runtime`` from 12.6, ``cuda.cudart`` before)."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        from cuda import cudart  # type: ignore[no-redef]
    return cudart


def modules(what: str = "a TensorRT engine", otherwise: str = "") -> tuple[Any, Any]:
    """(tensorrt, cuda-python's runtime API); one BackendUnavailable line naming what is missing,
    where it comes from and ``otherwise`` (what to configure instead) when they are not installed."""
    missing = []
    trt: Any = None
    cudart: Any = None
    try:
        import tensorrt

        trt = tensorrt
    except (ImportError, OSError):  # OSError: bindings present, libnvinfer not
        missing.append("tensorrt")
    try:
        cudart = import_cudart()
    except (ImportError, OSError):
        missing.append("cuda-python")
    if missing:
        raise BackendUnavailable(f"{what} needs tensorrt and cuda-python ({' and '.join(missing)} not installed); "
                                 f"{INSTALL}" + (f": {otherwise}" if otherwise else ""))
    return trt, cudart


def cuda_call(result: Any) -> Any:
    """cuda-python returns (error, value...): raise on an error, return the value(s)."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise BackendUnavailable(f"CUDA error {err}")
    return values[0] if len(values) == 1 else tuple(values) or None


class TrtEngine:
    """A deserialized engine with named input / output tensors, one stream, grown device buffers.

    ``source``: an engine file, or a serialized engine's bytes (then ``name`` says what it is in
    errors). ``run({name: array})`` copies the inputs in, runs the engine and returns every output
    as a float32 array. Calls are serialized by a lock: one engine, one execution context.
    ``what`` / ``otherwise`` word the error when tensorrt or cuda-python is missing.
    """

    def __init__(self, source: Path | bytes, *, name: str = "", hint: str = "",
                 what: str = "a TensorRT engine", otherwise: str = ""):
        trt, self.cudart = modules(what, otherwise)
        self.trt = trt
        name = name or str(source if not isinstance(source, bytes) else "the TensorRT engine")
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        # The logger and the runtime are kept for as long as the engine they made.
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(data)
        if self.engine is None:
            raise ModelError(f"{name}: not a TensorRT engine for this device / TensorRT version" + (f"; {hint}" if hint else ""))
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = trt.TensorIOMode.INPUT
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == mode]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) != mode]
        self.stream = cuda_call(self.cudart.cudaStreamCreate())
        self._buffers: dict[str, tuple[int, int]] = {}  # name -> (device pointer, bytes)
        self._lock = threading.Lock()

    def shape(self, name: str) -> tuple[int, ...]:
        """The engine's shape of tensor ``name`` (-1 for a dynamic axis)."""
        return tuple(int(v) for v in self.engine.get_tensor_shape(name))

    def _device(self, name: str, nbytes: int) -> int:
        ptr, size = self._buffers.get(name, (0, 0))
        if size < nbytes:
            if ptr:
                cuda_call(self.cudart.cudaFree(ptr))
            ptr, size = int(cuda_call(self.cudart.cudaMalloc(nbytes))), nbytes
            self._buffers[name] = (ptr, size)
            self.context.set_tensor_address(name, ptr)
        return ptr

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        cudart = self.cudart
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        with self._lock:
            for name, array in feeds.items():
                x = np.ascontiguousarray(array, dtype=np.float32)
                self.context.set_input_shape(name, x.shape)
                ptr = self._device(name, x.nbytes)
                cuda_call(cudart.cudaMemcpyAsync(ptr, x.ctypes.data, x.nbytes, h2d, self.stream))
            results = {}
            for name in self.outputs:
                y = np.empty(tuple(self.context.get_tensor_shape(name)), np.float32)
                self._device(name, y.nbytes)
                results[name] = y
            if not self.context.execute_async_v3(int(self.stream)):
                raise BackendUnavailable("TensorRT execute_async_v3 failed")
            for name, y in results.items():
                cuda_call(cudart.cudaMemcpyAsync(y.ctypes.data, self._buffers[name][0], y.nbytes, d2h, self.stream))
            cuda_call(cudart.cudaStreamSynchronize(self.stream))
        return results

    def close(self) -> None:
        for ptr, _ in self._buffers.values():
            self.cudart.cudaFree(ptr)
        self._buffers.clear()
