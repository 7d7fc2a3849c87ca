"""The web application's parts in-process: storage, config, camera workers on real frames."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from facemask.config import parse_config
from facemask.errors import ConfigError, InputError
from facemask.io.sources import SourceInfo
from facemask.types import Event, EventKind, Frame, FrameResult
from facemask.web.camera import ERROR, RECONNECTING, RUNNING, CameraWorker, Latest, redact_source
from facemask.web.main import source_cameras, with_sources
from facemask.web.storage import Store
from tests.conftest import VIDEOS

VIDEO = VIDEOS / "vtest_480x360.avi"


def test_store_keeps_samples_and_events_across_reopen(tmp_path):
    db = tmp_path / "app.sqlite"
    store = Store(db)
    for i in range(10):
        store.add_sample("door", {"people": i, "masked": i // 2, "unmasked": i - i // 2, "undecided": 0}, ts=1000.0 + i)
    store.add_sample("yard", {"people": 1, "masked": 1}, ts=1005.0)
    store.add_events("door", [{"event": "decided", "track_id": np.int64(7), "decision": "mask", "balance": 3},
                              {"event": "track_ended", "track_id": 7, "decision": "mask", "box": np.zeros(2)}], ts=1009.0)
    store.close()

    store = Store(db)
    assert store.last_counters("door") == {"people": 9, "masked": 4, "unmasked": 5, "mask_incorrect": 0, "undecided": 0}
    assert store.last_counters("nobody") is None
    history = store.history(since=1003.0, max_points=3)
    assert sorted(history) == ["door", "yard"]
    assert [row[0] for row in history["door"]] == [1003.0, 1006.0, 1009.0]  # thinned, newest kept
    events = store.events()
    assert [(e["kind"], e["track_id"], e["label"]) for e in events] == [("decided", 7, "mask"), ("track_ended", 7, "mask")]
    assert events[1]["data"]["box"] == [0.0, 0.0]
    assert store.events(since=events[0]["id"]) == events[1:]
    assert store.events(since=events[1]["id"]) == []
    store.prune(retention_days=1, now=1009.0 + 86400 - 0.5)  # keeps what is younger than a day
    assert store.history(since=0) == {"door": [[1009.0, 9, 4, 5, 0]]}
    assert len(store.events()) == 2
    store.prune(retention_days=1, now=1009.0 + 86400 + 0.5)
    assert store.history(since=0) == {} and store.events() == []
    store.close()


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
    assert redact_source(3) == "3"


def test_latest_hands_out_only_the_newest_item():
    slot: Latest[int] = Latest()
    assert slot.newer(0, timeout=0.01) is None
    for i in range(5):
        slot.put(i)
    assert slot.newer(0, timeout=0.01) == (5, 4)  # items 0..3 were replaced, not queued
    assert slot.newer(5, timeout=0.01) is None


class FiveFrameStream:
    """A live source that delivers five real frames, then drops."""

    live = True

    def __init__(self):
        cap = cv2.VideoCapture(str(VIDEO))
        self.frames = [cap.read()[1] for _ in range(5)]
        cap.release()
        self.info = SourceInfo(name="rtsp://camera.invalid/stream", fps=10.0, width=480, height=360, live=True)

    def __iter__(self):
        return iter(Frame(image=f, index=i, time_s=i / 10.0) for i, f in enumerate(self.frames))

    def close(self):
        pass


class CountingSession:
    """Stands in for VideoSession: counts one masked person per frame it is given."""

    def __init__(self):
        self.frames = 0

    def process(self, frame, index):
        self.frames += 1
        return FrameResult(width=frame.shape[1], height=frame.shape[0], frame=index, timings_ms={"detect": 1.0})

    def draw(self, frame, result):
        return frame

    def pop_events(self):
        return [Event(kind=EventKind.DECIDED, camera="door", id=f"r-{self.frames}", person=f"door/r/{self.frames}",
                      track_id=self.frames, frame=self.frames, time_s=0.0, wall_time=0.0, status="person",
                      decision="mask", balance=3)]

    def snapshot(self):
        return {"people": self.frames, "masked": self.frames, "unmasked": 0, "mask_incorrect": 0, "undecided": 0}


def _wait(predicate, timeout=120.0):  # generous: a busy machine is slow, a condition never met still fails
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_camera_reconnects_after_a_drop_and_resumes_stored_totals(tmp_path, monkeypatch):
    cfg = parse_config({"app": {"reconnect_max_s": 0.2, "sample_interval_s": 0.1,
                                "cameras": [{"name": "door", "source": "rtsp://camera.invalid/stream"}]}})
    store = Store(tmp_path / "app.sqlite")
    store.add_sample("door", {"people": 10, "masked": 4, "unmasked": 6})  # an earlier run
    worker = CameraWorker(cfg.app.cameras[0], cfg, store, lambda fps: CountingSession())
    attempts = []

    def open_source():
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise InputError("rtsp://camera.invalid/stream: cannot open as video (corrupt, unsupported or unreachable)")
        return FiveFrameStream()

    monkeypatch.setattr(worker, "_open", open_source)
    states = []
    set_state = worker._set_state
    monkeypatch.setattr(worker, "_set_state", lambda s, m: (states.append(s), set_state(s, m)))
    worker.start()
    try:
        assert _wait(lambda: worker.reconnects >= 2), f"states seen: {states}"
    finally:
        worker.stop()
    assert states[:3] == [ERROR, RUNNING, RECONNECTING]  # never opened, then opened, then dropped
    info = worker.info()
    assert info["frames_processed"] >= 1 and info["latency_ms"] == {"detect": 1.0}
    # Totals are the earlier run's plus this run's people, and the final ones are stored at stop.
    final = store.last_counters("door")
    assert info["counters"]["people"] == final["people"] > 10
    assert final["masked"] - 4 == final["people"] - 10 and final["unmasked"] == 6
    assert store.events()[-1]["label"] == "mask"
    # Viewers got decodable pictures: a placeholder while down, real frames while up.
    _, jpeg = worker.jpeg.peek()
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape[:2] == (360, 480)
    store.close()
