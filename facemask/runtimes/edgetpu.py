"""The Coral Edge TPU runtime (libedgetpu), probed lazily: one clear error when it is missing."""

from __future__ import annotations

import ctypes

from ..errors import BackendUnavailable

LIBEDGETPU = "libedgetpu.so.1"
INSTALL = "libedgetpu1-std, https://coral.ai/software/"


def missing(library: str) -> str | None:
    """None when the shared library loads, else why not. Probed with ctypes: a failed
    ``load_delegate`` leaves a half-built object whose destructor prints a traceback."""
    try:
        ctypes.CDLL(library)
        return None
    except OSError as exc:
        return str(exc)


def require(library: str = LIBEDGETPU, what: str = "the Edge TPU", hint: str = "") -> None:
    """Raise one BackendUnavailable line when ``library`` cannot be loaded."""
    if missing(library) is not None:
        raise BackendUnavailable(f"{what} needs {library} ({INSTALL}), which is not installed here"
                                 + (f": {hint}" if hint else ""))


def delegate(library: str = LIBEDGETPU, device: str = "", load=None):
    """The Edge TPU delegate (``load``: the interpreter module's ``load_delegate``)."""
    if load is None:
        from .tflite import load_delegate as load
    try:
        return load(library, {"device": device} if device else {})
    except (ValueError, OSError) as exc:
        raise BackendUnavailable(f"no Edge TPU found or {library} failed to load: {exc}".replace("\n", " ")) from None
