"""ONNX Runtime sessions: CUDA first when onnxruntime-gpu has it, then the CPU.

Every session is made here, by :func:`session`: the providers come from
:func:`.providers.session_providers` and, once it is made, :func:`.providers.check_cuda` says
(in ``warn`` / ``require`` mode) when CUDA was expected but is not what the session runs on.
"""

from __future__ import annotations

from ..errors import BackendUnavailable
from .providers import CPU, CUDA, CudaMode, check_cuda, session_providers

__all__ = ["CudaMode", "available", "on_cuda", "ort", "session"]


def ort(hint: str = ""):
    """The onnxruntime module; one BackendUnavailable line when it is not installed."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendUnavailable(f"onnxruntime is not installed ({exc}): pip install 'facemask[onnx]' "
                                 "(or [gpu] for CUDA)" + (f", {hint}" if hint else "")) from None
    return onnxruntime


def available() -> bool:
    try:
        ort()
        return True
    except BackendUnavailable:
        return False


def session(model, num_threads: int, cuda: CudaMode = "auto", gpu: bool = True, what: str = "", hint: str = ""):
    """An InferenceSession on a model path or serialized bytes; ``num_threads`` intra-op threads.

    ``gpu=False``: the CPU only, whatever this onnxruntime has. Otherwise CUDA first when it has
    it, and ``cuda`` (``"auto"`` / ``"warn"`` / ``"require"``, see :mod:`.providers`) says what
    happens when the session does not run on CUDA; ``what`` names the model in that message.
    ``hint``: what to do instead when onnxruntime is not installed.
    """
    rt = ort(hint)
    opts = rt.SessionOptions()
    opts.intra_op_num_threads = num_threads
    opts.inter_op_num_threads = 1
    # Idle intra-op threads spin by default: on a busy machine (decode, encode and tracking threads,
    # other processes) that burns the cores the other work needs.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = session_providers(rt, cuda) if gpu else [CPU]
    made = rt.InferenceSession(model if isinstance(model, bytes) else str(model), opts, providers=providers)
    if gpu:
        check_cuda(made, cuda, what or ("an ONNX model" if isinstance(model, bytes) else f"the ONNX model {model}"))
    return made


def on_cuda(made) -> bool:
    """Whether a session runs on the CUDA provider."""
    return CUDA in made.get_providers()
