"""Alerts: rules with cooldowns, sent to a real local HTTP server (signed with HMAC-SHA256,
retried when it fails), to a real mosquitto, and recorded for the page."""

from __future__ import annotations

import json

from facemask.config import parse_config
from facemask.io.sinks.alerts import AlertsSink
from facemask.io.sinks.mqtt import MqttSink
from facemask.io.sinks.records import Records
from facemask.io.sinks.webhook import SIGNATURE_HEADER, sign, verify
from facemask.types import EventIds, EventKind
from tests.servers import Mosquitto, Subscriber, WebhookServer, wait_until
from tests.test_mqtt import event, mqtt_cfg

SECRET = "s3cret-for-the-test"


def config(hook_url: str, *rules: dict, retries: int = 3):
    return parse_config({"alerts": list(rules),
                         "webhooks": [{"url": hook_url, "secret": SECRET, "retries": retries, "backoff_s": 0.1}]})


def test_unmasked_person_is_posted_with_a_valid_signature_once_per_cooldown(tmp_path):
    server = WebhookServer()
    cfg = config(server.url, {"type": "unmasked", "cooldown_s": 3600})
    sink = AlertsSink(cfg, "door", tmp_path / "db.sqlite", snapshot_url=lambda p: f"/api/snapshots/{p}.jpg")
    try:
        ids = EventIds("door")
        sink.on_event(event(ids, EventKind.DECIDED, 1, "mask"))  # masked: no alert
        sink.on_event(event(ids, EventKind.DECIDED, 2, "no_mask", status="pending"))  # not a person yet
        sink.on_event(event(ids, EventKind.DECIDED, 3, "no_mask"))
        sink.on_event(event(ids, EventKind.DECIDED, 4, "no_mask"))  # within the cooldown
        assert sink.webhooks[0].flush(20)
        assert len(server.requests) == 1
        headers, body = server.requests[0]
        assert headers["content-type"] == "application/json"
        assert verify(SECRET, body, headers[SIGNATURE_HEADER.lower()])
        assert not verify("another secret", body, headers[SIGNATURE_HEADER.lower()])
        alert = json.loads(body)
        assert alert["type"] == "unmasked" and alert["camera"] == "door" and alert["track_id"] == 3
        assert alert["snapshot"] == f"/api/snapshots/{ids.person(3)}.jpg"
    finally:
        sink.close()
        server.close()
    page = Records(tmp_path / "db.sqlite").alerts()
    assert [a["track_id"] for a in page] == [3] and page[0]["message"] == "person #3 unmasked"


def test_failing_endpoint_is_retried_until_it_answers(tmp_path):
    server = WebhookServer(fail_first=2)
    cfg = config(server.url, {"type": "unmasked", "cooldown_s": 0})
    sink = AlertsSink(cfg, "door", None)
    try:
        sink.on_event(event(EventIds("door"), EventKind.DECIDED, 7, "mask_incorrect"))
        assert sink.webhooks[0].flush(30)
        assert server.attempts == 3 and len(server.requests) == 1
        headers, body = server.requests[0]
        assert headers[SIGNATURE_HEADER.lower()] == sign(SECRET, body)
        assert json.loads(body)["decision"] == "mask_incorrect"
        assert sink.webhooks[0].delivered == 1 and sink.webhooks[0].failed == 0
    finally:
        sink.close()
        server.close()


def test_an_endpoint_that_never_answers_gives_up_after_the_retries(tmp_path):
    server = WebhookServer(fail_first=100)
    cfg = config(server.url, {"type": "unmasked"}, retries=2)
    sink = AlertsSink(cfg, "door", None)
    try:
        sink.on_event(event(EventIds("door"), EventKind.DECIDED, 1, "no_mask"))
        assert sink.webhooks[0].flush(30)
        assert server.attempts == 3 and sink.webhooks[0].failed == 1
    finally:
        sink.close()
        server.close()


def test_pct_masked_below_needs_enough_people_in_the_window(tmp_path):
    server = WebhookServer()
    cfg = config(server.url, {"type": "pct_masked_below", "threshold_pct": 50, "window_min": 5, "min_people": 4})
    now = [1000.0]
    sink = AlertsSink(cfg, "hall", None, clock=lambda: now[0])
    try:
        ids = EventIds("hall")
        sink.on_event(event(ids, EventKind.DECIDED, 1, "no_mask"))
        sink.on_event(event(ids, EventKind.DECIDED, 2, "no_mask"))
        sink.on_event(event(ids, EventKind.DECIDED, 3, "mask"))
        assert sink.sent == []  # 3 people: fewer than min_people
        now[0] += 400  # the first three leave the 5-minute window
        sink.on_event(event(ids, EventKind.DECIDED, 4, "no_mask"))
        assert sink.sent == []
        for track in (5, 6, 7):
            sink.on_event(event(ids, EventKind.DECIDED, track, "no_mask" if track < 7 else "mask"))
        assert [a["people"] for a in sink.sent] == [4] and sink.sent[0]["pct_masked"] == 25.0
        assert sink.webhooks[0].flush(20) and len(server.requests) == 1
    finally:
        sink.close()
        server.close()


def test_camera_down_alert_reaches_mqtt(tmp_path):
    broker = Mosquitto(tmp_path / "broker").start()
    sub = Subscriber(broker.port, "facemask/alerts")
    cfg = parse_config({"alerts": [{"type": "camera_down", "after_s": 0.5, "cooldown_s": 3600, "notify": ["mqtt"]}]})
    mqtt = MqttSink(mqtt_cfg(broker.port), "gate", counters=dict)
    sink = AlertsSink(cfg, "gate", None, mqtt=mqtt)
    try:
        alerts = wait_until(lambda: sub.json_on("facemask/alerts"), timeout=30, what="the camera_down alert")
        assert alerts[0]["type"] == "camera_down" and alerts[0]["camera"] == "gate" and alerts[0]["down_s"] >= 0.5
        assert len(sink.sent) == 1
    finally:
        sink.close()
        mqtt.close()
        sub.close()
        broker.stop()
