"""The operator routes of the web application, as one blueprint: alerts (the page's banner),
snapshots of decided people, the people table as CSV, line crossings, the per-camera page and
the OpenAPI document; plus the Host-header check and the warning about an open, token-less bind.

``register(app, cfg, store, workers, token)`` adds all of it to the app of :func:`facemask.web.app.create_app`.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import logging
import time
from pathlib import Path
from collections.abc import Iterator, Sequence

from flask import Blueprint, Flask, Response, abort, jsonify, render_template, request

from ..config import Config
from ..io.sinks.records import Records
from ..io.sinks.snapshots import SnapshotSink
from ..stats import CSV_HEADER
from .camera import CameraHandle
from .openapi import openapi_document
from .storage import Store

log = logging.getLogger("facemask.web")

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
PEOPLE_COLUMNS = ["camera", "person", "ended_at", *CSV_HEADER]


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_of(header: str) -> str:
    """The host name of a Host header, without the port ('[::1]:5000' -> '::1')."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def host_allowed(host: str, cfg: Config) -> bool:
    """IP literals (a browser can only reach them by address, so no DNS rebinding), loopback
    names, app.host and web.allowed_hosts pass; "*" in web.allowed_hosts lets any through."""
    allowed = {h.lower() for h in cfg.web.allowed_hosts}
    if "*" in allowed or host in allowed or host == cfg.app.host.lower() or host in LOOPBACK_NAMES:
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def exposure_warning(cfg: Config, token: str | None) -> str | None:
    """The warning for a bind beyond loopback without an access token, or None."""
    if token is None and not is_loopback(cfg.app.host):
        return (f"app.host is {cfg.app.host}: the page, the video and the API are open to the network without an "
                "access token; set app.token or FACEMASK_TOKEN")
    return None


def _int(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return min(max(int(raw), lo), hi)
    except ValueError:
        abort(400, description=f"{name} must be an integer")


def register(app: Flask, cfg: Config, store: Store, workers: Sequence[CameraHandle], token: str | None = None) -> Blueprint:
    bp = Blueprint("facemask_extra", __name__)
    names = [w.name for w in workers]
    records = Records(cfg.app.db_path)
    snapshot_root = Path(cfg.snapshots.dir).resolve()
    warning = exposure_warning(cfg, token)
    if warning:
        log.warning("%s", warning)

    @bp.before_app_request
    def _check_host():
        host = host_of(request.headers.get("Host", ""))
        if not host_allowed(host, cfg):
            return Response(f"host {host!r} is not served here (add it to web.allowed_hosts)\n", 421,
                            {"Content-Type": "text/plain; charset=utf-8"})
        return None

    @bp.get("/camera/<name>")
    def camera_page(name: str):
        if name not in names:
            abort(404, description=f"no camera named {name!r}")
        from .app import load_static

        return render_template("index.html", cameras=[name], assets=load_static(), single=name)

    @bp.get("/api/openapi.json")
    def openapi():
        return jsonify(openapi_document())

    @bp.get("/api/alerts")
    def alerts():
        return jsonify(alerts=records.alerts(_int("since", 0, 0, 2**62), _int("limit", 50, 1, 500)))

    @bp.get("/api/line")
    def line():
        return jsonify(records.line_counts())

    @bp.get("/api/snapshots")
    def snapshots():
        rows = records.snapshots(_int("limit", 100, 1, 1000), request.args.get("camera")) if cfg.privacy.store_images else []
        return jsonify(snapshots=[{k: r[k] for k in ("person", "camera", "ts", "decision")} | {
            "url": SnapshotSink.url(r["person"])} for r in rows])

    @bp.get("/api/snapshots/<path:person>.jpg")
    def snapshot(person: str):
        row = records.snapshot(person) if cfg.privacy.store_images else None
        if row is None:
            abort(404, description="no snapshot of this person")
        path = Path(row["path"]).resolve()
        if not path.is_relative_to(snapshot_root) or not path.is_file():
            abort(404, description="no snapshot of this person")
        resp = Response(path.read_bytes(), mimetype="image/jpeg")
        resp.headers["Cache-Control"] = "private, max-age=3600"
        return resp

    @bp.get("/api/people.csv")
    def people_csv():
        camera = request.args.get("camera") or None
        since_ts = time.time() - _int("hours", 24, 1, 24 * 366) * 3600.0 if request.args.get("hours") else 0.0

        def rows() -> Iterator[str]:
            buf = io.StringIO()
            writer = csv.writer(buf)
            writer.writerow(PEOPLE_COLUMNS)
            for n, (cam, ts, data) in enumerate(records.ended_people(camera, since_ts), 1):
                writer.writerow([cam, data.get("person"), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))]
                                + [data.get(k) for k in CSV_HEADER])
                if n % 500 == 0:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
            yield buf.getvalue()

        return Response(rows(), mimetype="text/csv", headers={
            "Content-Disposition": "attachment; filename=facemask-people.csv"})

    app.register_blueprint(bp)
    return bp
