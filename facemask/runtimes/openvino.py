"""OpenVINO (``pip install openvino``): compiled models on the CPU, one per input shape."""

from __future__ import annotations

from ..errors import BackendUnavailable


def core():
    try:
        import openvino
    except ImportError as exc:
        raise BackendUnavailable(f"openvino is not installed ({exc}); pip install openvino") from None
    return openvino.Core()


def compiled(model_path: str, shape: list[int], num_threads: int, ov_core=None):
    """``model_path`` reshaped to the static input ``shape`` and compiled for the CPU."""
    c = ov_core or core()
    model = c.read_model(str(model_path))
    model.reshape(shape)
    return c.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": num_threads, "PERFORMANCE_HINT": "LATENCY"})
