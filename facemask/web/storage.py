"""SQLite storage of the web application: counter samples and people events, kept across restarts.

``samples`` holds each camera's cumulative people counters every ``app.sample_interval_s``;
the latest row of a camera is where its totals resume after a restart. ``events`` holds what the
video session reported (a person started, decided, changed decision, ended), with an increasing
id that clients page through with ``/api/events?since=ID``.
"""

from __future__ import annotations

import json
import numbers
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError

COUNTERS = ("people", "masked", "unmasked", "mask_incorrect", "undecided")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS samples (
    camera TEXT NOT NULL,
    ts REAL NOT NULL,
    {", ".join(f"{c} INTEGER NOT NULL" for c in COUNTERS)}
);
CREATE INDEX IF NOT EXISTS samples_camera_ts ON samples (camera, ts);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    camera TEXT NOT NULL,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    track_id INTEGER,
    label TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
"""


def _event_fields(event: dict[str, Any]) -> tuple[str, int | None, str | None]:
    """(kind, track id, label) of a session event, whatever names the session gives them."""
    kind = event.get("type") or event.get("event") or event.get("kind") or "event"
    track = event.get("track_id", event.get("id"))
    label = event.get("decision") or event.get("label")
    return str(kind), (int(track) if isinstance(track, numbers.Real) else None), (None if label is None else str(label))


class Store:
    """One connection shared by every thread, behind a lock (writes are few and small)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"app.db_path {self.path}: cannot open the database ({exc})") from None
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def prune(self, retention_days: float, now: float | None = None) -> None:
        cutoff = (time.time() if now is None else now) - retention_days * 86400
        with self._lock, self._db:
            self._db.execute("DELETE FROM samples WHERE ts < ?", (cutoff,))
            self._db.execute("DELETE FROM events WHERE ts < ?", (cutoff,))

    # ------------------------------------------------------------ samples

    def add_sample(self, camera: str, counters: dict[str, int], ts: float | None = None) -> None:
        row = [camera, time.time() if ts is None else ts] + [int(counters.get(c, 0)) for c in COUNTERS]
        with self._lock, self._db:
            self._db.execute(f"INSERT INTO samples VALUES ({', '.join('?' * len(row))})", row)

    def last_counters(self, camera: str) -> dict[str, int] | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {', '.join(COUNTERS)} FROM samples WHERE camera = ? ORDER BY ts DESC LIMIT 1", (camera,)
            ).fetchone()
        return None if row is None else dict(row)

    def history(self, since: float, max_points: int = 400) -> dict[str, list[list[float]]]:
        """camera -> [[ts, people, masked, unmasked, mask_incorrect], ...] since ``since``,
        thinned to about ``max_points`` rows per camera (always keeping the newest)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT camera, ts, people, masked, unmasked, mask_incorrect FROM samples "
                "WHERE ts >= ? ORDER BY camera, ts", (since,)
            ).fetchall()
        by_camera: dict[str, list[list[float]]] = {}
        for r in rows:
            by_camera.setdefault(r["camera"], []).append([round(r["ts"], 3), r["people"], r["masked"], r["unmasked"], r["mask_incorrect"]])
        for name, series in by_camera.items():
            step = -(-len(series) // max_points)  # ceil
            if step > 1:
                by_camera[name] = series[-1::-step][::-1]
        return by_camera

    # ------------------------------------------------------------ events

    def add_events(self, camera: str, events: list[dict[str, Any]], ts: float | None = None) -> None:
        if not events:
            return
        now = time.time() if ts is None else ts
        rows = [(camera, now, *_event_fields(e), json.dumps(e, default=_jsonable, separators=(",", ":"))) for e in events]
        with self._lock, self._db:
            self._db.executemany(
                "INSERT INTO events (camera, ts, kind, track_id, label, data) VALUES (?, ?, ?, ?, ?, ?)", rows
            )

    def events(self, since: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Events with id > ``since``, oldest first; with ``since`` 0, the latest ``limit`` ones."""
        with self._lock:
            if since > 0:
                rows = self._db.execute(
                    "SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", (since, limit)
                ).fetchall()
            else:
                rows = self._db.execute("SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,)).fetchall()[::-1]
        return [
            {"id": r["id"], "camera": r["camera"], "ts": r["ts"], "kind": r["kind"], "track_id": r["track_id"],
             "label": r["label"], "data": json.loads(r["data"])}
            for r in rows
        ]


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays in session events."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
