"""A tiny name -> builder registry, shared by backbones and heads (one file per entry)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

from ..errors import ConfigError


class Registry:
    def __init__(self, kind: str, package: str, path: list[str]):
        self.kind, self._package, self._path = kind, package, path
        self._builders: dict[str, Callable] = {}
        self._discovered = False

    def register(self, name: str):
        def wrap(fn: Callable) -> Callable:
            self._builders[name] = fn
            return fn

        return wrap

    def _discover(self) -> None:
        if not self._discovered:
            for info in pkgutil.iter_modules(self._path):
                if not info.name.startswith("_"):
                    importlib.import_module(f"{self._package}.{info.name}")
            self._discovered = True

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._builders)

    def get(self, name: str) -> Callable:
        self._discover()
        if name not in self._builders:
            raise ConfigError(f"unknown {self.kind} '{name}' (known: {', '.join(self.names())})")
        return self._builders[name]
