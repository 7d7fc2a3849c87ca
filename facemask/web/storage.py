"""SQLite storage of the web application: counter samples and people events, kept across restarts.

``samples`` holds each camera's cumulative people counters every ``app.sample_interval_s``;
the latest row of a camera is where its totals resume after a restart. ``events`` holds the
typed events of the cameras' video sessions (:class:`facemask.types.Event`), with an increasing
row id that clients page through with ``/api/events?since=ID``, and the event's own id, unique:
writing an event twice (a retry) stores it once.

There is one writer, a thread of the process that owns the store: :meth:`Store.add_events` and
:meth:`Store.add_sample` only queue. A write that fails (a database locked by another process, a
full disk) is retried with backoff while new items wait in a bounded buffer (past
``buffer_max`` items, the newest are counted as dropped); :meth:`Store.info` says ``ok`` or
``degraded`` and why. A camera never waits on the database.

Opening checks the file: a corrupt database or one of an unknown schema stops with one line
(:class:`~facemask.errors.ConfigError`); the schema of earlier versions is migrated.
"""

from __future__ import annotations

import collections
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..types import Event

log = logging.getLogger("facemask.web")

COUNTERS = ("people", "masked", "unmasked", "mask_incorrect", "undecided")
SCHEMA_VERSION = 2  # 1: events without their own id (the first web app); 2: event_id UNIQUE, person
OK, DEGRADED = "ok", "degraded"

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
    data TEXT NOT NULL,
    event_id TEXT,
    person TEXT
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
"""
_EVENT_ID_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS events_event_id ON events (event_id)"


class StoreUnavailable(Exception):
    """A read could not be answered now (the database is locked or failing)."""


def _connect(path: Path, timeout: float) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), timeout=timeout, check_same_thread=False, isolation_level=None)
    db.row_factory = sqlite3.Row
    return db


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in db.execute(f"PRAGMA table_info({table})")}


def open_database(path: Path) -> None:
    """Create or migrate the schema, or raise ConfigError with one line saying what is wrong."""
    where = f"app.db_path {path}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = _connect(path, timeout=5.0)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"{where}: cannot open the database ({exc})") from None
    try:
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            check = [r[0] for r in db.execute("PRAGMA quick_check(5)")]
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{where}: not a SQLite database, or a corrupt one ({' '.join(str(exc).split())}); "
                              "restore a backup or move it away to start a new one") from None
        if check != ["ok"]:
            found = " ".join("; ".join(check).split())[:200]  # one line, whatever SQLite reports
            raise ConfigError(f"{where}: the database is corrupt ({found}); "
                              "restore a backup or move it away to start a new one")
        if version > SCHEMA_VERSION:
            raise ConfigError(f"{where}: written by a newer version (schema {version}, this one knows {SCHEMA_VERSION})")
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("BEGIN IMMEDIATE")
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "events" in tables:
                have = _columns(db, "events")
                missing = {"id", "camera", "ts", "kind", "data"} - have
                if missing:
                    raise ConfigError(f"{where}: the events table is not this application's "
                                      f"(no {', '.join(sorted(missing))}); move the file away to start a new one")
                for col in ("event_id", "person"):  # schema 1 -> 2
                    if col not in have:
                        db.execute(f"ALTER TABLE events ADD COLUMN {col} TEXT")
            if "samples" in tables:
                missing = {"camera", "ts", *COUNTERS} - _columns(db, "samples")
                if missing:
                    raise ConfigError(f"{where}: the samples table is not this application's "
                                      f"(no {', '.join(sorted(missing))}); move the file away to start a new one")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(_EVENT_ID_INDEX)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except ConfigError:
            db.execute("ROLLBACK")
            raise
        except sqlite3.Error as exc:
            raise ConfigError(f"{where}: cannot set up the database ({exc})") from None
    finally:
        db.close()


def _event_row(event: Event | dict[str, Any], camera: str | None, now: float) -> tuple:
    obj = event.to_json() if isinstance(event, Event) else dict(event)
    kind = obj.get("event") or obj.get("kind") or "event"
    track = obj.get("track_id")
    label = obj.get("decision") or obj.get("label")
    return (str(obj.get("camera") or camera or ""), float(obj.get("wall_time") or now), str(kind),
            None if track is None else int(track), None if label is None else str(label),
            json.dumps(obj, default=_jsonable, separators=(",", ":")),
            None if obj.get("id") is None else str(obj["id"]), obj.get("person"))


class Store:
    """The database of the web app; see the module docstring.

    ``retry_max_s``: the retry backoff doubles up to this; ``buffer_max``: items (events and
    samples) kept while the database cannot be written; ``busy_timeout_s``: how long one write
    waits on another process's lock before it counts as failed.
    """

    def __init__(self, path: str | Path, *, buffer_max: int = 100_000, retry_max_s: float = 2.0,
                 busy_timeout_s: float = 0.5):
        self.path = Path(path)
        open_database(self.path)
        self.buffer_max, self.retry_max_s = buffer_max, retry_max_s
        try:
            self._writer_db = _connect(self.path, busy_timeout_s)
            self._reader_db = _connect(self.path, 2.0)
        except sqlite3.Error as exc:
            raise ConfigError(f"app.db_path {self.path}: cannot open the database ({exc})") from None
        self._read_lock = threading.Lock()
        # the broker's runs table (facemask/broker/aggregate.py): its own connection, opened at first use
        self._broker_db: sqlite3.Connection | None = None
        self._broker_lock = threading.Lock()
        self._cond = threading.Condition()
        self._pending: collections.deque[tuple[str, tuple]] = collections.deque()
        self._busy = 0  # items the writer took from _pending and is writing
        self._closing = False
        self._wake = threading.Event()
        self.state, self.last_error = OK, ""
        self.written = 0  # items written
        self.dropped = 0  # items lost because the buffer was full
        self.failures = 0  # failed write attempts
        self._thread = threading.Thread(target=self._write_loop, name="facemask-store", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ queueing (never blocks)

    def _queue(self, items: Iterable[tuple[str, tuple]]) -> None:
        with self._cond:
            for item in items:
                if len(self._pending) + self._busy >= self.buffer_max:
                    self.dropped += 1
                    continue
                self._pending.append(item)
            self._cond.notify_all()

    def add_events(self, events: list[Event] | list[dict[str, Any]], camera: str | None = None,
                   ts: float | None = None) -> None:
        """Queue typed events for writing; an event whose id is stored already is skipped."""
        now = time.time() if ts is None else ts
        self._queue(("event", _event_row(e, camera, now)) for e in events)

    def add_sample(self, camera: str, counters: dict[str, int], ts: float | None = None) -> None:
        row = (camera, time.time() if ts is None else ts, *(int(counters.get(c, 0)) for c in COUNTERS))
        self._queue([("sample", row)])

    def info(self) -> dict[str, Any]:
        with self._cond:
            pending = len(self._pending) + self._busy
        return {"state": self.state, "message": self.last_error, "pending": pending, "written": self.written,
                "dropped": self.dropped, "failures": self.failures}

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued is written; False when the time ran out."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def close(self, timeout: float = 3.0) -> None:
        """Write what is queued (for at most ``timeout`` s), then close."""
        self.flush(timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._wake.set()
        self._thread.join(timeout)
        with self._read_lock:
            self._reader_db.close()
        with self._broker_lock:
            if self._broker_db is not None:
                self._broker_db.close()
                self._broker_db = None
        if not self._thread.is_alive():
            self._writer_db.close()
        left = self.info()["pending"]
        if left:
            log.warning("database %s: %d item(s) could not be written before closing (%s)", self.path, left,
                        self.last_error)

    # ------------------------------------------------------------ the writer

    def _write_loop(self) -> None:
        delay = 0.05
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closing)
                if self._closing:
                    return
                batch = [self._pending.popleft() for _ in range(min(len(self._pending), 500))]
                self._busy = len(batch)
            try:
                self._write(batch)
            except sqlite3.Error as exc:  # locked, disk full, I/O error: keep the batch, retry later
                with self._cond:
                    self._pending.extendleft(reversed(batch))
                    self._busy = 0
                    self.failures += 1
                    if self.state == OK:
                        log.warning("database %s: write failed (%s); retrying, counts kept in memory", self.path, exc)
                    self.state, self.last_error = DEGRADED, f"write failed: {exc}"
                self._wake.wait(delay)  # set on close
                delay = min(delay * 2, self.retry_max_s)
                continue
            with self._cond:
                self._busy = 0
                self.written += len(batch)
                if self.state != OK:
                    log.warning("database %s: writing again", self.path)
                self.state, self.last_error = OK, ""
                self._cond.notify_all()
            delay = 0.05

    def _write(self, batch: list[tuple[str, tuple]]) -> None:
        db = self._writer_db
        db.execute("BEGIN IMMEDIATE")
        try:
            samples = [row for kind, row in batch if kind == "sample"]
            events = [row for kind, row in batch if kind == "event"]
            if samples:
                db.executemany(f"INSERT INTO samples VALUES ({', '.join('?' * (2 + len(COUNTERS)))})", samples)
            if events:
                db.executemany("INSERT OR IGNORE INTO events (camera, ts, kind, track_id, label, data, event_id, person) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", events)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------ reads

    def _read(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        try:
            with self._read_lock:
                return self._reader_db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"database: {exc}") from None

    def prune(self, retention_days: float, now: float | None = None) -> None:
        cutoff = (time.time() if now is None else now) - retention_days * 86400
        try:
            with self._read_lock:
                db = self._reader_db
                db.execute("BEGIN IMMEDIATE")
                db.execute("DELETE FROM samples WHERE ts < ?", (cutoff,))
                db.execute("DELETE FROM events WHERE ts < ?", (cutoff,))
                db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._reader_db.in_transaction:
                self._reader_db.execute("ROLLBACK")
            log.warning("database %s: old rows not pruned (%s)", self.path, exc)

    def last_counters(self, camera: str) -> dict[str, int] | None:
        rows = self._read(f"SELECT {', '.join(COUNTERS)} FROM samples WHERE camera = ? ORDER BY ts DESC LIMIT 1",
                          (camera,))
        return dict(rows[0]) if rows else None

    def history(self, since: float, max_points: int = 400) -> dict[str, list[list[float]]]:
        """camera -> [[ts, people, masked, unmasked, mask_incorrect], ...] since ``since``,
        thinned to about ``max_points`` rows per camera (always keeping the newest)."""
        rows = self._read("SELECT camera, ts, people, masked, unmasked, mask_incorrect FROM samples "
                          "WHERE ts >= ? ORDER BY camera, ts", (since,))
        by_camera: dict[str, list[list[float]]] = {}
        for r in rows:
            by_camera.setdefault(r["camera"], []).append([round(r["ts"], 3), r["people"], r["masked"], r["unmasked"],
                                                          r["mask_incorrect"]])
        for name, series in by_camera.items():
            step = -(-len(series) // max_points)  # ceil
            if step > 1:
                by_camera[name] = series[-1::-step][::-1]
        return by_camera

    def events(self, since: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Events with row id > ``since``, oldest first; with ``since`` 0, the latest ``limit`` ones."""
        if since > 0:
            rows = self._read("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", (since, limit))
        else:
            rows = self._read("SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,))[::-1]
        return [
            {"id": r["id"], "event_id": r["event_id"], "camera": r["camera"], "ts": r["ts"], "kind": r["kind"],
             "track_id": r["track_id"], "label": r["label"], "person": r["person"], "data": json.loads(r["data"])}
            for r in rows
        ]

    # ------------------------------------------------------------ broker (facemask/broker/aggregate.py)
    # Additive: the latest counters of each camera run, whichever worker ran it (a camera's totals
    # are their sum), on a connection of their own. Events go through add_events (once per id).

    def _runs_db(self) -> sqlite3.Connection:
        with self._broker_lock:
            db = self._broker_db
            if db is None:
                db = self._broker_db = _connect(self.path, 30.0)
                db.executescript(_BROKER_SCHEMA)
        return db

    def add_events_idempotent(self, camera: str, events: list[dict[str, Any]], ts: float | None = None,
                              timeout: float = 30.0) -> bool:
        """:meth:`add_events` (an id stored already is skipped), written before it returns;
        False when the database could not be written in ``timeout``."""
        self.add_events(events, camera, ts)
        return self.flush(timeout)

    def set_run_counters(self, camera: str, run: str, worker: str, seq: int, counters: dict[str, int],
                         ts: float | None = None) -> None:
        """The counters of one camera run (kept when ``seq`` is newer than the stored one)."""
        db = self._runs_db()
        row = (camera, run, worker, int(seq), time.time() if ts is None else ts,
               json.dumps({c: int(counters.get(c, 0)) for c in COUNTERS}))
        with self._broker_lock:
            db.execute(
                "INSERT INTO runs (camera, run, worker, seq, ts, counters) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (camera, run) DO UPDATE SET worker = excluded.worker, seq = excluded.seq, "
                "ts = excluded.ts, counters = excluded.counters WHERE excluded.seq > runs.seq", row)

    def runs(self, camera: str | None = None) -> list[dict[str, Any]]:
        """Camera runs, oldest first: camera, run, worker, seq, ts, counters."""
        db = self._runs_db()
        with self._broker_lock:
            rows = db.execute("SELECT * FROM runs" + (" WHERE camera = ?" if camera else "") + " ORDER BY ts",
                              (camera,) if camera else ()).fetchall()
        return [{**dict(r), "counters": json.loads(r["counters"])} for r in rows]

    def run_totals(self, camera: str) -> dict[str, int]:
        """A camera's counters summed over its runs."""
        totals = {c: 0 for c in COUNTERS}
        for r in self.runs(camera):
            for c in COUNTERS:
                totals[c] += int(r["counters"].get(c, 0))
        return totals


_BROKER_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    camera TEXT NOT NULL,
    run TEXT NOT NULL,
    worker TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts REAL NOT NULL,
    counters TEXT NOT NULL,
    PRIMARY KEY (camera, run)
);
"""


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays in session events."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
