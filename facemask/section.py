"""The base of every config section: strict, no unknown keys, defaults validated too.

Its own module so that the detectors' config models (``facemask.detectors.configs``) and
``facemask.config`` can both build on it without importing each other."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True, allow_inf_nan=False)
