"""Run a serialized TensorRT engine (Jetson, x86 GPU) with TensorRT's own Python API.

Device memory and streams go through cuda-python's CUDA runtime API (``pip install cuda-python``,
the ``[jetson]`` extra): it uses the device's primary context, which every host thread shares, so
an engine made in one thread runs from another (a camera's processing thread). pycuda is not
needed: it builds from source only, and its ``pycuda.autoinit`` binds a context to the thread
that imported it.

Build the engine on the target device from the ONNX export, e.g.
``trtexec --onnx=ofm_classifier.onnx --saveEngine=ofm_classifier.engine --fp16
--minShapes=image:1x45x45x3 --optShapes=image:16x45x45x3 --maxShapes=image:64x45x45x3``
(or ``python scripts/build_trt_engine.py``, which reads the input name from the file).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendUnavailable, ModelError


def import_cudart() -> Any:
    """cuda-python's runtime API module (``cuda.bindings.runtime`` from 12.6, ``cuda.cudart`` before)."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        from cuda import cudart  # type: ignore[no-redef]
    return cudart


def cuda_call(result: Any) -> Any:
    """cuda-python returns (error, value...): raise on an error, return the value(s)."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise BackendUnavailable(f"CUDA error {err}")
    return values[0] if len(values) == 1 else tuple(values) or None


class TrtEngine:
    """A deserialized engine with named input / output tensors, one stream, grown device buffers.

    ``run({name: array})`` copies the inputs in, runs the engine and returns every output as a
    float32 array. Calls are serialized by a lock: one engine, one execution context.
    """

    def __init__(self, path: Path):
        try:
            import tensorrt as trt

            self.cudart = import_cudart()
        except ImportError as exc:
            raise BackendUnavailable(
                f"TensorRT engines need tensorrt and cuda-python ({exc.name} is not installed); tensorrt "
                "comes with JetPack, cuda-python with the [jetson] extra: set classifier.backend to "
                "\"tflite\" or \"onnx\" elsewhere"
            ) from None
        self.trt = trt
        logger = trt.Logger(trt.Logger.WARNING)
        with open(path, "rb") as f, trt.Runtime(logger) as runtime:
            self.engine = runtime.deserialize_cuda_engine(f.read())
        if self.engine is None:
            raise ModelError(f"{path}: not a TensorRT engine for this device / TensorRT version")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = trt.TensorIOMode.INPUT
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == mode]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) != mode]
        self.stream = cuda_call(self.cudart.cudaStreamCreate())
        self._buffers: dict[str, tuple[int, int]] = {}  # name -> (device pointer, bytes)
        self._lock = threading.Lock()

    def shape(self, name: str) -> tuple[int, ...]:
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


class TensorRTBackend:
    """The mask classifier as a TensorRT engine: one input (N, S, S, 3), one output (N, classes)."""

    def __init__(self, path: Path, max_batch: int):
        self.engine = TrtEngine(path)
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
