"""The web application's parts in-process: storage (on real SQLite files, locked by a real second
connection), config, command line."""

from __future__ import annotations

import sqlite3
import time

import numpy as np
import pytest

from facemask.config import parse_config
from facemask.errors import ConfigError
from facemask.types import Event, EventKind
from facemask.web.camera import Latest, redact_source
from facemask.web.main import source_cameras, with_sources
from facemask.web.storage import Store


def event(n: int, kind: EventKind = EventKind.DECIDED, run: str = "r1", camera: str = "door", **data) -> Event:
    return Event(kind=kind, camera=camera, id=f"{run}-{n}", person=f"{camera}/{run}/{n}", track_id=n, frame=n,
                 time_s=n / 25, wall_time=1009.0, status="person", decision="mask", balance=3, data=data)


def test_store_keeps_samples_and_events_across_reopen(tmp_path):
    db = tmp_path / "app.sqlite"
    store = Store(db)
    for i in range(10):
        store.add_sample("door", {"people": i, "masked": i // 2, "unmasked": i - i // 2, "undecided": 0}, ts=1000.0 + i)
    store.add_sample("yard", {"people": 1, "masked": 1}, ts=1005.0)
    store.add_events([event(7), event(8, EventKind.TRACK_ENDED, box=np.zeros(2))])
    assert store.flush()
    store.close()

    store = Store(db)
    assert store.last_counters("door") == {"people": 9, "masked": 4, "unmasked": 5, "mask_incorrect": 0, "undecided": 0}
    assert store.last_counters("nobody") is None
    history = store.history(since=1003.0, max_points=3)
    assert sorted(history) == ["door", "yard"]
    assert [row[0] for row in history["door"]] == [1003.0, 1006.0, 1009.0]  # thinned, newest kept
    events = store.events()
    assert [(e["kind"], e["track_id"], e["label"], e["event_id"]) for e in events] == [
        ("decided", 7, "mask", "r1-7"), ("track_ended", 8, "mask", "r1-8")]
    assert events[1]["data"]["box"] == [0.0, 0.0] and events[1]["person"] == "door/r1/8"
    assert store.events(since=events[0]["id"]) == events[1:]
    assert store.events(since=events[1]["id"]) == []
    store.prune(retention_days=1, now=1009.0 + 86400 - 0.5)  # keeps what is younger than a day
    assert store.history(since=0) == {"door": [[1009.0, 9, 4, 5, 0]]}
    assert len(store.events()) == 2
    store.prune(retention_days=1, now=1009.0 + 86400 + 0.5)
    assert store.history(since=0) == {} and store.events() == []
    store.close()


def test_store_writes_an_event_once_however_often_it_is_sent(tmp_path):
    store = Store(tmp_path / "app.sqlite")
    store.add_events([event(1), event(2)])
    store.add_events([event(2), event(3), event(1)])  # a retry, or a replay after a restart
    assert store.flush()
    assert [e["event_id"] for e in store.events()] == ["r1-1", "r1-2", "r1-3"]
    store.close()


def test_store_retries_while_another_process_holds_the_database(tmp_path):
    """A second connection holds BEGIN EXCLUSIVE: writes wait in the buffer (the state says so),
    nothing is lost once it lets go, and past the buffer's bound items are counted as dropped."""
    db = tmp_path / "app.sqlite"
    store = Store(db, buffer_max=150, retry_max_s=0.2, busy_timeout_s=0.05)
    store.add_events([event(0)])
    assert store.flush() and store.info()["state"] == "ok"
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    store.add_events([event(n) for n in range(1, 201)])
    store.add_sample("door", {"people": 5})
    assert _wait(lambda: store.info()["state"] == "degraded")
    info = store.info()
    assert "locked" in info["message"] and info["pending"] == 150 and info["dropped"] == 51
    assert store.events()[-1]["event_id"] == "r1-0"  # reads go on meanwhile
    assert not store.flush(timeout=0.3)
    locker.execute("ROLLBACK")
    locker.close()
    assert store.flush(timeout=30)
    info = store.info()
    assert info["state"] == "ok" and info["pending"] == 0 and info["failures"] >= 1
    assert [e["event_id"] for e in store.events(limit=1000)] == [f"r1-{n}" for n in range(151)]  # r1-0 and the 150 that fit
    store.close()


OLD_SCHEMA = """
CREATE TABLE samples (camera TEXT NOT NULL, ts REAL NOT NULL, people INTEGER NOT NULL, masked INTEGER NOT NULL,
    unmasked INTEGER NOT NULL, mask_incorrect INTEGER NOT NULL, undecided INTEGER NOT NULL);
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, camera TEXT NOT NULL, ts REAL NOT NULL, kind TEXT NOT NULL,
    track_id INTEGER, label TEXT, data TEXT NOT NULL);
INSERT INTO samples VALUES ('door', 1000.0, 12, 7, 5, 0, 0);
INSERT INTO events (camera, ts, kind, track_id, label, data) VALUES ('door', 1000.0, 'decided', 3, 'mask', '{}');
"""


def test_store_migrates_the_first_schema(tmp_path):
    db = tmp_path / "app.sqlite"
    with sqlite3.connect(db) as old:
        old.executescript(OLD_SCHEMA)
    store = Store(db)
    assert store.last_counters("door")["people"] == 12
    store.add_events([event(1), event(1)])
    assert store.flush()
    assert [(e["kind"], e["event_id"]) for e in store.events()] == [("decided", None), ("decided", "r1-1")]
    store.close()
    with sqlite3.connect(db) as again:
        assert again.execute("PRAGMA user_version").fetchone()[0] == 2


def test_a_broken_database_stops_the_app_with_one_line(tmp_path):
    from tests.conftest import run_script

    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 500)
    corrupt = tmp_path / "corrupt.sqlite"
    with sqlite3.connect(corrupt) as db:
        db.executescript(OLD_SCHEMA)
        db.executemany("INSERT INTO events (camera, ts, kind, data) VALUES ('door', ?, 'decided', ?)",
                       [(float(i), "x" * 500) for i in range(200)])
    data = bytearray(corrupt.read_bytes())
    page = 4096
    data[2 * page:-page] = b"\xff" * (len(data) - 3 * page)  # the table pages, not the header
    corrupt.write_bytes(bytes(data))
    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as db:
        db.execute("PRAGMA user_version = 99")
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE events (name TEXT)")
    cases = [(garbage, "not a SQLite database"), (corrupt, "corrupt"), (newer, "newer version"),
             (foreign, "not this application's")]
    for path, message in cases:
        proc = run_script("inference_main_app.py", "--source", "x.mp4", "--port", "0", "--set", f"app.db_path={path}",
                          timeout=120)  # an app that starts anyway fails here instead of serving on
        assert proc.returncode == 2, (path, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: app.db_path") and message in lines[0], lines


def test_store_refuses_an_unusable_path(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="app.db_path"):
        Store(tmp_path / "file" / "app.sqlite")


def test_app_config_is_strict():
    ok = parse_config({"app": {"cameras": [{"name": "door-1", "source": 0}, {"name": "yard", "source": "rtsp://h/s"}]}})
    assert ok.app.host == "127.0.0.1" and ok.app.token is None and ok.app.cameras[0].loop is True
    bad = [
        ({"app": {"cameras": [{"name": "../etc", "source": "x.mp4"}]}}, "app.cameras.0.name"),
        ({"app": {"cameras": [{"name": "a", "source": "x.mp4"}, {"name": "a", "source": "y.mp4"}]}}, "unique"),
        ({"app": {"port": "5000"}}, "app.port"),
        ({"app": {"cameras": [{"name": "a", "source": "x.mp4", "loop": "yes"}]}}, "app.cameras.0.loop"),
        ({"app": {"token": "short"}}, "app.token"),
        ({"app": {"colour": "blue"}}, "app.colour: unknown key"),
    ]
    for data, message in bad:
        with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
            parse_config(data)


def test_command_line_sources_replace_the_cameras():
    assert source_cameras(["a.mp4", "door=rtsp://u:p@cam/s?x=1", "2", "rtsp://cam/s?a=b"]) == [
        {"name": "cam1", "source": "a.mp4"}, {"name": "door", "source": "rtsp://u:p@cam/s?x=1"},
        {"name": "cam3", "source": 2}, {"name": "cam4", "source": "rtsp://cam/s?a=b"},
    ]
    cfg = with_sources(parse_config({"app": {"cameras": [{"name": "old", "source": "x.mp4"}]}}), ["door=0"], "--source")
    assert [(c.name, c.source) for c in cfg.app.cameras] == [("door", 0)]
    assert redact_source("rtsp://admin:pw@10.0.0.2/live") == "rtsp://***@10.0.0.2/live"
    assert redact_source("rtsp://user:p@ssw0rd@127.0.0.1:8554/x") == "rtsp://***@127.0.0.1:8554/x"
    assert redact_source("see rtsp://a:b@h/x and http://c:d@e:80/y?u=v@w") == "see rtsp://***@h/x and http://***@e:80/y?u=v@w"
    assert redact_source(3) == "3"


def test_latest_hands_out_only_the_newest_item():
    slot: Latest[int] = Latest()
    assert slot.newer(0, timeout=0.01) is None
    for i in range(5):
        slot.put(i)
    assert slot.newer(0, timeout=0.01) == (5, 4)  # items 0..3 were replaced, not queued
    assert slot.newer(5, timeout=0.01) is None


def _wait(predicate, timeout=120.0):  # generous: a busy machine is slow, a condition never met still fails
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_host_and_port_flags(tmp_path):
    from facemask.web.main import with_address

    cfg = parse_config({"app": {"cameras": [{"name": "a", "source": "x.mp4"}]}})
    assert with_address(cfg, None, None) is cfg
    moved = with_address(cfg, "0.0.0.0", 8080)
    assert (moved.app.host, moved.app.port) == ("0.0.0.0", 8080)
    with pytest.raises(ConfigError, match="app.port"):
        with_address(cfg, None, 70000)


def test_camera_processes_share_the_cores(x86_config):
    import os

    from facemask.web.camera_process import camera_threads, live_config

    cores = len(os.sched_getaffinity(0))
    assert camera_threads(x86_config, 1) == cores
    assert camera_threads(x86_config, 2 * cores) == 1  # never 0
    data = x86_config.model_dump(mode="json")
    data["app"]["camera_threads"] = 3
    assert camera_threads(parse_config(data, "app"), 8) == 3  # set by the user: kept
    live = live_config(x86_config, 1)
    assert live.detector.num_threads == 1 and live.classifier.num_threads == 1
    data = x86_config.model_dump(mode="json")
    data["detector"] = {"type": "fusion", "detectors": [{"type": "yunet"}, {"type": "ultraface"}]}
    fused = live_config(parse_config(data, "app"), 1)
    assert [d.num_threads for d in fused.detector.detectors] == [1, 1]
    assert live_config(x86_config).detector.num_threads == x86_config.detector.num_threads
