"""The source contract: something that yields timestamped :class:`~facemask.types.Frame` s.

A source is opened by :func:`open_source` from what the user typed (a file, a folder of images,
an ``rtsp://`` / ``http://`` URL, a webcam index); the scheme picks the class from
:data:`registry`, so a new kind of camera is one new file that calls :func:`register`.
Opening checks that a first frame can be read and raises :class:`~facemask.errors.InputError`
with the reason otherwise.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol, runtime_checkable

from ...errors import InputError
from ...types import Frame

log = logging.getLogger("facemask")


@dataclass
class SourceInfo:
    name: str  # for display: credentials removed
    fps: float  # the nominal frame rate (files: the container's; live: what the device reports, or 25)
    width: int
    height: int
    frames: int | None = None  # frames the container announces (files), None when unknown or live
    live: bool = False  # frames arrive in real time and cannot be waited for


@runtime_checkable
class Source(Protocol):
    info: SourceInfo

    def __iter__(self) -> Iterator[Frame]:
        ...

    def close(self) -> None:
        ...


@dataclass
class ReadReport:
    """What a source could not read: one line per failed item (images), and for files the
    frames announced against the frames read (a truncated video)."""

    failed: list[str] = field(default_factory=list)
    frames_read: int = 0


class SourceBase:
    """Shared plumbing: context manager, a read report."""

    info: SourceInfo

    def __init__(self) -> None:
        self.report = ReadReport()
        self.loops = 0  # times a looped file was rewound (0 for every other source)

    def __iter__(self) -> Iterator[Frame]:  # pragma: no cover - every source defines it
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "SourceBase":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def redact(text: str | int) -> str:
    """A source for display and logs: ``user:password@`` in a URL becomes ``***@``, whatever
    characters the password holds (``p@ssw0rd`` included: everything up to the last ``@`` before
    the host goes)."""
    return re.sub(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@", r"\1***@", str(text))


Opener = Callable[..., SourceBase]
registry: dict[str, Opener] = {}


def register(scheme: str) -> Callable[[Opener], Opener]:
    """``@register("rtsp")``: the class opens specs of that scheme ("file", "dir" and "webcam"
    name the schemeless kinds)."""

    def wrap(cls: Opener) -> Opener:
        registry[scheme] = cls
        return cls

    return wrap


def scheme_of(spec: str | int) -> str:
    text = str(spec)
    if isinstance(spec, int) or text.isdigit():
        return "webcam"
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", text)
    if m:
        return m.group(1).lower()
    from pathlib import Path

    return "dir" if Path(text).is_dir() else "file"


def open_source(spec: str | int, **options: object) -> SourceBase:
    """Open ``spec`` with the source registered for its scheme; ``options`` go to its class
    (``loop``, ``realtime`` for files; ``open_timeout_s`` for streams; ``recursive`` for folders)."""
    from . import images, stream, video, webcam  # noqa: F401  (each registers itself)

    scheme = scheme_of(spec)
    opener = registry.get(scheme)
    if opener is None:
        raise InputError(f"{redact(spec)}: no source for the scheme {scheme}:// (known: {', '.join(sorted(registry))})")
    return opener(spec, **options)
