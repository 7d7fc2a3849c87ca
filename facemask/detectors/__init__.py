"""Face detectors, one backend per file behind one contract (:class:`Detector`), found through a
registry.

A backend module defines its class with ``@register(name)``; its config model lives in
``configs.py`` (the ``detector`` section of a config is their union, on ``type``). Backend
modules must be cheap to import: heavy runtimes (litert, pycoral, tensorrt) are imported when
the detector is built, never at module import, so that validating a config never needs them.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..errors import ConfigError
from .base import Detector, FaceDetector, register, registry
from .configs import DETECTOR_TYPES, DetectorConfig

__all__ = ["Detector", "DetectorConfig", "FaceDetector", "available", "build_detector", "make_detector", "register"]

_discovered = False
_NOT_BACKENDS = ("base", "configs", "tiling")


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    for info in pkgutil.iter_modules(__path__):
        if info.name not in _NOT_BACKENDS and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    _discovered = True


def available() -> list[str]:
    return sorted(DETECTOR_TYPES)


def make_detector(det_cfg) -> Detector:
    """The detector for one detector config (a member of :data:`DetectorConfig`)."""
    _discover()
    factory = registry.get(det_cfg.type)
    if factory is None:
        raise ConfigError(f"unknown detector type '{det_cfg.type}'")
    return factory(det_cfg)


def build_detector(cfg) -> Detector:
    """The detector of a whole :class:`facemask.config.Config`."""
    return make_detector(cfg.detector)
