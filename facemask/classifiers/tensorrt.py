"""Run a serialized TensorRT engine (Jetson, x86 GPU). Needs tensorrt and pycuda.

Build the engine on the target device from the ONNX export, e.g.
``trtexec --onnx=ofm_classifier.onnx --saveEngine=ofm_classifier.engine --fp16
--minShapes=image:1x45x45x3 --optShapes=image:16x45x45x3 --maxShapes=image:64x45x45x3``
(or ``python scripts/build_trt_engine.py``, which reads the input name from the file).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BackendUnavailable


class TensorRTBackend:
    def __init__(self, path: Path, max_batch: int):
        try:
            import pycuda.autoinit  # noqa: F401  (creates the CUDA context)
            import pycuda.driver as cuda
            import tensorrt as trt
        except ImportError as exc:
            raise BackendUnavailable(
                f"the TensorRT classifier needs tensorrt and pycuda ({exc.name} is not installed); "
                "they come with JetPack on a Jetson: set classifier.backend to \"tflite\" or \"onnx\" elsewhere"
            ) from None
        self._cuda, self._trt = cuda, trt
        logger = trt.Logger(trt.Logger.WARNING)
        with open(path, "rb") as f, trt.Runtime(logger) as runtime:
            self.engine = runtime.deserialize_cuda_engine(f.read())
        if self.engine is None:
            raise BackendUnavailable(f"{path}: not a TensorRT engine for this device/TensorRT version")
        self.context = self.engine.create_execution_context()
        self.input_name, self.output_name = (self.engine.get_tensor_name(i) for i in range(2))
        self.input_size = int(self.engine.get_tensor_shape(self.input_name)[1])
        self.max_batch = max_batch
        self.stream = cuda.Stream()

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        cuda = self._cuda
        outs = []
        for s in range(0, len(crops), self.max_batch):
            x = np.ascontiguousarray(crops[s:s + self.max_batch], dtype=np.float32)
            self.context.set_input_shape(self.input_name, x.shape)
            y = np.empty(tuple(self.context.get_tensor_shape(self.output_name)), np.float32)
            d_x, d_y = cuda.mem_alloc(x.nbytes), cuda.mem_alloc(y.nbytes)
            cuda.memcpy_htod_async(d_x, x, self.stream)
            self.context.set_tensor_address(self.input_name, int(d_x))
            self.context.set_tensor_address(self.output_name, int(d_y))
            self.context.execute_async_v3(self.stream.handle)
            cuda.memcpy_dtoh_async(y, d_y, self.stream)
            self.stream.synchronize()
            outs.append(y)
        return np.concatenate(outs)
