"""A folder of images: each readable image is one frame; each unreadable one is one warning."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ...errors import InputError
from ...types import Frame
from .base import SourceBase, SourceInfo, register

log = logging.getLogger("facemask")

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
DEFAULT_MAX_PIXELS = 100_000_000  # a 100-megapixel photo decodes to 300 MB; larger is refused


def list_images(folder: str | Path, recursive: bool = False, warn: bool = True,
                exclude: tuple[Path, ...] = ()) -> list[Path]:
    """The folder's regular, non-hidden files, sorted (names relative to ``folder`` keep their
    sub-folders with ``recursive``). Dangling symlinks, symlink loops and (without
    ``recursive``) sub-folders are skipped with a warning; non-images fail later, one line each.
    Folders in ``exclude`` (the command's own output folder) are left out silently."""
    folder = Path(folder)
    excluded = {p.resolve() for p in exclude}
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    out: list[Path] = []
    skipped_dirs: list[str] = []
    seen_dirs: set[tuple[int, int]] = set()

    def walk(d: Path) -> None:
        try:
            st = d.stat()
            entries = sorted(d.iterdir())
        except OSError as exc:
            log.warning("%s: cannot list the folder (%s), skipped", d, exc.strerror)
            return
        if (st.st_dev, st.st_ino) in seen_dirs:
            log.warning("%s: folder already visited (symlink loop), skipped", d)
            return
        seen_dirs.add((st.st_dev, st.st_ino))
        for p in entries:
            if p.name.startswith("."):
                continue
            try:
                is_dir, is_file = p.is_dir(), p.is_file()
            except OSError as exc:  # ELOOP and friends
                log.warning("%s: %s, skipped", p, exc.strerror or exc)
                continue
            if is_dir:
                if p.resolve() in excluded:
                    continue
                if recursive:
                    walk(p)
                else:
                    skipped_dirs.append(p.name)
            elif is_file:
                out.append(p)
            elif p.is_symlink() and warn:
                log.warning("%s: broken or looping symlink, skipped", p)
    walk(folder)
    if skipped_dirs and warn:
        log.warning("%s: %d sub-folder(s) not searched (%s); use --recursive", folder, len(skipped_dirs),
                    ", ".join(skipped_dirs[:5]) + (" ..." if len(skipped_dirs) > 5 else ""))
    return sorted(out)


def read_image(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """BGR image, or InputError with the reason (one line naming the file)."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError(f"{path.name}: not an image file (suffix {path.suffix or 'none'})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path.name}: cannot read ({exc.strerror or exc})") from None
    return decode_image(path.name, data, max_pixels)


def decode_image(name: str, raw: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The image file ``name`` from its bytes (a broker task carries them): BGR, or InputError."""
    suffix = Path(name).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise InputError(f"{name}: not an image file (suffix {suffix or 'none'})")
    data = np.frombuffer(raw, dtype=np.uint8)
    if data.size == 0:
        raise InputError(f"{name}: empty file")
    w, h = image_size(data)
    if w and h and w * h > max_pixels:
        raise InputError(f"{name}: {w}x{h} px is more than the limit of {max_pixels} pixels (input.max_pixels)")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{name}: cannot decode image (corrupt or unsupported)")
    return image


def image_size(data: np.ndarray) -> tuple[int, int]:
    """(width, height) read from a PNG / JPEG header without decoding, (0, 0) when unknown."""
    b = data[:65536].tobytes()
    if b[:8] == b"\x89PNG\r\n\x1a\n" and len(b) >= 24:
        return int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")
    if b[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(b):
            if b[i] != 0xFF:
                i += 1
                continue
            marker = b[i + 1]
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                return int.from_bytes(b[i + 7:i + 9], "big"), int.from_bytes(b[i + 5:i + 7], "big")
            i += 2 + int.from_bytes(b[i + 2:i + 4], "big")
    return 0, 0


@register("dir")
class ImageFolderSource(SourceBase):
    """Every image of a folder as a frame named by its path relative to the folder."""

    def __init__(self, spec: str | int, recursive: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS,
                 exclude: tuple[Path, ...] = (), **_: object):
        super().__init__()
        self.folder = Path(str(spec))
        self.files = list_images(self.folder, recursive, exclude=exclude)
        self.max_pixels = max_pixels
        self.info = SourceInfo(name=str(self.folder), fps=1.0, width=0, height=0, frames=len(self.files))

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.files):
            name = os.path.relpath(path, self.folder)
            try:
                image = read_image(path, self.max_pixels)
            except InputError as exc:
                log.warning("%s (skipped)", str(exc).replace(path.name, name, 1))
                self.report.failed.append(name)
                continue
            self.report.frames_read += 1
            yield Frame(image=image, index=index, time_s=float(index), wall_time=time.time(), name=name)
