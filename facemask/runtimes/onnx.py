"""ONNX Runtime sessions: CUDA first when onnxruntime-gpu has it, then the CPU."""

from __future__ import annotations

from ..errors import BackendUnavailable


def ort():
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - in requirements.txt
        raise BackendUnavailable(f"onnxruntime is not installed ({exc}); pip install onnxruntime") from None
    return onnxruntime


def available() -> bool:
    try:
        ort()
        return True
    except BackendUnavailable:
        return False


def providers(gpu: bool = True) -> list[str]:
    """Execution providers in order of preference, among those this onnxruntime build has."""
    wanted = ("CUDAExecutionProvider", "CPUExecutionProvider") if gpu else ("CPUExecutionProvider",)
    have = ort().get_available_providers()
    return [p for p in wanted if p in have]


def session(model, num_threads: int, gpu: bool = True):
    """An InferenceSession on a model path or serialized bytes; ``num_threads`` intra-op threads."""
    rt = ort()
    opts = rt.SessionOptions()
    opts.intra_op_num_threads = num_threads
    opts.inter_op_num_threads = 1
    # Idle intra-op threads spin by default: on a busy machine (decode, encode and tracking threads,
    # other processes) that burns the cores the other work needs.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return rt.InferenceSession(model if isinstance(model, bytes) else str(model), opts, providers=providers(gpu))
