"""OpenVINO (the ``[openvino]`` extra): models compiled for the CPU.

A fully convolutional model (YuNet) is compiled once with a dynamic input shape (``-1`` for a
free dimension): one compiled model serves every input size, where a static shape per size
costs a compile (~0.5 s) for almost every photo of a folder whose images differ in size.
"""

from __future__ import annotations

from ..errors import BackendUnavailable


def core():
    try:
        import openvino
    except ImportError as exc:
        raise BackendUnavailable(f"openvino is not installed ({exc}): pip install 'facemask[openvino]'") from None
    return openvino.Core()


def compiled(model_path: str, shape: list[int], num_threads: int, ov_core=None):
    """``model_path`` reshaped to the input ``shape`` (-1: a dynamic dimension) and compiled for
    the CPU, for latency, on ``num_threads`` threads, in float32: on a CPU with bfloat16 (AVX-512
    BF16, AMX) OpenVINO would otherwise run in bfloat16, and its boxes moved by up to 0.17 IoU
    from the other runtimes' (an AMD EPYC with avx512_bf16: tests/test_yunet_runtimes.py)."""
    c = ov_core or core()
    model = c.read_model(str(model_path))
    model.reshape(shape)
    return c.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": num_threads, "PERFORMANCE_HINT": "LATENCY",
                                          "INFERENCE_PRECISION_HINT": "f32"})
