"""``inference_main_app.py`` / ``python -m facemask app``: the web GUI on live sources, served by waitress."""

from __future__ import annotations

import argparse
import os
import re
import signal
import threading
from dataclasses import dataclass, field

from ..cli import run_command
from ..config import Config, parse_config
from ..errors import ConfigError
from ..pipeline import FramePipeline
from .app import Streams, create_app
from .camera import CameraProcess
from .metrics import Metrics
from .storage import Store

# Bytes waitress may queue for a slow viewer before the stream generator blocks on it;
# a blocked stream then skips to the newest frame instead of queueing old ones (no lag).
OUTBUF_HIGH_WATERMARK = 512 << 10


def source_cameras(items: list[str]) -> list[dict]:
    """``--source`` values, ``SPEC`` or ``NAME=SPEC``, as camera entries (a digit string is a webcam)."""
    cams = []
    for i, item in enumerate(items, 1):
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9_-]{0,31})=(.+)", item)
        name, spec = (m.group(1), m.group(2)) if m else (f"cam{i}", item)
        cams.append({"name": name, "source": int(spec) if spec.isdigit() else spec})
    return cams


def with_sources(cfg: Config, items: list[str], source: str) -> Config:
    """The config with its cameras replaced by the ``--source`` ones, validated like the file."""
    data = cfg.model_dump(mode="python")
    data["app"]["cameras"] = source_cameras(items)
    return parse_config(data, source)


def access_token(cfg: Config) -> str | None:
    token = os.environ.get("FACEMASK_TOKEN") or cfg.app.token
    if token is not None and len(token) < 8:
        raise ConfigError("FACEMASK_TOKEN: an access token needs at least 8 characters")
    return token


@dataclass
class Server:
    """Everything that runs: camera processes, storage, the WSGI app and the waitress server."""

    cfg: Config
    workers: list[CameraProcess]
    store: Store
    server: object  # waitress server
    streams: Streams
    _closed: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        host = self.cfg.app.host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.server.effective_port}/"  # type: ignore[attr-defined]

    def run(self) -> None:
        """Serve until SIGINT / SIGTERM, then stop the cameras and store their final counters."""
        for w in self.workers:
            w.start()
        threading.Thread(target=self._sample, name="facemask-samples", daemon=True).start()
        try:
            self.server.run()  # type: ignore[attr-defined]  # returns on SystemExit / KeyboardInterrupt
        finally:
            self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self.streams.stop()
        self.server.close()  # type: ignore[attr-defined]
        stopping = [threading.Thread(target=w.stop) for w in self.workers]  # all at once: a stop may wait
        for t in stopping:
            t.start()
        for t in stopping:
            t.join()
        self.store.close()

    def _sample(self) -> None:
        """Every ``app.sample_interval_s``, each camera's totals go to the store (the history chart,
        and where the totals resume after a restart)."""
        while not self._stop.wait(self.cfg.app.sample_interval_s):
            for w in self.workers:
                if w.tracking:
                    self.store.add_sample(w.name, w.totals())


def build_server(cfg: Config) -> Server:
    """Check the config, open the database, build one pipeline per camera (a missing model stops
    here with one line) and bind the port. Nothing runs until :meth:`Server.run`."""
    from waitress import create_server

    if not cfg.app.cameras:
        raise ConfigError("no camera: list app.cameras in the config or pass --source")
    token = access_token(cfg)
    store = Store(cfg.app.db_path, buffer_max=cfg.app.store_buffer)
    # The camera processes build their own pipelines; one here first, so that a missing or
    # broken model stops the app with one line instead of every camera failing on its own.
    try:
        FramePipeline(cfg)
    except BaseException:
        store.close()
        raise
    store.prune(cfg.app.retention_days)
    workers: list[CameraProcess] = []
    metrics = Metrics(workers, store)
    for cam in cfg.app.cameras:
        workers.append(CameraProcess(cam, cfg, store, on_timings=metrics.observe, cameras=len(cfg.app.cameras)))
    app = create_app(cfg, workers, store, metrics, token=token)
    try:
        server = create_server(app, host=cfg.app.host, port=cfg.app.port, threads=cfg.app.threads, ident="facemask",
                               outbuf_high_watermark=OUTBUF_HIGH_WATERMARK, clear_untrusted_proxy_headers=True)
    except OSError as exc:
        store.close()
        raise ConfigError(f"cannot listen on {cfg.app.host}:{cfg.app.port}: {exc.strerror}") from None
    return Server(cfg, workers, store, server, app.extensions["facemask.streams"])


def with_address(cfg: Config, host: str | None, port: int | None) -> Config:
    """The config with ``--host`` / ``--port`` applied, validated like the file."""
    if host is None and port is None:
        return cfg
    data = cfg.model_dump(mode="python")
    if host is not None:
        data["app"]["host"] = host
    if port is not None:
        data["app"]["port"] = port
    return parse_config(data, "--host/--port")


def serve(cfg: Config, args: argparse.Namespace) -> int:
    if args.source:
        cfg = with_sources(cfg, args.source, "--source")
    cfg = with_address(cfg, args.host, args.port)
    server = build_server(cfg)

    def on_signal(signum, frame) -> None:
        server.streams.stop()  # end the video responses while the server can still send
        raise SystemExit(0)  # waitress's loop returns on it; Server.run then stops the cameras

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    names = ", ".join(c.name for c in cfg.app.cameras)
    print(f"facemask app: serving {names} on {server.url} (database {cfg.app.db_path})", flush=True)
    server.run()
    print("facemask app: stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="inference_main_app.py",
                                description="Web GUI: live annotated video, people counts and % masked per camera.")
    p.add_argument("--config", default="configs/config-x86.json", help="JSON config (default: %(default)s)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value, e.g. --set app.port=8080 (repeatable)")
    p.add_argument("--host", help="address to listen on (default: app.host, 127.0.0.1; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, help="port to listen on (default: app.port, 5000; 0: any free port)")
    p.add_argument("--source", action="append", default=[], metavar="[NAME=]SOURCE",
                   help="video file, rtsp:// or http:// URL, or webcam index; replaces app.cameras (repeatable)")
    return run_command(serve, argv, p)  # a FacemaskError becomes one line on stderr and exit code 2
