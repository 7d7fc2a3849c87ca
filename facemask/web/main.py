"""``inference_main_app.py`` / ``python -m facemask app``: the web GUI on live sources, served by waitress."""

from __future__ import annotations

import argparse
import os
import re
import signal
from dataclasses import dataclass

from ..cli import run_command
from ..config import Config, parse_config
from ..errors import ConfigError
from ..pipeline import FramePipeline
from ..video import VideoSession
from .app import Streams, create_app
from .camera import CameraWorker
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
    """Everything that runs: workers, storage, the WSGI app and the waitress server."""

    cfg: Config
    workers: list[CameraWorker]
    store: Store
    server: object  # waitress server
    streams: Streams
    _closed: bool = False

    @property
    def url(self) -> str:
        host = self.cfg.app.host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.server.effective_port}/"  # type: ignore[attr-defined]

    def run(self) -> None:
        """Serve until SIGINT / SIGTERM, then stop the cameras and store their final counters."""
        for w in self.workers:
            w.start()
        try:
            self.server.run()  # type: ignore[attr-defined]  # returns on SystemExit / KeyboardInterrupt
        finally:
            self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.streams.stop()
        self.server.close()  # type: ignore[attr-defined]
        for w in self.workers:
            w.stop()
        self.store.close()


def build_server(cfg: Config) -> Server:
    """Check the config, open the database, build one pipeline per camera (a missing model stops
    here with one line) and bind the port. Nothing runs until :meth:`Server.run`."""
    from waitress import create_server

    if not cfg.app.cameras:
        raise ConfigError("no camera: list app.cameras in the config or pass --source")
    token = access_token(cfg)
    # One pipeline per camera: detectors and interpreters are not shared across threads.
    pipelines = [FramePipeline(cfg) for _ in cfg.app.cameras]
    store = Store(cfg.app.db_path)
    store.prune(cfg.app.retention_days)
    workers: list[CameraWorker] = []
    metrics = Metrics(workers)
    for cam, pipeline in zip(cfg.app.cameras, pipelines):
        workers.append(CameraWorker(cam, cfg, store, lambda fps, p=pipeline: VideoSession(cfg, fps, pipeline=p),
                                    on_result=metrics.observe))
    app = create_app(cfg, workers, store, metrics, token=token)
    try:
        server = create_server(app, host=cfg.app.host, port=cfg.app.port, threads=cfg.app.threads, ident="facemask",
                               outbuf_high_watermark=OUTBUF_HIGH_WATERMARK, clear_untrusted_proxy_headers=True)
    except OSError as exc:
        store.close()
        raise ConfigError(f"cannot listen on {cfg.app.host}:{cfg.app.port}: {exc.strerror}") from None
    return Server(cfg, workers, store, server, app.extensions["facemask.streams"])


def serve(cfg: Config, args: argparse.Namespace) -> int:
    if args.source:
        cfg = with_sources(cfg, args.source, "--source")
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
    p.add_argument("--source", action="append", default=[], metavar="[NAME=]SOURCE",
                   help="video file, rtsp:// or http:// URL, or webcam index; replaces app.cameras (repeatable)")
    return run_command(serve, argv, p)  # a FacemaskError becomes one line on stderr and exit code 2
