"""Errors a user sees as one clear line (the CLI prints them without a traceback)."""


class FacemaskError(Exception):
    """Base class: the message is meant for the user, on one line."""

    exit_code = 1


class ConfigError(FacemaskError):
    exit_code = 2


class ModelError(FacemaskError):
    exit_code = 2


class InputError(FacemaskError):
    exit_code = 2


class BackendUnavailable(FacemaskError):
    """An optional runtime (Edge TPU, TensorRT...) is not installed on this machine."""

    exit_code = 2
