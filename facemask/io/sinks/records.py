"""What the operator outputs record in SQLite, beside the web application's own tables (same
file, ``app.db_path``): the snapshot of each decided person and the alerts sent. Camera
processes write, the web process reads; each opens its own connection (WAL)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    person TEXT PRIMARY KEY,
    camera TEXT NOT NULL,
    ts REAL NOT NULL,
    decision TEXT,
    quality REAL NOT NULL,
    path TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_ts ON snapshots (ts);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    camera TEXT NOT NULL,
    rule TEXT NOT NULL,
    type TEXT NOT NULL,
    message TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_ts ON alerts (ts);
CREATE TABLE IF NOT EXISTS line_counts (
    camera TEXT PRIMARY KEY,
    ts REAL NOT NULL,
    data TEXT NOT NULL
);
"""


class Records:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------ snapshots

    def put_snapshot(self, person: str, camera: str, decision: str | None, quality: float, path: str,
                     ts: float | None = None) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?, ?)",
                             (person, camera, time.time() if ts is None else ts, decision, quality, path))

    def set_snapshot_decision(self, person: str, decision: str) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE snapshots SET decision = ? WHERE person = ?", (decision, person))

    def snapshot(self, person: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM snapshots WHERE person = ?", (person,)).fetchone()
        return None if row is None else dict(row)

    def snapshots(self, limit: int = 100, camera: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            if camera is None:
                rows = self._db.execute("SELECT * FROM snapshots ORDER BY ts DESC LIMIT ?", (limit,)).fetchall()
            else:
                rows = self._db.execute("SELECT * FROM snapshots WHERE camera = ? ORDER BY ts DESC LIMIT ?",
                                        (camera, limit)).fetchall()
        return [dict(r) for r in rows]

    def expired_snapshots(self, cutoff: float, keep: int) -> list[dict[str, Any]]:
        """Rows older than ``cutoff`` or beyond the newest ``keep``: their files are to delete."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM snapshots WHERE ts < ? OR person NOT IN "
                "(SELECT person FROM snapshots ORDER BY ts DESC LIMIT ?)", (cutoff, keep)).fetchall()
        return [dict(r) for r in rows]

    def delete_snapshots(self, persons: list[str]) -> None:
        with self._lock, self._db:
            self._db.executemany("DELETE FROM snapshots WHERE person = ?", [(p,) for p in persons])

    # ------------------------------------------------------------ alerts

    def add_alert(self, alert: dict[str, Any]) -> int:
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT INTO alerts (ts, camera, rule, type, message, data) VALUES (?, ?, ?, ?, ?, ?)",
                (alert["time"], alert["camera"], alert["rule"], alert["type"], alert["message"],
                 json.dumps(alert, separators=(",", ":"), default=str)))
            assert cur.lastrowid is not None
            return int(cur.lastrowid)

    def alerts(self, since: int = 0, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            if since > 0:
                rows = self._db.execute("SELECT * FROM alerts WHERE id > ? ORDER BY id LIMIT ?", (since, limit)).fetchall()
            else:
                rows = self._db.execute("SELECT * FROM alerts ORDER BY id DESC LIMIT ?", (limit,)).fetchall()[::-1]
        return [{"id": r["id"], **json.loads(r["data"])} for r in rows]

    # ------------------------------------------------------------ line crossings

    def put_line_counts(self, camera: str, counts: dict[str, Any], ts: float | None = None) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO line_counts VALUES (?, ?, ?)",
                             (camera, time.time() if ts is None else ts, json.dumps(counts, separators=(",", ":"))))

    def line_counts(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM line_counts ORDER BY camera").fetchall()
        return {r["camera"]: {**json.loads(r["data"]), "time": r["ts"]} for r in rows}

    # ------------------------------------------------------------ people (the web store's events table)

    def ended_people(self, camera: str | None = None, since_ts: float = 0.0, batch: int = 1000):
        """The ``track_ended`` events of counted people in the web application's ``events``
        table (same file), oldest first, as (camera, ts, data) in batches; none without the table."""
        last = 0
        while True:
            with self._lock:
                try:
                    rows = self._db.execute(
                        "SELECT id, camera, ts, data FROM events WHERE id > ? AND kind = 'track_ended' AND ts >= ? "
                        "AND (? IS NULL OR camera = ?) ORDER BY id LIMIT ?",
                        (last, since_ts, camera, camera, batch)).fetchall()
                except sqlite3.OperationalError:  # no events table (yet)
                    return
            for r in rows:
                data = json.loads(r["data"])
                if data.get("status") == "person":
                    yield r["camera"], r["ts"], data
            if len(rows) < batch:
                return
            last = rows[-1]["id"]
