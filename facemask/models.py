"""Model catalog: a model is asked for by name and resolved to a checked local file.

Resolution order for a catalog name:
  1. the project's bundled weights (``facemask/weights/``), for models trained here;
  2. the mirror folder in ``$FACEMASK_MODELS_DIR`` (tests and CI point it at a local mirror);
  3. the user cache (``$FACEMASK_CACHE_DIR``, default ``~/.cache/facemask/models``);
  4. a download from the upstream URL into the cache.
Every file is checked against its sha256 before use; a mismatch is refused.
An explicit path (anything with a path separator or an existing file) is used as given; when it
carries a catalog file's name it is checked against the catalog: a damaged copy (a few bytes
changed) is refused, a model of the user's own under that name is loaded with a warning. Every .tflite / .onnx file is checked to be one before it reaches a runtime, so
a truncated or garbage file is one clear error, not a runtime's traceback.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import urllib.request
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import ModelError

log = logging.getLogger("facemask")

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_DIR = PACKAGE_DIR / "weights"
CATALOG_PATH = PACKAGE_DIR / "catalog.json"


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict[str, Any]]:
    with open(CATALOG_PATH, encoding="utf-8") as f:
        return json.load(f)


def cache_dir() -> Path:
    return Path(os.environ.get("FACEMASK_CACHE_DIR", Path.home() / ".cache" / "facemask" / "models"))


def mirror_dir() -> Path | None:
    value = os.environ.get("FACEMASK_MODELS_DIR")
    return Path(value) if value else None


@lru_cache(maxsize=64)
def _sha256_of(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    st = path.stat()
    return _sha256_of(str(path), st.st_mtime_ns, st.st_size)


def _by_file_name(file_name: str) -> dict[str, Any] | None:
    for entry in catalog().values():
        if entry["file"] == file_name:
            return entry
    return None


def _lookup(name: str) -> dict[str, Any]:
    entries = catalog()
    if name in entries:
        return entries[name]
    for entry in entries.values():  # also accept the file name
        if entry["file"] == name:
            return entry
    known = ", ".join(sorted(entries))
    raise ModelError(f"unknown model '{name}': not a file and not in the catalog ({known})")


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _onnx_problem(data: bytes) -> str | None:
    """Walk the top level of an ONNX ModelProto (a protobuf message) without parsing it."""
    pos, fields = 0, set()
    try:
        while pos < len(data):
            key, pos = _varint(data, pos)
            field, wire = key >> 3, key & 7
            if field == 0 or field > 64:
                return f"field number {field} at offset {pos}"
            if wire == 0:
                _, pos = _varint(data, pos)
            elif wire == 1:
                pos += 8
            elif wire == 5:
                pos += 4
            elif wire == 2:
                size, pos = _varint(data, pos)
                pos += size
            else:
                return f"wire type {wire} at offset {pos}"
            if pos > len(data):
                return "truncated"
            fields.add(field)
    except ValueError as exc:
        return str(exc)
    if 7 not in fields:  # ModelProto.graph
        return "no graph"
    return None


def check_format(path: Path) -> Path:
    """Refuse a .tflite / .onnx file that is not one (empty, truncated, garbage, another format)."""
    suffix = path.suffix.lower()
    if suffix not in (".tflite", ".onnx"):
        return path
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror}") from None
    if suffix == ".tflite":
        # a TFLite model is a FlatBuffer with the file identifier "TFL3" at bytes 4..8
        problem = None if len(data) >= 8 and data[4:8] == b"TFL3" else "no TFL3 FlatBuffer identifier"
    else:
        problem = _onnx_problem(data) if data else "empty file"
    if problem:
        kind = "TFLite" if suffix == ".tflite" else "ONNX"
        raise ModelError(f"model file {path} is not a valid {kind} model ({problem}): damaged or another format?")
    return path


DAMAGED_FRACTION = 0.01  # a copy of a catalog file with fewer bytes changed than this is damaged


def _catalog_dirs() -> list[Path]:
    mirror = mirror_dir()
    return [BUNDLED_DIR, *([mirror] if mirror is not None else []), cache_dir()]


def _changed_fraction(path: Path, genuine: Path) -> float:
    import numpy as np

    a = np.fromfile(path, np.uint8)
    b = np.fromfile(genuine, np.uint8)
    if len(a) != len(b):
        return 1.0
    return float(np.count_nonzero(a != b)) / max(len(a), 1)


def _explicit(path: Path) -> Path:
    """An explicit path, checked against the catalog whenever the catalog knows the file.

    A file with a catalog file's name in a folder the catalog resolves from (bundled weights, the
    mirror, the cache) must have the catalog's sha256. Elsewhere, a file with a catalog file's name
    and size but another sha256 is refused when it is a copy of the catalog file with a few bytes
    changed (a damaged copy); a model trained here under the same name (most bytes differ) is
    loaded as the user's own, with a warning.
    """
    entry = _by_file_name(path.name)
    if entry is None:
        return check_format(path)
    resolved = path.resolve()
    if any(resolved.parent == d.resolve() for d in _catalog_dirs() if d.is_dir()):
        return _checked(path, entry)
    if sha256_file(path) == entry["sha256"]:
        return path
    if path.stat().st_size == entry.get("bytes"):
        genuine = next((d / entry["file"] for d in _catalog_dirs() if (d / entry["file"]).is_file()), None)
        if genuine is None or _changed_fraction(path, genuine) < DAMAGED_FRACTION:
            return _checked(path, entry, "a damaged copy? refusing to load it (rename it if it is a model of your own)")
    log.warning("%s has the name of catalog model %s but other contents: loading it as a model of your own",
                path, entry["file"])
    return check_format(path)


def _checked(path: Path, entry: dict[str, Any],
             advice: str = "refusing to load it (delete it to fetch a fresh copy)") -> Path:
    digest = sha256_file(path)
    if digest != entry["sha256"]:
        raise ModelError(
            f"model file {path} has sha256 {digest[:12]}..., catalog {entry['file']} has {entry['sha256'][:12]}...: {advice}"
        )
    return path


def _download(entry: dict[str, Any], dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(entry["url"], timeout=60) as resp:
            h = hashlib.sha256()
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                h.update(chunk)
                out.write(chunk)
        if h.hexdigest() != entry["sha256"]:
            raise ModelError(f"download of {entry['file']} from {entry['url']} has the wrong sha256")
        os.replace(tmp, dest)
    except ModelError:
        raise
    except Exception as exc:  # network errors of every kind
        raise ModelError(f"could not download {entry['file']} from {entry['url']}: {exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def resolve(name_or_path: str | os.PathLike, download: bool = True) -> Path:
    """Return a local, checksum-verified path for a catalog name, or the given explicit path."""
    text = str(name_or_path)
    explicit = Path(text).expanduser()
    if os.sep in text or "/" in text or explicit.is_file():
        if not explicit.is_file():
            raise ModelError(f"model file not found: {explicit}")
        return _explicit(explicit)
    entry = _lookup(text)
    looked: list[str] = []
    candidates = [BUNDLED_DIR / entry["file"]]
    mirror = mirror_dir()
    if mirror is not None:
        candidates.append(mirror / entry["file"])
    candidates.append(cache_dir() / entry["file"])
    for path in candidates:
        looked.append(str(path.parent))
        if path.is_file():
            return _checked(path, entry)
    hint = ("FACEMASK_MODELS_DIR is not set: point it at a folder holding the model (a local mirror)"
            if mirror is None else f"FACEMASK_MODELS_DIR={mirror} does not hold it either")
    if download and entry.get("url"):
        try:
            return _download(entry, cache_dir() / entry["file"])
        except ModelError as exc:
            raise ModelError(f"{exc}; also looked in: {', '.join(looked)} ({hint})") from None
    raise ModelError(f"model '{text}' ({entry['file']}) not found; looked in: {', '.join(looked)} ({hint})")
