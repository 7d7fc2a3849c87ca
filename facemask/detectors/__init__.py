"""Face detectors, one backend per file, found through a registry.

A backend module calls :func:`register` with its name, its pydantic config model and its class.
Backend modules must be cheap to import: heavy runtimes (litert, pycoral, tensorrt) are imported
when the detector is built, never at module import, so that validating a config never needs them.
Adding a backend is one new file in this folder.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .base import FaceDetector, register, registry

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["FaceDetector", "register", "build_detector", "detector_config_model", "available"]

_discovered = False


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    for info in pkgutil.iter_modules(__path__):
        if info.name not in ("base",) and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    _discovered = True


def available() -> list[str]:
    _discover()
    return sorted(registry)


def detector_config_model(name: str):
    _discover()
    if name not in registry:
        raise ValueError(f"unknown detector type '{name}' (known: {', '.join(sorted(registry))})")
    return registry[name].config_model


def build_detector(cfg: "Config") -> FaceDetector:
    _discover()
    det_cfg = cfg.detector
    entry = registry.get(det_cfg.type)
    if entry is None:
        raise ConfigError(f"unknown detector type '{det_cfg.type}'")
    return entry.factory(det_cfg)
