"""The broker URL, credentials, topology and reconnects (pika, RabbitMQ).

Names (``broker.prefix`` ``facemask``, ``broker.exchange`` ``facemask``):

* ``<exchange>``: a durable topic exchange. Workers publish ``event.<camera>`` and
  ``stats.<camera>`` (persistent, confirmed) and ``frame.<camera>`` (a low-rate JPEG, transient);
* ``<prefix>.cameras``: a durable queue, one persistent message per camera (its assignment);
* ``<prefix>.tasks``: a durable queue of image tasks (``submit``);
* ``<prefix>.aggregate``: the durable queue the aggregator reads (bound to ``event.#``, ``stats.#``);
* ``<exchange>.control``: a fanout exchange; each worker binds its own exclusive queue to it.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from ..config import BrokerConfig
from ..errors import ConfigError

log = logging.getLogger("facemask.broker")

URL_ENV = "FACEMASK_BROKER_URL"
USER_ENV, PASSWORD_ENV = "FACEMASK_BROKER_USER", "FACEMASK_BROKER_PASSWORD"
CREDENTIALS_ENV = "FACEMASK_BROKER_CREDENTIALS"


def _pika():
    try:
        import pika
    except ImportError:  # pragma: no cover - the [broker] extra
        raise ConfigError("the broker commands need pika: pip install 'facemask[broker]'") from None
    return pika


def broker_args(p: argparse.ArgumentParser, overrides: bool = True) -> None:
    """The options every broker command takes: --config, --set (unless the command has its own),
    --broker."""
    p.add_argument("--config", default="configs/config-x86.json", help="JSON config (default: %(default)s)")
    if overrides:
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                       help="override a config value (repeatable)")
    p.add_argument("--broker", help="amqp://host[:port][/vhost] (default: FACEMASK_BROKER_URL, else broker.url)")


def redact_url(url: str) -> str:
    return urllib.parse.urlsplit(url)._replace(netloc=urllib.parse.urlsplit(url).netloc.rpartition("@")[2]).geturl()


def broker_url(cfg: BrokerConfig, given: str | None = None) -> str:
    """``--broker``, else ``FACEMASK_BROKER_URL``, else ``broker.url``; credentials from
    ``FACEMASK_BROKER_USER`` / ``FACEMASK_BROKER_PASSWORD``, else a file ``user:password``
    (``FACEMASK_BROKER_CREDENTIALS`` or ``broker.credentials_file``), else the URL's own."""
    url = given or os.environ.get(URL_ENV) or cfg.url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
        raise ConfigError(f"broker URL {redact_url(url)}: expected amqp://host[:port][/vhost]")
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    path = os.environ.get(CREDENTIALS_ENV) or cfg.credentials_file
    if user is None and path:
        try:
            text = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"broker credentials {path}: {exc.strerror}") from None
        if ":" not in text:
            raise ConfigError(f"broker credentials {path}: expected one line 'user:password'")
        user, password = text.split(":", 1)
    if user is not None:
        host = parts.netloc.rpartition("@")[2]
        auth = urllib.parse.quote(user, safe="") + ":" + urllib.parse.quote(password or "", safe="")
        url = parts._replace(netloc=f"{auth}@{host}").geturl()
    return url


@dataclass(frozen=True)
class Names:
    exchange: str
    control: str
    cameras: str
    tasks: str
    aggregate: str

    @classmethod
    def of(cls, cfg: BrokerConfig) -> "Names":
        p = cfg.prefix
        return cls(cfg.exchange, f"{cfg.exchange}.control", f"{p}.cameras", f"{p}.tasks", f"{p}.aggregate")


def connect(url: str, cfg: BrokerConfig, name: str = "facemask"):
    """A pika BlockingConnection (raises pika.exceptions.AMQPConnectionError)."""
    pika = _pika()
    params = pika.URLParameters(url)
    params.heartbeat = cfg.heartbeat_s
    params.blocked_connection_timeout = 60
    params.connection_attempts = 1
    params.socket_timeout = 5
    params.client_properties = {"connection_name": name}
    return pika.BlockingConnection(params)


def declare(channel, names: Names) -> None:
    """The exchanges and durable queues every process relies on (idempotent)."""
    channel.exchange_declare(names.exchange, "topic", durable=True)
    channel.exchange_declare(names.control, "fanout", durable=True)
    channel.queue_declare(names.cameras, durable=True)
    channel.queue_declare(names.tasks, durable=True)
    channel.queue_declare(names.aggregate, durable=True)
    for key in ("event.#", "stats.#"):
        channel.queue_bind(names.aggregate, names.exchange, key)


def connection_errors() -> tuple[type[BaseException], ...]:
    """What a lost broker raises (connection or channel)."""
    exc = _pika().exceptions
    return (exc.AMQPConnectionError, exc.AMQPChannelError, exc.ConnectionWrongStateError, ConnectionError, OSError)


def persistent(message_id: str | None = None, content_type: str = "application/json", **headers):
    return _pika().BasicProperties(delivery_mode=2, content_type=content_type, message_id=message_id,
                                   headers=headers or None)


def transient(content_type: str = "application/json", expiration_ms: int | None = None, **headers):
    return _pika().BasicProperties(delivery_mode=1, content_type=content_type,
                                   expiration=None if expiration_ms is None else str(expiration_ms),
                                   headers=headers or None)


class Backoff:
    """Reconnect delays: 0.5, 1, 2 ... seconds up to ``max_s``; ``reset()`` after a success."""

    def __init__(self, max_s: float):
        self.max_s, self.failures = max_s, 0

    def next(self) -> float:
        self.failures += 1
        return min(0.5 * 2 ** (self.failures - 1), self.max_s)

    def reset(self) -> None:
        self.failures = 0

    def wait(self, stop: threading.Event) -> None:
        stop.wait(self.next())
