"""The sink contract: where a run's frames and events go.

A sink gets every processed frame (:meth:`Sink.on_frame`, with the frame, its result and the
annotated picture, drawn once on first use) and every event (:meth:`Sink.on_event`). The runner
calls :meth:`Sink.close` when the run ends normally (files are committed then) and
:meth:`Sink.abort` when it fails or is interrupted (nothing half-written stays). A new output
(a file format, a broker, MQTT, an alert) is one new class with these four methods.
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import numpy as np

from ...types import Event, Frame, FrameResult


class FrameOutput:
    """One processed frame as sinks see it; ``annotated`` is drawn on first use, once."""

    __slots__ = ("frame", "result", "_draw", "_annotated")

    def __init__(self, frame: Frame, result: FrameResult, draw: Callable[[np.ndarray, FrameResult], np.ndarray]):
        self.frame, self.result = frame, result
        self._draw = draw
        self._annotated: np.ndarray | None = None

    @property
    def annotated(self) -> np.ndarray:
        """The frame with boxes, labels and the people panel (drawn on a copy of the frame)."""
        if self._annotated is None:
            self._annotated = self._draw(self.frame.image.copy(), self.result)
        return self._annotated


@runtime_checkable
class Sink(Protocol):
    def on_frame(self, out: FrameOutput) -> None:
        ...

    def on_event(self, event: Event) -> None:
        ...

    def close(self) -> None:
        ...

    def abort(self) -> None:
        ...


class SinkBase:
    """Does nothing; subclasses override what they need."""

    def on_frame(self, out: FrameOutput) -> None:
        pass

    def on_event(self, event: Event) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        self.close()
