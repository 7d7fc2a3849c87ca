"""The web application as an operator runs it: ``inference_main_app.py`` on a real video, seen
through headless Chromium and through its HTTP API, with an access token, a camera whose source
cannot be opened, and a restart that must keep the totals."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import time
import urllib.request

import cv2
import numpy as np
import pytest

from tests.browser import APP_WAIT_S, PAGE_WAIT_MS, AppProcess, chromium_missing, chromium_page
from tests.conftest import REPO, VIDEOS

TOKEN = "test-token-1234"
ROUTES = ["/", "/static/app.js", "/static/style.css", "/video/door.mjpg", "/snapshot/door.jpg", "/api/stats",
          "/api/events", "/api/history", "/api/config", "/healthz", "/metrics"]


def app_overrides(tmp_dir) -> list[str]:
    cameras = [
        # 5 processed frames per second and no upscaling keep the test light on a 2-core machine.
        {"name": "door", "source": str(VIDEOS / "mask_putting_on_4people_diazoniclabs.mp4"), "max_fps": 5.0},
        {"name": "lobby", "source": str(tmp_dir / "no-such-camera.mp4")},
    ]
    return [f"app.cameras={json.dumps(cameras)}", f"app.db_path={tmp_dir / 'app.sqlite'}",
            "app.sample_interval_s=0.5", "detector.upscale=1.0"]


@pytest.fixture(scope="module")
def live_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("webapp")
    app = AppProcess(app_overrides(tmp), env={"FACEMASK_TOKEN": TOKEN})
    app.tmp = tmp
    try:
        # Wait until the tracker has counted someone: every test below can rely on it.
        app.wait_for(lambda s: s["cameras"][0]["counters"]["people"] > 0, "/api/stats", TOKEN, timeout=APP_WAIT_S)
        yield app
    finally:
        app.stop()


def test_binds_loopback_by_default(live_app):
    assert live_app.url.startswith("http://127.0.0.1:")


@pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))
def test_page_shows_live_video_counters_and_errors(live_app, tmp_path):
    requests: list[str] = []
    with chromium_page(tmp_path / "profile") as page:
        page.on("request", lambda r: requests.append(r.url))
        page.goto(live_app.url + "?token=" + TOKEN)
        assert page.url == live_app.url  # the token went into a cookie, out of the address bar
        page.wait_for_function("Number(document.querySelector('#total-people').textContent) > 0", timeout=PAGE_WAIT_MS)
        door = '.camera[data-camera="door"]'
        page.wait_for_function(f"document.querySelector('{door} img').naturalWidth > 0", timeout=PAGE_WAIT_MS)
        assert page.inner_text(f"{door} .state") == "LIVE"
        assert int(page.inner_text(f'{door} [data-key="people"]')) > 0
        assert float(page.inner_text(f'{door} [data-key="process_fps"]')) > 0
        assert 0 <= int(page.inner_text(f'{door} [data-key="busy"]')) <= 100  # busy_pct, once stats came
        lobby = '.camera[data-camera="lobby"]'
        page.wait_for_function(f"document.querySelector('{lobby} .message').textContent.includes('no such file')")
        assert page.inner_text(f"{lobby} .state") == "ERROR"
        page.wait_for_selector("#chart text.axis")
        page.click("details summary")
        config_text = page.inner_text("#config")
        assert '"token": "***"' in config_text and TOKEN not in config_text
        page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    shot = cv2.imread(str(tmp_path / "page.png"))
    assert shot is not None and shot.shape[1] == 1440
    # Everything the page loaded came from the app itself (no CDN).
    assert requests and all(u.startswith(live_app.url) for u in requests), requests


def _read_parts(url: str, parts: int, during=None) -> list[bytes]:
    """The first ``parts`` JPEGs of an MJPEG response (``during()`` is called once, after the
    first, while the stream is still open)."""
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    out, buf = [], b""
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
        while len(out) < parts:
            buf += resp.read1(65536)
            while True:
                m = re.search(rb"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: (\d+)\r\n\r\n", buf)
                if not m or len(buf) < m.end() + int(m.group(1)):
                    break
                out.append(buf[m.end():m.end() + int(m.group(1))])
                buf = buf[m.end() + int(m.group(1)):]
                if during is not None and len(out) == 1:
                    during()
    return out[:parts]


def test_mjpeg_stream_delivers_new_annotated_frames(live_app):
    # No stream open (a closed page's stream ends at the server's next write, within ~2 s)
    before = live_app.wait_for(lambda s: s["cameras"][0]["viewers"] == 0, "/api/stats", TOKEN, timeout=15)["cameras"][0]
    seen: list[int] = []  # viewers while the stream is open: the camera publishes every picture then
    parts = _read_parts(live_app.url + "video/door.mjpg", 4,
                        during=lambda: seen.append(live_app.json("/api/stats", TOKEN)["cameras"][0]["viewers"]))
    assert seen == [1]
    images = [cv2.imdecode(np.frombuffer(p, np.uint8), cv2.IMREAD_COLOR) for p in parts]
    assert all(im is not None and im.shape == (506, 960, 3) for im in images)
    assert len({p for p in parts}) >= 3  # new pictures, not one picture repeated
    after = live_app.wait_for(lambda s: s["cameras"][0]["viewers"] == 0, "/api/stats", TOKEN, timeout=15)["cameras"][0]
    assert after["frames_streamed"] > before["frames_streamed"]


def test_api_stats_events_history_health_metrics(live_app):
    stats = live_app.json("/api/stats", TOKEN)
    door, lobby = stats["cameras"]
    assert door["name"] == "door" and door["state"] == "running" and door["tracking"] is True
    assert door["counters"]["people"] > 0 and door["capture_fps"] > 0 and door["latency_ms"]["detect"] > 0
    assert stats["totals"]["people"] == door["counters"]["people"]
    assert lobby["state"] == "error" and "no such file" in lobby["message"] and lobby["frames_processed"] == 0

    events = live_app.json("/api/events?since=0", TOKEN)["events"]
    assert events and all(e["camera"] == "door" for e in events)
    assert "track_started" in {e["kind"] for e in events}
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)
    newer = live_app.json(f"/api/events?since={ids[-1]}", TOKEN)["events"]
    assert all(e["id"] > ids[-1] for e in newer)
    status, _, body = live_app.get("/api/events?since=abc", TOKEN)
    assert status == 400 and b"since" in body

    history = live_app.json("/api/history", TOKEN)["cameras"]
    assert history["door"] and history["door"][-1][1] > 0

    health = live_app.json("/healthz", TOKEN)
    assert health == {"status": "degraded", "cameras": {"door": "running", "lobby": "error"}, "store": "ok"}

    status, headers, body = live_app.get("/metrics", TOKEN)
    text = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert 'facemask_camera_up{camera="door"} 1.0' in text and 'facemask_camera_up{camera="lobby"} 0.0' in text
    for name in ("facemask_capture_fps", "facemask_process_fps", 'facemask_people_total{camera="door",decision="masked"}'):
        assert name in text
    busy = re.search(r'facemask_busy_ratio\{camera="door"\} (\S+)', text)  # a share of the time, when running
    assert busy and 0.0 <= float(busy.group(1)) <= 1.0
    detect = re.search(r'facemask_stage_seconds_count\{camera="door",stage="detect"\} (\S+)', text)
    classify = re.search(r'facemask_stage_seconds_count\{camera="door",stage="classify"\} (\S+)', text)
    assert detect and float(detect.group(1)) > 0 and classify and float(classify.group(1)) > 0


def test_every_route_needs_the_token(live_app):
    for route in ROUTES:
        assert live_app.get(route)[0] == 401, route
        assert live_app.get(route, token="wrong-token-123")[0] == 401, route
        if route.endswith(".mjpg"):
            continue  # a stream never ends: read in the test above
        status, headers, _ = live_app.get(route, token=TOKEN)
        assert status == 200, route
        assert "default-src 'self'" in headers["Content-Security-Policy"]
    # ?token= works for an <img> URL and leaves a cookie that works alone.
    status, headers, body = live_app.get(f"/snapshot/door.jpg?token={TOKEN}")
    assert status == 200 and body[:2] == b"\xff\xd8"
    cookie = headers["Set-Cookie"].split(";")[0]
    assert cookie == f"facemask_token={TOKEN}" and "HttpOnly" in headers["Set-Cookie"]
    req = urllib.request.Request(live_app.url + "api/stats", headers={"Cookie": cookie})
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 200
    # Requests name cameras and assets; they never reach the filesystem.
    for route in ["/video/nope.mjpg", "/static/..%2f..%2fconfig.py", "/static/index.html", "/snapshot/..%2fapp.jpg"]:
        assert live_app.get(route, token=TOKEN)[0] == 404, route


def test_restart_keeps_the_totals_and_history(live_app, tmp_path):
    before = live_app.json("/api/stats", TOKEN)["cameras"][0]["counters"]
    assert live_app.stop() == 0
    out = "\n".join(live_app.lines)
    assert "facemask app: stopped" in out and "Traceback" not in out
    with sqlite3.connect(live_app.tmp / "app.sqlite") as db:
        stored = db.execute("SELECT people, masked, unmasked FROM samples WHERE camera = 'door' ORDER BY ts DESC LIMIT 1").fetchone()
    assert stored[0] >= before["people"] > 0

    restarted = time.time()
    again = AppProcess(app_overrides(live_app.tmp), env={"FACEMASK_TOKEN": TOKEN})
    try:
        after = again.json("/api/stats", TOKEN)["cameras"][0]["counters"]
        assert after["people"] >= stored[0] and after["masked"] >= stored[1] and after["unmasked"] >= stored[2]
        assert again.json("/api/history", TOKEN)["cameras"]["door"][0][0] < restarted
        assert again.json("/api/events", TOKEN)["events"]
        if chromium_missing() is None:  # the page shows the history too
            with chromium_page(tmp_path / "profile") as page:
                page.goto(again.url + "?token=" + TOKEN)
                page.wait_for_function(f"Number(document.querySelector('#total-people').textContent) >= {stored[0]}",
                                       timeout=PAGE_WAIT_MS)
                page.wait_for_selector("#chart rect.bar", timeout=PAGE_WAIT_MS)  # % masked per interval
                page.select_option("#chart-mode", "cumulative")
                page.wait_for_selector("#chart path.line")
    finally:
        assert again.stop() == 0


def test_bad_setups_stop_with_one_line(tmp_path, capsys):
    from facemask.web.main import main

    cases = [
        (["--set", "app.cameras=[]"], "no camera"),
        (["--set", 'app.port="8080"'], "app.port"),
        (["--source", "door=a.mp4", "--source", "door=b.mp4"], "camera names must be unique"),
        (["--set", f"app.db_path={tmp_path}"], "app.db_path"),  # a folder, not a database file
    ]
    for args, message in cases:
        assert main(["--config", str(REPO / "configs" / "config-x86.json"), *args]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))
def test_dropped_stream_is_reopened(tmp_path):
    """A camera reading another app's MJPEG stream over HTTP: the source goes away, the camera
    says it is reconnecting, the source comes back on the same port, the camera runs again."""
    port = _free_port()
    source = [f"app.port={port}", f"app.db_path={tmp_path / 'source.sqlite'}", "detector.upscale=1.0",
              'app.cameras=' + json.dumps([{"name": "street", "source": str(VIDEOS / "vtest_480x360.avi"), "max_fps": 5.0}])]
    upstream = AppProcess(source)
    relay = AppProcess([f"app.db_path={tmp_path / 'relay.sqlite'}", "app.reconnect_max_s=1", "detector.upscale=1.0",
                        'app.cameras=' + json.dumps([{"name": "relay", "source": f"{upstream.url}video/street.mjpg", "max_fps": 2.0}])])
    try:
        running = lambda s: s["cameras"][0]["state"] == "running" and s["cameras"][0]["frames_processed"] > 0  # noqa: E731
        relay.wait_for(running, "/api/stats", timeout=APP_WAIT_S)
        assert upstream.stop() == 0
        down = relay.wait_for(lambda s: s["cameras"][0]["state"] == "reconnecting", "/api/stats", timeout=APP_WAIT_S)
        assert "reconnecting in" in down["cameras"][0]["message"] or "retrying in" in down["cameras"][0]["message"]
        with chromium_page(tmp_path / "profile") as page:
            page.goto(relay.url)
            page.wait_for_function("document.querySelector('.camera .state').textContent === 'reconnecting'")
            page.screenshot(path=str(tmp_path / "reconnecting.png"))
        frames_before = down["cameras"][0]["frames_processed"]
        upstream = AppProcess(source)
        relay.wait_for(lambda s: running(s) and s["cameras"][0]["reconnects"] >= 1
                       and s["cameras"][0]["frames_processed"] > frames_before, "/api/stats", timeout=APP_WAIT_S)
    finally:
        upstream.stop()
        assert relay.stop() == 0
