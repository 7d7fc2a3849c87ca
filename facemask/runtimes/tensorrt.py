"""TensorRT with pycuda (both come with JetPack), imported only when a TensorRT backend is built."""

from __future__ import annotations

import importlib.util

from ..errors import BackendUnavailable


def import_trt(what: str, otherwise: str):
    """(tensorrt, pycuda.driver), with a CUDA context; one BackendUnavailable line naming what
    is missing and ``otherwise`` (what to configure instead) when they are not installed."""
    missing = [m for m in ("tensorrt", "pycuda") if importlib.util.find_spec(m) is None]
    if missing:
        raise BackendUnavailable(f"{what} needs tensorrt and pycuda ({' and '.join(missing)} not installed); "
                                 f"they come with JetPack on a Jetson: {otherwise}")
    import pycuda.autoinit  # noqa: F401  (creates the CUDA context)
    import pycuda.driver as cuda
    import tensorrt as trt

    return trt, cuda
