"""The Flask application: the page, the MJPEG streams, the JSON API, health and metrics.

Security: when an access token is set, every route needs it, as ``Authorization: Bearer TOKEN``,
``X-Facemask-Token: TOKEN``, ``?token=TOKEN`` (for a first visit or an ``<img>`` URL) or the
cookie that a valid ``?token=`` sets. Static files are read into memory at start and looked up
by name, so nothing in a request ever becomes a filesystem path.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, jsonify, redirect, render_template, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..config import Config
from .camera import RUNNING, CameraHandle, pct_masked, redact_source
from .metrics import Metrics
from .storage import COUNTERS, OK, Store, StoreUnavailable

HERE = Path(__file__).resolve().parent
COOKIE = "facemask_token"
BOUNDARY = "frame"
HISTORY_COLUMNS = ["ts", "people", "masked", "unmasked", "mask_incorrect"]  # each /api/history row
MIME = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def load_static() -> dict[str, tuple[bytes, str, str]]:
    """name -> (content, mime type, etag) of every file in static/, read once."""
    assets = {}
    for path in sorted((HERE / "static").iterdir()):
        if path.is_file() and path.suffix in MIME:
            data = path.read_bytes()
            assets[path.name] = (data, MIME[path.suffix], hashlib.sha256(data).hexdigest()[:16])
    return assets


def public_config(cfg: Config, token: str | None) -> dict[str, Any]:
    """The active config for the page: the token in effect and stream credentials are hidden."""
    data = cfg.model_dump(mode="json")
    app = data["app"]
    app["token"] = "***" if token else None
    for cam in app["cameras"]:
        cam["source"] = redact_source(cam["source"]) if isinstance(cam["source"], str) else cam["source"]
    return data


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, description=f"{name} must be an integer")
    return min(max(value, lo), hi)


class Streams:
    """The open MJPEG responses: a cap on their number (each holds a server thread), and a way
    to end them all before the server closes its sockets."""

    def __init__(self, limit: int):
        self.limit = limit
        self.stopping = threading.Event()
        self._open = 0
        self._cond = threading.Condition()

    def acquire(self) -> bool:
        with self._cond:
            if self._open >= self.limit or self.stopping.is_set():
                return False
            self._open += 1
            return True

    def release(self) -> None:
        with self._cond:
            self._open -= 1
            self._cond.notify_all()

    def stop(self, timeout: float = 3.0) -> None:
        """Ask every stream to end and wait (a little) until they have."""
        self.stopping.set()
        with self._cond:
            self._cond.wait_for(lambda: self._open == 0, timeout)


class _StreamBody:
    """An MJPEG response body that gives its slot back once, however the response ends."""

    def __init__(self, frames: Iterator[bytes], streams: Streams):
        self._frames, self._streams, self._done = frames, streams, False

    def __iter__(self) -> Iterator[bytes]:
        return self._frames

    def close(self) -> None:
        self._frames.close()  # type: ignore[attr-defined]
        if not self._done:
            self._done = True
            self._streams.release()


def create_app(cfg: Config, workers: Sequence[CameraHandle], store: Store, metrics: Metrics,
               token: str | None = None) -> Flask:
    """The WSGI app; its open video streams are ``app.extensions["facemask.streams"]``.

    ``workers``: the cameras (:class:`facemask.web.camera.CameraHandle`); the list may grow
    while the app runs (a broker's cameras appear as their workers report)."""
    app = Flask(__name__, static_folder=None, template_folder=str(HERE / "templates"))
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider's
    by_name = {w.name: w for w in workers}
    assets = load_static()
    config_json = public_config(cfg, token)
    # Each open stream holds a server thread; keep a few threads for the page and the API.
    streams = app.extensions["facemask.streams"] = Streams(max(cfg.app.threads - 4, 1))
    expected = token.encode() if token else None

    def matches(given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), expected)  # type: ignore[arg-type]

    def authorized() -> bool:
        header = request.headers.get("Authorization", "")
        return any(matches(v) for v in (
            header[7:] if header.startswith("Bearer ") else None, request.headers.get("X-Facemask-Token"),
            request.args.get("token"), request.cookies.get(COOKIE),
        ))

    @app.before_request
    def _check_token():
        if expected is None:
            return None
        if not authorized():
            return Response("access token required: open /?token=TOKEN once, or send 'Authorization: Bearer TOKEN'\n",
                            401, {"WWW-Authenticate": "Bearer", "Content-Type": "text/plain; charset=utf-8"})
        if request.args.get("token") and request.path == "/":
            return redirect("/", 303)  # the cookie set below keeps the token out of the address bar
        return None

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.update(SECURITY_HEADERS)
        resp.headers.setdefault("Cache-Control", "no-store")
        if expected is not None and matches(request.args.get("token")):  # first visit with ?token=
            resp.set_cookie(COOKIE, request.args["token"], httponly=True, samesite="Strict", path="/")
        return resp

    @app.get("/")
    def index():
        return render_template("index.html", cameras=[w.name for w in workers], assets=assets)

    @app.get("/static/<name>")
    def static_file(name: str):
        asset = assets.get(name)
        if asset is None:
            abort(404)
        data, mime, etag = asset
        resp = Response(data, mimetype=mime)
        resp.set_etag(etag)
        resp.headers["Cache-Control"] = "no-cache"
        return resp.make_conditional(request)

    def worker_or_404(name: str) -> CameraHandle:
        worker = by_name.get(name) or next((w for w in workers if w.name == name), None)  # cameras added later
        if worker is None:
            abort(404, description=f"no camera named {name!r}")
        return worker

    @app.get("/video/<name>.mjpg")
    def video(name: str):
        worker = worker_or_404(name)
        if not streams.acquire():
            abort(503, description="too many open video streams")

        def frames() -> Iterator[bytes]:
            seq, sent = 0, 0.0
            # Each part ends with the next boundary: a browser shows a part when the boundary after
            # it arrives, so sending the boundary first would show every frame one frame late.
            yield f"--{BOUNDARY}\r\n".encode()
            with worker.watching():  # the camera publishes every picture while a stream is open
                while not streams.stopping.is_set():
                    got = worker.jpeg.newer(seq, timeout=0.5)
                    if got is None and time.monotonic() - sent < 2.0:
                        continue
                    # Nothing new for 2 s: the current picture again, which also finds out whether
                    # the viewer is still there.
                    seq, jpeg = got if got is not None else worker.jpeg.peek()
                    if jpeg is None:  # no picture yet
                        continue
                    sent = time.monotonic()
                    yield (f"Content-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                           + jpeg + f"\r\n--{BOUNDARY}\r\n".encode())

        return Response(_StreamBody(frames(), streams), mimetype=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                        headers={"X-Accel-Buffering": "no"}, direct_passthrough=True)

    @app.get("/snapshot/<name>.jpg")
    def snapshot(name: str):
        _, jpeg = worker_or_404(name).jpeg.peek()
        return Response(jpeg, mimetype="image/jpeg")

    @app.get("/api/stats")
    def stats():
        cams = [w.info() for w in workers]
        totals = {k: sum(c["counters"][k] for c in cams) for k in COUNTERS}
        return jsonify(time=time.time(), tracking=any(c["tracking"] for c in cams),
                       totals={**totals, "pct_masked": pct_masked(totals)}, store=store.info(), cameras=cams)

    @app.get("/api/events")
    def events():
        since = _int_arg("since", 0, 0, 2**62)
        limit = _int_arg("limit", 100, 1, 1000)
        try:
            return jsonify(events=store.events(since, limit))
        except StoreUnavailable as exc:
            abort(503, description=str(exc))

    @app.get("/api/history")
    def history():
        hours = _int_arg("hours", 24, 1, 24 * 366)
        try:
            return jsonify(columns=HISTORY_COLUMNS, cameras=store.history(time.time() - hours * 3600.0))
        except StoreUnavailable as exc:
            abort(503, description=str(exc))

    @app.get("/api/config")
    def config():
        return jsonify(config_json)

    @app.get("/healthz")
    def healthz():
        states = {w.name: w.state for w in workers}
        db = store.info()["state"]
        ok = all(s == RUNNING for s in states.values()) and db == OK
        return jsonify(status="ok" if ok else "degraded", cameras=states, store=db)

    @app.get("/metrics")
    def prometheus():
        return Response(generate_latest(metrics.registry), content_type=CONTENT_TYPE_LATEST)

    @app.errorhandler(400)
    @app.errorhandler(404)
    @app.errorhandler(503)
    def _error(exc):
        return Response(json.dumps({"error": exc.description}) + "\n", exc.code, mimetype="application/json")

    from .api_extra import register  # alerts, snapshots, people.csv, per-camera pages, OpenAPI, Host check

    register(app, cfg, store, workers, token)
    return app
