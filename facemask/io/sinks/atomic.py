"""Outputs written under a temporary name and renamed on success: a crash never leaves a half file."""

from __future__ import annotations

import csv
import json
import os
import queue
import threading
from pathlib import Path
from typing import Any, Iterable

import cv2
import numpy as np

from ...errors import InputError


def check_output(path: str | Path, what: str = "output") -> Path:
    """Refuse, before any work starts, an output that cannot be written: an existing folder, a
    folder that cannot be created, or one without write permission."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: the {what} is an existing folder, not a file")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{parent}: cannot create the folder for the {what} ({exc.strerror})") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{parent}: no permission to write the {what} there")
    return path


def same_file(a: str | Path, b: str | Path) -> bool:
    """Do two paths name the same file or folder (symlinks and relative paths resolved)?"""
    try:
        return Path(a).resolve() == Path(b).resolve() or (Path(b).exists() and os.path.samefile(a, b))
    except OSError:
        return False


def partial_path(path: Path) -> Path:
    """Hidden sibling with the same suffix (OpenCV picks the container from the suffix)."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


class AtomicFile:
    """Context manager for a text file that appears only when the block ends without error."""

    def __init__(self, path: str | Path, newline: str | None = None):
        self.path = Path(path)
        self.tmp = partial_path(self.path)
        self.newline = newline
        self.fh = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.tmp, "w", encoding="utf-8", newline=self.newline)
        return self.fh

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.fh is not None
        self.fh.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


class JsonlWriter:
    """One JSON object per line; committed by ``close()``, discarded by ``abort()``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._ctx = AtomicFile(self.path)
        self._fh = self._ctx.__enter__()

    def write(self, obj: dict[str, Any]) -> None:
        self._fh.write(json.dumps(obj, separators=(",", ":")) + "\n")

    def close(self) -> None:
        self._ctx.__exit__(None, None, None)

    def abort(self) -> None:
        self._ctx.__exit__(RuntimeError, None, None)


def write_json(path: str | Path, obj: Any) -> None:
    with AtomicFile(path) as fh:
        json.dump(obj, fh, indent=2)
        fh.write("\n")


def write_csv(path: str | Path, header: list[str], rows: Iterable[Iterable[Any]]) -> None:
    with AtomicFile(path, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


FOURCC_BY_SUFFIX = {".webm": "VP80", ".avi": "MJPG"}


class VideoWriter:
    """cv2.VideoWriter into a partial file, renamed on ``close()``; ``abort()`` removes it.

    Frames are encoded on a background thread (OpenCV releases the GIL while encoding), so
    encoding overlaps the next frame's detection. The caller must not modify a frame after
    passing it to ``write``.
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], codec: str = "mp4v"):
        self.path = check_output(path, "output video")
        self.size = size
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = partial_path(self.path)
        fourcc = FOURCC_BY_SUFFIX.get(self.path.suffix.lower(), codec)
        self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter.fourcc(*fourcc), fps, size)
        if not self.writer.isOpened():
            self.tmp.unlink(missing_ok=True)
            raise InputError(f"{self.path}: cannot write video with codec {fourcc} (try .mp4 or .webm)")
        self._frames: queue.Queue = queue.Queue(maxsize=8)
        self._thread = threading.Thread(target=self._encode, name="facemask-encode", daemon=True)
        self._thread.start()
        self.resized = 0  # frames of another size, resized to the video's (OpenCV would drop them)

    def _encode(self) -> None:
        while (frame := self._frames.get()) is not None:
            self.writer.write(frame)

    def write(self, frame: np.ndarray) -> None:
        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
            self.resized += 1
        self._frames.put(frame)

    def _finish(self) -> None:
        self._frames.put(None)
        self._thread.join()
        self.writer.release()

    def close(self) -> None:
        self._finish()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self._finish()
        self.tmp.unlink(missing_ok=True)


def write_image(path: Path, image: np.ndarray, jpeg_quality: int = 90) -> None:
    """Encode in memory, then write to a partial name and rename."""
    suffix = path.suffix.lower() if path.suffix else ".jpg"
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if suffix in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(suffix, image, params)
    if not ok:
        raise InputError(f"{path.name}: cannot encode as {suffix}")
    tmp = partial_path(path)
    buf.tofile(str(tmp))
    os.replace(tmp, path)
