"""A publisher thread: persistent messages with publisher confirms, buffered while the broker is away.

pika connections are not thread-safe, so the thread owns its connection; other threads only
append to its buffer. A persistent message leaves the buffer once the broker confirmed it (it is
then on disk in a durable queue); while the broker is away or restarting, messages wait (up to
``broker.buffer_max``, the oldest dropped beyond, with a warning) and go out in order after the
reconnect. A message that was sent but not confirmed when the connection broke is sent again:
delivery is at least once, and consumers deduplicate by message id. Transient messages (live-view
frames) keep only the newest per routing key and are dropped while the broker is away.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from ..config import BrokerConfig
from .connection import Backoff, connect, connection_errors, declare, Names, persistent, redact_url, transient

log = logging.getLogger("facemask.broker")


@dataclass
class Message:
    exchange: str
    routing_key: str
    body: bytes
    message_id: str | None = None
    content_type: str = "application/json"
    meta: Any = None  # given back to on_confirm


def encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)).encode()


class Publisher:
    def __init__(self, url: str, cfg: BrokerConfig, name: str = "facemask-publisher",
                 on_confirm: Callable[[Message], None] | None = None,
                 on_send: Callable[[Message], None] | None = None):
        self.url, self.cfg, self.name = url, cfg, name
        self.names = Names.of(cfg)
        self.on_confirm, self.on_send = on_confirm, on_send
        self._pending: collections.deque[Message] = collections.deque()
        self._latest: dict[str, Message] = {}  # transient, newest per routing key
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._in_flight = 0
        self.connected = threading.Event()
        self.sent = self.dropped = self.reconnects = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ producers (any thread)

    def publish(self, routing_key: str, obj: Any, *, message_id: str | None = None, exchange: str | None = None,
                meta: Any = None) -> None:
        """A persistent JSON message (``obj`` is encoded) or raw bytes, confirmed by the broker."""
        body = obj if isinstance(obj, bytes) else encode(obj)
        msg = Message(self.names.exchange if exchange is None else exchange, routing_key, body, message_id, meta=meta)
        with self._cond:
            if len(self._pending) >= self.cfg.buffer_max:
                self._pending.popleft()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.warning("broker away: %d buffered message(s) dropped (broker.buffer_max %d)",
                                self.dropped, self.cfg.buffer_max)
            self._pending.append(msg)
            self._cond.notify_all()

    def publish_latest(self, routing_key: str, body: bytes, content_type: str = "image/jpeg") -> None:
        """A transient message; only the newest per key waits, none while the broker is away."""
        if not self.connected.is_set():
            return
        with self._cond:
            self._latest[routing_key] = Message(self.names.exchange, routing_key, body, content_type=content_type)
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._pending) + self._in_flight

    def flush(self, timeout: float) -> bool:
        """Wait until every persistent message is confirmed (or ``timeout``)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._in_flight, timeout)

    def close(self, timeout: float = 10.0) -> None:
        if not self.flush(timeout):
            log.warning("broker: %d message(s) not confirmed at exit", self.pending())
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)

    # ------------------------------------------------------------ the thread

    def _next(self) -> tuple[Message | None, bool]:
        with self._cond:
            self._cond.wait_for(lambda: self._pending or self._latest or self._stop.is_set(), 0.5)
            if self._pending:
                self._in_flight = 1
                return self._pending.popleft(), True
            if self._latest:
                key = next(iter(self._latest))
                return self._latest.pop(key), False
            return None, False

    def _run(self) -> None:
        errors = connection_errors()
        import pika

        backoff = Backoff(self.cfg.reconnect_max_s)
        first = True
        while not self._stop.is_set():
            try:
                conn = connect(self.url, self.cfg, self.name)
            except errors as exc:
                delay = backoff.next()
                log.warning("%s: broker %s unreachable (%s), retrying in %.1f s", self.name, redact_url(self.url),
                            type(exc).__name__, delay)
                self._stop.wait(delay)
                continue
            if not first:
                self.reconnects += 1
            first = False
            msg: Message | None = None
            try:
                ch = conn.channel()
                declare(ch, self.names)
                ch.confirm_delivery()
                self.connected.set()
                backoff.reset()
                while not self._stop.is_set():
                    msg, durable = self._next()
                    if msg is None:
                        conn.process_data_events(0)  # heartbeats
                        continue
                    if durable:
                        props = persistent(msg.message_id, msg.content_type)
                        if self.on_send is not None:
                            self.on_send(msg)
                        try:
                            ch.basic_publish(msg.exchange, msg.routing_key, msg.body, props, mandatory=True)
                        except pika.exceptions.UnroutableError:
                            log.warning("broker: message %s to %s dropped (no queue takes it)", msg.message_id,
                                        msg.routing_key)
                        self.sent += 1
                        done, msg = msg, None
                        with self._cond:
                            self._in_flight = 0
                            self._cond.notify_all()
                        if self.on_confirm is not None:
                            self.on_confirm(done)
                    else:
                        ch.basic_publish(msg.exchange, msg.routing_key, msg.body,
                                         transient(msg.content_type, expiration_ms=10_000))
                        msg = None
                conn.close()
            except errors as exc:
                self.connected.clear()
                with self._cond:
                    if msg is not None and self._in_flight:
                        self._pending.appendleft(msg)  # not confirmed: send it again
                    self._in_flight = 0
                    self._latest.clear()
                log.warning("%s: broker connection lost (%s), reconnecting", self.name, type(exc).__name__)
                try:
                    conn.close()
                except Exception:
                    pass
                self._stop.wait(backoff.next())
        self.connected.clear()
