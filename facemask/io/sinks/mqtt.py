"""MQTT output (paho-mqtt), with topics in the style Frigate users know.

Under ``mqtt.topic_prefix`` (default ``facemask``):

* ``<prefix>/available``: ``online`` once connected, ``offline`` on a clean stop and as the last
  will (the broker sends it when the connection dies); retained;
* ``<prefix>/<camera>/people``: the camera's counters (people, masked, unmasked, ..., line
  crossings), retained, published when they change;
* ``<prefix>/events``: one JSON object per person event, ``type`` ``new`` (a track counts as a
  person), ``update`` (decided, decision changed) or ``end``, with ``before`` and ``after``;
* ``<prefix>/stats``: the camera's counters every ``mqtt.stats_interval_s``;
* ``<prefix>/alerts``: alerts (see :mod:`.alerts`).

:class:`MqttPublisher` keeps every message in a bounded queue and sends them one at a time, in
order, each removed only once the broker acknowledged it (QoS 1 or 2): while the broker is away
messages wait (the oldest dropped beyond ``mqtt.queue_size``), paho reconnects with a doubling
delay (``reconnect_min_s`` .. ``reconnect_max_s``) and the queue is sent on return.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import socket
import threading
import time
from typing import Any, Callable

from ...config import MqttConfig
from ...types import Event, EventKind
from .base import FrameOutput, SinkBase

log = logging.getLogger("facemask")

ONLINE, OFFLINE = "online", "offline"


def _payload(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, separators=(",", ":"), default=str).encode()


class MqttPublisher:
    """One paho client on its own network thread plus a sender thread; see the module docstring."""

    def __init__(self, cfg: MqttConfig, name: str = "facemask"):
        import paho.mqtt.client as mqtt

        self.cfg = cfg
        self.prefix = cfg.topic_prefix.rstrip("/")
        self.available_topic = f"{self.prefix}/available"
        client_id = cfg.client_id or f"facemask-{socket.gethostname()}-{os.getpid()}"
        if name:
            client_id = f"{client_id}-{name}"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id[:128], clean_session=True)
        username = cfg.username or os.environ.get("FACEMASK_MQTT_USERNAME")
        password = cfg.password or os.environ.get("FACEMASK_MQTT_PASSWORD")
        if username:
            self.client.username_pw_set(username, password)
        if cfg.tls:
            self.client.tls_set(ca_certs=cfg.tls_ca)
            if cfg.tls_insecure:
                self.client.tls_insecure_set(True)
        self.client.will_set(self.available_topic, OFFLINE, qos=1, retain=True)
        self.client.reconnect_delay_set(max(1, round(cfg.reconnect_min_s)), max(1, round(cfg.reconnect_max_s)))
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self._queue: collections.deque[tuple[str, bytes, bool]] = collections.deque()
        self._cond = threading.Condition()
        self._connected = False
        self._stop = threading.Event()
        self._sending = False
        self.sent = 0
        self.dropped = 0
        self.connects = 0
        self._sender = threading.Thread(target=self._send_loop, name="facemask-mqtt", daemon=True)
        self._started = False

    # ------------------------------------------------------------ life cycle

    def start(self) -> "MqttPublisher":
        if not self._started:
            self._started = True
            self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
            self.client.loop_start()
            self._sender.start()
        return self

    def flush(self, timeout: float) -> bool:
        """Wait until every queued message was acknowledged (True) or ``timeout`` passed."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._sending, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (up to ``timeout``), publish ``offline``, disconnect."""
        if not self._started:
            return
        self.flush(timeout)
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._sender.join(timeout)
        if self.connected:
            info = self.client.publish(self.available_topic, OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(min(timeout, 2.0))
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()
        self._started = False

    # ------------------------------------------------------------ publishing

    @property
    def connected(self) -> bool:
        with self._cond:
            return self._connected

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def publish(self, topic: str, value: Any, retain: bool = False) -> None:
        """Queue one message; ``topic`` is relative to the prefix."""
        with self._cond:
            if len(self._queue) >= self.cfg.queue_size:
                self._queue.popleft()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.warning("mqtt: broker away and queue full: %d message(s) dropped so far", self.dropped)
            self._queue.append((f"{self.prefix}/{topic}", _payload(value), retain))
            self._cond.notify_all()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("mqtt: %s:%d refused the connection: %s", self.cfg.host, self.cfg.port, reason_code)
            return
        client.publish(self.available_topic, ONLINE, qos=1, retain=True)
        with self._cond:
            self._connected = True
            self.connects += 1
            self._cond.notify_all()
        log.info("mqtt: connected to %s:%d", self.cfg.host, self.cfg.port)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._cond:
            was, self._connected = self._connected, False
        if was and not self._stop.is_set():
            log.warning("mqtt: connection to %s:%d lost (%s); reconnecting", self.cfg.host, self.cfg.port, reason_code)

    def _send_loop(self) -> None:
        qos = self.cfg.qos
        while not self._stop.is_set():
            with self._cond:
                self._cond.wait_for(lambda: self._stop.is_set() or (self._connected and self._queue), 1.0)
                if self._stop.is_set():
                    return
                if not (self._connected and self._queue):
                    continue
                topic, payload, retain = self._queue[0]
                self._sending = True
            try:
                info = self.client.publish(topic, payload, qos=qos, retain=retain)
                # QoS 1/2: paho keeps an unacknowledged message and sends it again after a
                # reconnect, so wait for this one, however long the broker is away.
                while not self._stop.is_set():
                    if qos == 0 and info.rc != 0:
                        break  # not sent (no connection): publish it again once connected
                    try:
                        info.wait_for_publish(0.5)
                    except (RuntimeError, ValueError):
                        if qos == 0:
                            break
                    if info.is_published():
                        with self._cond:
                            if self._queue and self._queue[0][0] == topic and self._queue[0][1] is payload:
                                self._queue.popleft()
                            self.sent += 1
                        break
                    if qos == 0 and not self.connected:
                        break
                if qos == 0 and not info.is_published():
                    with self._cond:
                        self._cond.wait_for(lambda: self._stop.is_set() or self._connected, 1.0)
            finally:
                with self._cond:
                    self._sending = False
                    self._cond.notify_all()


# ---------------------------------------------------------------- the sink

EVENT_TYPES = {EventKind.PERSON: "new", EventKind.DECIDED: "update", EventKind.DECISION_CHANGED: "update",
               EventKind.TRACK_ENDED: "end"}


def person_state(event: Event, snapshot_url: str | None = None) -> dict[str, Any]:
    """The ``before`` / ``after`` object of an MQTT event."""
    data = event.data
    votes = {"balance": event.balance}
    for key, name in (("mask_votes", "mask"), ("no_mask_votes", "no_mask"), ("mask_incorrect_votes", "mask_incorrect")):
        if key in data:
            votes[name] = data[key]
    return {
        "id": event.person, "camera": event.camera, "track_id": event.track_id, "status": event.status,
        "decision": event.decision, "votes": votes, "time": round(event.wall_time or time.time(), 3), "time_s": round(event.time_s, 3),
        "snapshot": snapshot_url,
    }


class MqttSink(SinkBase):
    """Events, retained counters and periodic stats of one camera (see the module docstring).

    ``counters()``: the camera's counters now (the session's, plus line crossings);
    ``snapshot_url(person)``: the URL of the person's snapshot, or None.
    """

    def __init__(self, cfg: MqttConfig, camera: str, counters: Callable[[], dict],
                 snapshot_url: Callable[[str], str | None] | None = None, publisher: MqttPublisher | None = None):
        self.cfg, self.camera = cfg, camera
        self.publisher = publisher if publisher is not None else MqttPublisher(cfg, camera).start()
        self._counters = counters
        self._snapshot_url = snapshot_url or (lambda person: None)
        self._people: dict[str, dict[str, Any]] = {}  # person -> its latest "after"
        self._last_counters: dict | None = None
        self._next_stats = time.monotonic() + cfg.stats_interval_s

    def _publish_counters(self, force: bool = False) -> dict:
        counters = self._counters()
        if force or counters != self._last_counters:
            self._last_counters = counters
            self.publisher.publish(f"{self.camera}/people", {"camera": self.camera, "time": round(time.time(), 3),
                                                             **counters}, retain=True)
        return counters

    def on_frame(self, out: FrameOutput) -> None:
        now = time.monotonic()
        if now >= self._next_stats:
            self._next_stats = now + self.cfg.stats_interval_s
            counters = self._publish_counters()
            self.publisher.publish("stats", {"camera": self.camera, "time": round(time.time(), 3),
                                             "frame": out.frame.index, "counters": counters,
                                             "queue": {"pending": self.publisher.pending,
                                                       "dropped": self.publisher.dropped}})

    def on_event(self, event: Event) -> None:
        kind = EVENT_TYPES.get(event.kind)
        counted = event.status == "person"
        if kind is None or not counted:
            if event.kind == EventKind.TRACK_ENDED:
                self._people.pop(event.person, None)
            return
        if kind == "update" and event.person not in self._people:
            kind = "new"  # decided in the same frame it became a person: one "new" is enough
        before = self._people.get(event.person)
        after = person_state(event, self._snapshot_url(event.person))
        if kind == "end":
            self._people.pop(event.person, None)
        else:
            self._people[event.person] = after
        self.publisher.publish("events", {"type": kind, "id": event.id, "camera": self.camera,
                                          "person": event.person, "event": event.kind.value,
                                          "before": before, "after": after})
        self._publish_counters()

    def publish_alert(self, alert: dict) -> None:
        self.publisher.publish("alerts", alert)

    def close(self) -> None:
        self._publish_counters(force=True)
        self.publisher.close(timeout=5.0)

    def abort(self) -> None:
        self.publisher.close(timeout=1.0)
