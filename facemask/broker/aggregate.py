"""``python -m facemask aggregate``: every worker's events and samples into SQLite, and the web page.

The aggregator reads the durable ``<prefix>.aggregate`` queue (``event.#``, ``stats.#``) and
acknowledges each message after it is committed to the database, so nothing is lost when it or
the broker stops. Events are stored by their own id, once (``Store.add_events_idempotent``): a
message delivered twice (a publisher resending after a lost confirm, a redelivery after a crash)
is not counted twice. Stat samples carry the counters of one camera run; a camera's totals are
the sum over its runs (a camera that moved to another worker starts a new run), stored every
``app.sample_interval_s`` as the camera's sample for the history chart.

Live view: workers publish a low-rate JPEG per camera (``frame.<camera>``, transient, every
``broker.frame_interval_s``) on the same exchange; the aggregator binds an exclusive, short queue
(newest frames only) and shows them. Going through the broker keeps workers free of open ports:
they only connect out to RabbitMQ, wherever they run.

The page, ``/api/stats``, ``/api/events``, ``/api/history``, ``/healthz`` and ``/metrics`` are the
web app's (facemask/web/app.py), with one :class:`~facemask.web.remote.RemoteCamera` per camera.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
import time
from typing import TYPE_CHECKING

from ..config import Config
from .connection import Backoff, Names, broker_args, broker_url, connect, connection_errors, declare, redact_url

if TYPE_CHECKING:  # the web extra is imported only when used
    from ..web.remote import RemoteCamera
    from ..web.storage import Store

log = logging.getLogger("facemask.broker")


class Aggregator:
    def __init__(self, cfg: Config, url: str, store: Store, cameras: list[RemoteCamera] | None = None):
        from ..web.remote import RemoteCamera  # noqa: F811

        self.cfg, self.url, self.store = cfg, url, store
        self.names = Names.of(cfg.broker)
        self.cameras = cameras if cameras is not None else []  # shared with the web app: appended to
        self._remote = RemoteCamera
        self._by_name = {c.name: c for c in self.cameras}
        self._sampled: dict[str, float] = {}
        self.stored_events = self.samples = 0
        self.connected = threading.Event()
        for name in sorted({r["camera"] for r in store.runs()}):
            self.camera(name)

    def camera(self, name: str) -> RemoteCamera:
        cam = self._by_name.get(name)
        if cam is None:
            stale = 3 * self.cfg.broker.stats_interval_s + 5.0
            cam = self._by_name[name] = self._remote(name, stale, self.store.run_totals(name))
            self.cameras.append(cam)
        return cam

    # ------------------------------------------------------------ messages

    def handle(self, body: bytes) -> None:
        msg = json.loads(body)
        camera = str(msg["camera"])
        if msg.get("type") == "event":
            if not self.store.add_events_idempotent(camera, [msg["event"]]):
                raise RuntimeError("the database cannot be written")
            self.stored_events += 1
            self.camera(camera)
        elif msg.get("type") == "stats":
            self.samples += 1
            counters = msg.get("counters")
            if counters is not None:
                self.store.set_run_counters(camera, str(msg["run"]), str(msg["worker"]), int(msg["seq"]), counters,
                                            float(msg["ts"]))
            totals = self.store.run_totals(camera)
            self.camera(camera).update(msg, totals)
            now = time.monotonic()
            if counters is not None and (msg.get("final") or now - self._sampled.get(camera, -1e9)
                                         >= self.cfg.app.sample_interval_s):
                self._sampled[camera] = now
                self.store.add_sample(camera, totals)

    def _on_message(self, ch, method, props, body: bytes) -> None:
        try:
            self.handle(body)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("aggregate: invalid message dropped (%s)", exc)
        except RuntimeError as exc:  # not stored: the broker keeps it and hands it out again
            log.warning("aggregate: %s", exc)
            ch.basic_nack(method.delivery_tag, requeue=True)
            return
        ch.basic_ack(method.delivery_tag)  # after the commit: a crash before it redelivers

    def _on_frame(self, ch, method, props, body: bytes) -> None:
        name = method.routing_key.partition(".")[2]
        cam = self._by_name.get(name)
        if cam is not None:
            cam.frame(body)

    # ------------------------------------------------------------ the loop

    def run(self, stop: threading.Event) -> None:
        errors = connection_errors()
        backoff = Backoff(self.cfg.broker.reconnect_max_s)
        while not stop.is_set():
            try:
                conn = connect(self.url, self.cfg.broker, "facemask-aggregate")
            except errors as exc:
                delay = backoff.next()
                log.warning("aggregate: broker %s unreachable (%s), retrying in %.1f s", redact_url(self.url),
                            type(exc).__name__, delay)
                stop.wait(delay)
                continue
            try:
                ch = conn.channel()
                declare(ch, self.names)
                ch.basic_qos(prefetch_count=200)
                ch.basic_consume(self.names.aggregate, self._on_message)
                frames = ch.queue_declare("", exclusive=True, auto_delete=True,
                                          arguments={"x-max-length": 16, "x-overflow": "drop-head"}).method.queue
                ch.queue_bind(frames, self.names.exchange, "frame.#")
                ch.basic_consume(frames, self._on_frame, auto_ack=True)
                self.connected.set()
                backoff.reset()
                log.info("aggregate: consuming from %s", redact_url(self.url))
                while not stop.is_set():
                    conn.process_data_events(time_limit=0.5)
                conn.close()
            except errors as exc:
                self.connected.clear()
                log.warning("aggregate: broker connection lost (%s), reconnecting", type(exc).__name__)
                try:
                    conn.close()
                except Exception:
                    pass
                stop.wait(backoff.next())
        self.connected.clear()


def serve(cfg: Config, args) -> int:
    from waitress import create_server

    from ..errors import ConfigError
    from ..web.app import create_app
    from ..web.main import OUTBUF_HIGH_WATERMARK, access_token
    from ..web.metrics import Metrics
    from ..web.storage import Store

    token = access_token(cfg)
    store = Store(cfg.app.db_path)
    store.prune(cfg.app.retention_days)
    cameras: list[RemoteCamera] = []
    agg = Aggregator(cfg, broker_url(cfg.broker, args.broker), store, cameras)
    stop = threading.Event()
    thread = threading.Thread(target=agg.run, args=(stop,), name="aggregate", daemon=True)
    server = None
    if not args.no_web:
        app = create_app(cfg, cameras, store, Metrics(cameras), token=token)
        try:
            server = create_server(app, host=cfg.app.host, port=cfg.app.port, threads=cfg.app.threads,
                                   ident="facemask", outbuf_high_watermark=OUTBUF_HIGH_WATERMARK,
                                   clear_untrusted_proxy_headers=True)
        except OSError as exc:
            store.close()
            raise ConfigError(f"cannot listen on {cfg.app.host}:{cfg.app.port}: {exc.strerror}") from None
        streams = app.extensions["facemask.streams"]

    def on_signal(signum, frame) -> None:
        stop.set()
        if server is not None:
            streams.stop()
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread.start()
    if server is not None:
        host = cfg.app.host
        print(f"facemask aggregate: serving on http://{'[' + host + ']' if ':' in host else host}:"
              f"{server.effective_port}/ (database {cfg.app.db_path})", flush=True)
        try:
            server.run()
        except SystemExit:
            pass
        finally:
            stop.set()
            server.close()
    else:
        print(f"facemask aggregate: consuming into {cfg.app.db_path}", flush=True)
        while not stop.is_set():
            stop.wait(0.5)
    thread.join(10)
    store.close()
    print("facemask aggregate: stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    from ..cli import run_command

    p = argparse.ArgumentParser(prog="python -m facemask aggregate",
                                description="Store every worker's events and counters; serve the web page for all cameras.")
    broker_args(p)
    p.add_argument("--no-web", action="store_true", help="only store; no web server")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    return run_command(serve, argv, p)
