"""Model catalog: a model is asked for by name and resolved to a checked local file.

Resolution order for a catalog name:
  1. the project's bundled weights (``facemask/weights/``), for models trained here;
  2. the mirror folder in ``$FACEMASK_MODELS_DIR`` (tests and CI point it at a local mirror);
  3. the user cache (``$FACEMASK_CACHE_DIR``, default ``~/.cache/facemask/models``);
  4. a download from the upstream URL into the cache.
Every file is checked against its sha256 before use; a mismatch is refused.
An explicit path (anything with a path separator or an existing file) is used as given, unchecked.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.request
from functools import lru_cache
from pathlib import Path

from .errors import ModelError

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_DIR = PACKAGE_DIR / "weights"
CATALOG_PATH = PACKAGE_DIR / "catalog.json"


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict]:
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


def _lookup(name: str) -> dict:
    entries = catalog()
    if name in entries:
        return entries[name]
    for entry in entries.values():  # also accept the file name
        if entry["file"] == name:
            return entry
    known = ", ".join(sorted(entries))
    raise ModelError(f"unknown model '{name}': not a file and not in the catalog ({known})")


def _checked(path: Path, entry: dict) -> Path:
    digest = sha256_file(path)
    if digest != entry["sha256"]:
        raise ModelError(
            f"model file {path} has sha256 {digest[:12]}..., expected {entry['sha256'][:12]}...: "
            "refusing to load it (delete it to fetch a fresh copy)"
        )
    return path


def _download(entry: dict, dest: Path) -> Path:
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
        return explicit
    entry = _lookup(text)
    looked: list[str] = []
    candidates = [BUNDLED_DIR / entry["file"]]
    if mirror_dir() is not None:
        candidates.append(mirror_dir() / entry["file"])
    candidates.append(cache_dir() / entry["file"])
    for path in candidates:
        looked.append(str(path.parent))
        if path.is_file():
            return _checked(path, entry)
    if download and entry.get("url"):
        try:
            return _download(entry, cache_dir() / entry["file"])
        except ModelError as exc:
            raise ModelError(f"{exc}; also looked in: {', '.join(looked)} (set FACEMASK_MODELS_DIR to a mirror)") from None
    raise ModelError(
        f"model '{text}' ({entry['file']}) not found; looked in: {', '.join(looked)} "
        "(set FACEMASK_MODELS_DIR to a folder holding it)"
    )
