"""MQTT output against a real broker (Debian's mosquitto on a loopback port, started and stopped
here): events, retained counters, the last will, and a broker that goes away for 10 s."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

from facemask.config import MqttConfig
from facemask.io.sinks.mqtt import MqttPublisher, MqttSink
from facemask.types import Event, EventIds, EventKind
from tests.conftest import REPO
from tests.servers import Mosquitto, Subscriber, wait_until


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


def event(ids: EventIds, kind: EventKind, track: int, decision: str, status: str = "person", **data) -> Event:
    return Event(kind=kind, camera=ids.camera, id=ids.next_event(), person=ids.person(track), track_id=track,
                 frame=1, time_s=0.1, wall_time=time.time(), status=status, decision=decision, balance=3, data=data)


def mqtt_cfg(port: int, **kw) -> MqttConfig:
    return MqttConfig(enabled=True, port=port, reconnect_min_s=1.0, reconnect_max_s=1.0, **kw)


def test_events_retained_counters_and_availability_arrive(broker):
    sub = Subscriber(broker.port, "facemask/#")
    counts = {"people": 0, "masked": 0}
    sink = MqttSink(mqtt_cfg(broker.port), "door", counters=lambda: dict(counts),
                    snapshot_url=lambda person: f"/api/snapshots/{person}.jpg")
    try:
        ids = EventIds("door")
        counts.update(people=1)
        sink.on_event(event(ids, EventKind.PERSON, 1, "undecided"))
        counts.update(masked=1)
        sink.on_event(event(ids, EventKind.DECIDED, 1, "mask", previous="undecided"))
        sink.on_event(event(ids, EventKind.DECIDED, 2, "no_mask", status="pending"))  # not a person: not sent
        sink.on_event(event(ids, EventKind.TRACK_ENDED, 1, "mask", mask_votes=9, no_mask_votes=1))
        assert sink.publisher.flush(20)
        events = wait_until(lambda: len(sub.json_on("facemask/events")) >= 3 and sub.json_on("facemask/events"),
                            what="3 events")
        assert [e["type"] for e in events] == ["new", "update", "end"]
        new, update, end = events
        assert new["before"] is None and new["after"]["decision"] == "undecided"
        assert update["before"]["decision"] == "undecided" and update["after"]["decision"] == "mask"
        assert end["after"]["votes"] == {"balance": 3, "mask": 9, "no_mask": 1}
        assert update["after"]["snapshot"] == "/api/snapshots/door/" + ids.run + "/1.jpg"
        assert all(e["camera"] == "door" and e["person"] == ids.person(1) for e in events)
        assert sub.on("facemask/available")[-1] == b"online"
    finally:
        sink.close()
    sub.close()
    # A newcomer gets the retained counters and the clean "offline" at once.
    late = Subscriber(broker.port, "facemask/#", client_id="late")
    try:
        people = wait_until(lambda: late.json_on("facemask/door/people"), what="retained counters")
        assert people[-1]["people"] == 1 and people[-1]["masked"] == 1
        assert wait_until(lambda: late.on("facemask/available"), what="availability") == [b"offline"]
        assert all(retain for t, _, retain in late.messages)
    finally:
        late.close()


def test_last_will_says_offline_when_the_process_dies(broker):
    sub = Subscriber(broker.port, "facemask/available")
    code = textwrap.dedent(f"""
        import sys, time
        from facemask.config import MqttConfig
        from facemask.io.sinks.mqtt import MqttPublisher
        p = MqttPublisher(MqttConfig(enabled=True, port={broker.port}), "dies").start()
        while not p.connected:
            time.sleep(0.05)
        print("connected", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "connected"
        wait_until(lambda: sub.on("facemask/available") == [b"online"], what="online")
        proc.kill()  # no clean disconnect: only the broker can say it
        proc.wait(10)
        wait_until(lambda: sub.on("facemask/available")[-1:] == [b"offline"], what="the last will")
    finally:
        if proc.poll() is None:
            proc.kill()
        sub.close()


def test_broker_away_for_10_s_loses_nothing_and_keeps_order(broker):
    sub = Subscriber(broker.port, "facemask/seq")
    pub = MqttPublisher(mqtt_cfg(broker.port, queue_size=1000), "seq").start()
    try:
        for i in range(20):
            pub.publish("seq", {"n": i})
        wait_until(lambda: len(sub.on("facemask/seq")) >= 20, what="the first 20 messages")
        broker.stop()
        wait_until(lambda: not pub.connected, what="the publisher to see the broker gone")
        for i in range(20, 60):  # published while the broker is away
            pub.publish("seq", {"n": i})
        time.sleep(10)
        assert pub.pending == 40
        broker.start()
        wait_until(lambda: {m["n"] for m in sub.json_on("facemask/seq")} == set(range(60)), timeout=60,
                   what="all 60 messages")
        assert pub.flush(20)
        # QoS 1 is "at least once": the broker may deliver again what it had not seen acknowledged
        # when it stopped. Each message's first arrival is in the order it was published.
        received = [m["n"] for m in sub.json_on("facemask/seq")]
        assert list(dict.fromkeys(received)) == list(range(60))
        assert pub.dropped == 0 and pub.connects >= 2
    finally:
        pub.close()
        sub.close()


def test_queue_is_bounded_and_drops_the_oldest(tmp_path):
    from tests.servers import free_port

    pub = MqttPublisher(mqtt_cfg(free_port(), queue_size=10), "bounded")  # nothing listens there
    for i in range(25):
        pub.publish("seq", json.dumps(i))
    assert pub.pending == 10 and pub.dropped == 15
    assert [int(p) for _, p, _ in list(pub._queue)] == list(range(15, 25))
