"""The TensorRT classifier's glue (engine tensors, device buffers, copies, one stream) without a GPU:
tensorrt and cuda-python are replaced by fakes that compute on the host what the engine would."""

from __future__ import annotations

import enum
import sys
import threading
import types

import numpy as np
import pytest

from facemask.errors import BackendUnavailable


class _Err(enum.IntEnum):
    cudaSuccess = 0
    cudaErrorMemoryAllocation = 2


def _fake_modules(memory: dict[int, np.ndarray], calls: list[str]):
    kind = types.SimpleNamespace(cudaMemcpyHostToDevice=1, cudaMemcpyDeviceToHost=2)
    next_ptr = [4096]

    def malloc(nbytes):
        ptr = next_ptr[0]
        next_ptr[0] += nbytes + 256
        memory[ptr] = np.zeros(nbytes, np.uint8)
        calls.append("malloc")
        return _Err.cudaSuccess, ptr

    def memcpy(dst, src, nbytes, k, stream):
        import ctypes

        if k == kind.cudaMemcpyHostToDevice:
            memory[dst][:nbytes] = np.frombuffer(ctypes.string_at(src, nbytes), np.uint8)
        else:
            ctypes.memmove(dst, memory[src].ctypes.data, nbytes)
        calls.append(f"memcpy{k}")
        return (_Err.cudaSuccess,)

    cudart = types.SimpleNamespace(
        cudaStreamCreate=lambda: (_Err.cudaSuccess, 77), cudaMalloc=malloc, cudaFree=lambda p: (_Err.cudaSuccess,),
        cudaMemcpyAsync=memcpy, cudaStreamSynchronize=lambda s: (_Err.cudaSuccess,), cudaMemcpyKind=kind)

    class Context:
        def __init__(self):
            self.addr, self.shape = {}, None

        def set_input_shape(self, name, shape):
            self.shape = shape

        def get_tensor_shape(self, name):
            return (self.shape[0], 2)

        def set_tensor_address(self, name, ptr):
            self.addr[name] = ptr

        def execute_async_v3(self, stream):
            assert stream == 77
            n = self.shape[0]
            x = memory[self.addr["image"]][: n * 45 * 45 * 3 * 4].view(np.float32).reshape(n, -1)
            p = (x.mean(axis=1) / 255.0).astype(np.float32)  # "mask probability": mean brightness
            memory[self.addr["probs"]][: n * 8] = np.stack([p, 1 - p], axis=1).astype(np.float32).view(np.uint8).ravel()
            calls.append("execute")
            return True

    class Engine:
        num_io_tensors = 2

        def get_tensor_name(self, i):
            return ["image", "probs"][i]

        def get_tensor_mode(self, name):
            return "in" if name == "image" else "out"

        def get_tensor_shape(self, name):
            return (-1, 45, 45, 3) if name == "image" else (-1, 2)

        def create_execution_context(self):
            return Context()

    class Runtime:
        def __init__(self, logger):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def deserialize_cuda_engine(self, data):
            return Engine() if data == b"engine" else None

    logger = type("Logger", (), {"WARNING": 1, "__init__": lambda self, level: None})
    trt = types.SimpleNamespace(Logger=logger, Runtime=Runtime, TensorIOMode=types.SimpleNamespace(INPUT="in"))
    bindings = types.ModuleType("cuda.bindings")
    bindings.runtime = cudart
    cuda = types.ModuleType("cuda")
    cuda.bindings = bindings
    return {"tensorrt": trt, "cuda": cuda, "cuda.bindings": bindings, "cuda.bindings.runtime": cudart}


@pytest.fixture
def fake_gpu(monkeypatch):
    memory: dict[int, np.ndarray] = {}
    calls: list[str] = []
    for name, module in _fake_modules(memory, calls).items():
        monkeypatch.setitem(sys.modules, name, module)
    return calls


def test_engine_runs_batches_from_another_thread(fake_gpu, tmp_path):
    from facemask.classifiers.runtime import TensorRTBackend

    path = tmp_path / "c.engine"
    path.write_bytes(b"engine")
    backend = TensorRTBackend(path, max_batch=4)
    assert backend.input_size == 45
    crops = np.stack([np.full((45, 45, 3), v, np.uint8) for v in (0, 51, 102, 153, 204, 255)])
    result = {}
    worker = threading.Thread(target=lambda: result.update(probs=backend(crops)))  # not the thread that made it
    worker.start()
    worker.join(60)
    probs = result["probs"]
    np.testing.assert_allclose(probs[:, 0], [0, 0.2, 0.4, 0.6, 0.8, 1.0], atol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert fake_gpu.count("execute") == 2  # 6 crops in batches of at most 4
    assert fake_gpu.count("malloc") == 2  # buffers made once, for the first (largest) batch, then reused


def test_not_an_engine_is_a_model_error(fake_gpu, tmp_path):
    from facemask.classifiers.runtime import TensorRTBackend
    from facemask.errors import ModelError

    path = tmp_path / "x.engine"
    path.write_bytes(b"garbage")
    with pytest.raises(ModelError, match="not a TensorRT engine"):
        TensorRTBackend(path, max_batch=4)


def test_cuda_errors_are_one_line():
    from facemask.runtimes.tensorrt import cuda_call

    assert cuda_call((_Err.cudaSuccess, 5)) == 5
    with pytest.raises(BackendUnavailable, match="CUDA error"):
        cuda_call((_Err.cudaErrorMemoryAllocation, 0))


def test_openpifpaf_fields_run_the_cached_engine_from_another_thread(fake_gpu, tmp_path):
    """The OpenPifPaf detector's engine goes through the same cuda-python wrapper (no pycuda)."""
    from facemask.detectors.configs import OpenPifPafConfig
    from facemask.detectors.openpifpaf_trt import TensorRTFields

    engine = tmp_path / "pifpaf.engine"
    engine.write_bytes(b"engine")
    fields = TensorRTFields(OpenPifPafConfig(onnx=str(tmp_path / "missing.onnx"), engine=str(engine)))
    assert fields.input_name == "image" and fields.input_shape == (1, 45, 45, 3)
    result = {}
    worker = threading.Thread(target=lambda: result.update(out=fields(np.full((1, 45, 45, 3), 102.0, np.float32))))
    worker.start()
    worker.join(60)
    np.testing.assert_allclose(result["out"]["probs"], [[0.4, 0.6]], atol=1e-6)
    assert "pycuda" not in sys.modules


def test_openpifpaf_stale_engine_says_delete_it(fake_gpu, tmp_path):
    from facemask.detectors.configs import OpenPifPafConfig
    from facemask.detectors.openpifpaf_trt import TensorRTFields
    from facemask.errors import ModelError

    engine = tmp_path / "pifpaf.engine"
    engine.write_bytes(b"from another TensorRT")
    with pytest.raises(ModelError, match="not a TensorRT engine.*delete it to rebuild"):
        TensorRTFields(OpenPifPafConfig(onnx=str(tmp_path / "missing.onnx"), engine=str(engine)))
