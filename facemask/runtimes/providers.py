"""ONNX Runtime execution providers: ask for CUDA where wanted, and check that it is really active.

ONNX Runtime falls back to the CPU without an error when the CUDA provider cannot load (an
onnxruntime-gpu built for another CUDA major version, no cuDNN, no GPU visible): only
``session.get_providers()`` tells. Every ONNX session that may run on a GPU goes through
:func:`session_providers` before it is made and :func:`check_cuda` after
(:func:`facemask.runtimes.onnx.session` does both).

``cuda`` modes (``classifier.cuda``, and ``detector.cuda`` of the ONNX Runtime detectors: RetinaFace,
UltraFace, YuNet on ONNX Runtime):
  - ``"auto"``: CUDA when this onnxruntime has it, else the CPU, silently (the CPU configs);
  - ``"warn"``: CUDA expected; when it is not active, one loud warning and the run goes on on the CPU;
  - ``"require"``: CUDA expected; when it is not active, one error line and exit code 2.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from ..errors import BackendUnavailable

log = logging.getLogger("facemask")

CudaMode = Literal["auto", "warn", "require"]
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def session_providers(ort: Any, mode: CudaMode = "auto") -> list[str]:
    """Providers to pass to ``ort.InferenceSession``: CUDA first when this build has it."""
    available = ort.get_available_providers()
    if CUDA in available and mode != "auto":
        preload = getattr(ort, "preload_dlls", None)  # CUDA / cuDNN from the nvidia-* wheels (ORT >= 1.21)
        if preload is not None:
            try:
                preload()
            except Exception as exc:  # noqa: BLE001 - a failed preload shows up in check_cuda
                log.debug("onnxruntime.preload_dlls: %s", exc)
    return [p for p in (CUDA, CPU) if p in available]


def check_cuda(session: Any, mode: CudaMode, what: str) -> bool:
    """True when the session runs on CUDA; in ``warn`` / ``require`` mode, say so when it does not."""
    active = list(session.get_providers())
    if CUDA in active:
        return True
    if mode == "auto":
        return False
    import onnxruntime as ort

    available = ort.get_available_providers()
    if CUDA in available:
        why = ("onnxruntime-gpu has the CUDA provider but could not start it (CUDA / cuDNN libraries of "
               "another major version, or no GPU visible): see the onnxruntime log above")
    else:
        why = f"this onnxruntime ({ort.__version__}) has no CUDA provider (install onnxruntime-gpu, the [gpu] extra)"
    message = f"{what} runs on {', '.join(active) or 'no provider'}, not CUDA: {why}"
    if mode == "require":
        raise BackendUnavailable(message + "; set cuda to \"warn\" to run on the CPU anyway")
    log.warning("%s; running on the CPU", message)
    return False
