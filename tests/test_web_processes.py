"""The web application's camera processes, with real processes and real sources: an RTSP
server (GStreamer's gst-rtsp-server) that goes away and comes back, a camera process killed with
SIGKILL, a database locked by another process, credentials in a stream URL, and a video file in
the app that must count what the batch command counts."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.browser import REPO, AppProcess
from tests.conftest import FOUR_PEOPLE, VIDEOS, run_script

TOWN_CENTRE = VIDEOS / "towncentre_clip_1080p.mp4"
STREET = VIDEOS / "vtest_480x360.avi"
SYSTEM_PYTHON = "/usr/bin/python3"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rtsp_server_missing() -> str | None:
    code = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", code], capture_output=True, text=True, check=False) \
        if Path(SYSTEM_PYTHON).exists() else None
    if probe is None or probe.returncode != 0:
        return "gst-rtsp-server is missing: apt-get install python3-gi gir1.2-gst-rtsp-server-1.0 (make services)"
    return None


class RtspServer:
    """tests/rtsp_server.py in its own process, serving a clip at rtsp://127.0.0.1:PORT/clip."""

    def __init__(self, port: int, clip: Path = FOUR_PEOPLE):
        self.url = f"rtsp://127.0.0.1:{port}/clip"
        self.proc = subprocess.Popen([SYSTEM_PYTHON, str(REPO / "tests" / "rtsp_server.py"), "--port", str(port),
                                      str(clip)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", line + self.proc.stdout.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def cameras(*items: dict) -> str:
    return "app.cameras=" + json.dumps(list(items))


def camera(stats: dict, name: str) -> dict:
    return next(c for c in stats["cameras"] if c["name"] == name)


@pytest.mark.skipif(rtsp_server_missing() is not None, reason=str(rtsp_server_missing()))
def test_rtsp_camera_recovers_from_a_server_outage_and_the_other_camera_never_stalls(tmp_path):
    port = _free_port()
    server = RtspServer(port)
    # A silent camera: it accepts the connection and never answers (opening it hangs until the timeout).
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    app = AppProcess([cameras({"name": "street", "source": server.url, "max_fps": 3.0, "open_timeout_s": 3.0},
                              {"name": "door", "source": str(STREET), "max_fps": 3.0},
                              {"name": "silent", "source": f"rtsp://127.0.0.1:{silent.getsockname()[1]}/x",
                               "open_timeout_s": 5.0}),
                      f"app.db_path={tmp_path / 'app.sqlite'}", "app.reconnect_max_s=2", "detector.upscale=1.0"])
    try:
        up = lambda s: all(camera(s, n)["state"] == "running" and camera(s, n)["frames_processed"] > 0
                           for n in ("street", "door"))
        before = app.wait_for(up, "/api/stats", timeout=60)
        street_frames = camera(before, "street")["frames_processed"]
        server.stop()
        # The stream is gone: the camera says so, and the file camera goes on meanwhile.
        down = app.wait_for(lambda s: camera(s, "street")["state"] in ("reconnecting", "error"), "/api/stats", timeout=30)
        assert "reconnecting in" in camera(down, "street")["message"] or "retrying in" in camera(down, "street")["message"]
        door_seen = [camera(down, "door")]
        outage_end = time.monotonic() + 6.0  # the server stays away for 6 s (twice the open timeout)
        while time.monotonic() < outage_end:
            time.sleep(1.5)
            stats = app.json("/api/stats")
            door_seen.append(camera(stats, "door"))
            assert camera(stats, "street")["state"] in ("reconnecting", "error"), camera(stats, "street")
        assert all(d["state"] == "running" for d in door_seen), door_seen
        processed = [d["frames_processed"] for d in door_seen]
        assert processed == sorted(processed) and len(set(processed)) == len(processed), processed  # never stalled
        assert app.json("/healthz")["status"] == "degraded"
        server = RtspServer(port)
        back = app.wait_for(lambda s: camera(s, "street")["state"] == "running"
                            and camera(s, "street")["reconnects"] >= 1
                            and camera(s, "street")["frames_processed"] > street_frames, "/api/stats", timeout=60)
        assert camera(back, "street")["restarts"] == 0 and camera(back, "door")["restarts"] == 0
        assert camera(back, "door")["reconnects"] == 0  # a file is never reopened
        assert camera(back, "silent")["state"] in ("starting", "error") and camera(back, "silent")["frames_processed"] == 0
    finally:
        server.stop()
        silent.close()
        assert app.stop() == 0


def test_killed_camera_process_is_restarted_and_its_totals_continue(tmp_path):
    app = AppProcess([cameras({"name": "door", "source": str(FOUR_PEOPLE), "max_fps": 5.0},
                              {"name": "street", "source": str(STREET), "max_fps": 3.0}),
                      f"app.db_path={tmp_path / 'app.sqlite'}", "app.reconnect_max_s=1", "detector.upscale=1.0"])
    try:
        stats = app.wait_for(lambda s: camera(s, "door")["counters"]["people"] > 0
                             and camera(s, "street")["frames_processed"] > 0, "/api/stats", timeout=90)
        door, street = camera(stats, "door"), camera(stats, "street")
        os.kill(door["pid"], signal.SIGKILL)
        health = app.wait_for(lambda h: h["cameras"]["door"] != "running", "/healthz", timeout=30, every=0.2)
        assert health["status"] == "degraded" and health["cameras"]["street"] == "running"
        again = app.wait_for(lambda s: camera(s, "door")["state"] == "running" and camera(s, "door")["pid"] not in
                             (None, door["pid"]) and camera(s, "door")["frames_processed"] > door["frames_processed"],
                             "/api/stats", timeout=90)
        d2, s2 = camera(again, "door"), camera(again, "street")
        assert d2["restarts"] == 1 and "SIGKILL" not in d2["message"]
        for key in ("people", "masked", "unmasked"):  # the killed process's people stay counted
            assert d2["counters"][key] >= door["counters"][key], (door["counters"], d2["counters"])
        assert s2["pid"] == street["pid"] and s2["restarts"] == 0 and s2["frames_processed"] > street["frames_processed"]
        metrics = app.get("/metrics")[2].decode()
        assert 'facemask_camera_restarts_total{camera="door"} 1.0' in metrics
        assert 'facemask_camera_restarts_total{camera="street"} 0.0' in metrics
        assert any("camera process killed by SIGKILL" in line for line in app.lines), app.lines[-20:]
    finally:
        assert app.stop() == 0


def test_locked_database_loses_nothing_and_health_recovers(tmp_path):
    db_path = tmp_path / "app.sqlite"
    app = AppProcess([cameras({"name": "door", "source": str(FOUR_PEOPLE), "max_fps": 5.0}),
                      f"app.db_path={db_path}", "app.sample_interval_s=0.5", "detector.upscale=1.0"])
    locker = None
    try:
        app.wait_for(lambda s: s["cameras"][0]["events"] > 0 and s["store"]["written"] > 0, "/api/stats", timeout=90)
        locker = sqlite3.connect(db_path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # another process holds the database
        locked_at = time.monotonic()
        health = app.wait_for(lambda h: h["store"] == "degraded", "/healthz", timeout=30)
        assert health["status"] == "degraded" and health["cameras"]["door"] == "running"
        during = app.wait_for(lambda s: s["store"]["pending"] > 0, "/api/stats", timeout=30)
        assert "locked" in during["store"]["message"]
        time.sleep(max(5.0 - (time.monotonic() - locked_at), 0.0))  # hold it for 5 s, past the busy timeout
        counted = app.json("/api/stats")["cameras"][0]["counters"]
        locker.execute("ROLLBACK")
        locker.close()
        locker = None
        after = app.wait_for(lambda s: s["store"]["state"] == "ok" and s["store"]["pending"] == 0, "/api/stats",
                             timeout=30)
        assert app.json("/healthz") == {"status": "ok", "cameras": {"door": "running"}, "store": "ok"}
        assert after["store"]["dropped"] == 0 and after["store"]["failures"] > 0
        for key in ("people", "masked", "unmasked"):
            assert after["cameras"][0]["counters"][key] >= counted[key]
    finally:
        if locker is not None:
            locker.close()
        assert app.stop() == 0
    # Every event the camera sent is in the database once: per session run, ids 1..n, no gap.
    with sqlite3.connect(db_path) as db:
        ids = [r[0] for r in db.execute("SELECT event_id FROM events")]
        stored = db.execute("SELECT people, masked, unmasked FROM samples ORDER BY ts DESC LIMIT 1").fetchone()
    runs: dict[str, list[int]] = {}
    for event_id in ids:
        run, n = event_id.rsplit("-", 1)
        runs.setdefault(run, []).append(int(n))
    assert runs and all(sorted(ns) == list(range(1, len(ns) + 1)) for ns in runs.values()), runs
    assert stored[0] >= counted["people"] and stored[1] >= counted["masked"] and stored[2] >= counted["unmasked"]


def test_credentials_never_leave_the_app(tmp_path):
    """rtsp://user:p@ssw0rd@host: the password is in no API answer, no log line, no picture."""
    port = _free_port()  # nothing listens: the camera keeps retrying
    url = f"rtsp://user:p@ssw0rd@127.0.0.1:{port}/x"
    app = AppProcess([cameras({"name": "gate", "source": url, "open_timeout_s": 2.0}),
                      f"app.db_path={tmp_path / 'app.sqlite'}", "app.reconnect_max_s=1"])
    try:
        stats = app.wait_for(lambda s: "retrying in" in s["cameras"][0]["message"], "/api/stats", timeout=60)
        gate = stats["cameras"][0]
        assert gate["source"] == f"rtsp://***@127.0.0.1:{port}/x"
        assert f"rtsp://***@127.0.0.1:{port}/x" in gate["message"]
        for route in ("/api/stats", "/api/config", "/healthz", "/metrics", "/api/events"):
            body = app.get(route)[2].decode()
            assert "ssw0rd" not in body and "user:" not in body, route
        # The placeholder picture is drawn from the redacted message (and only from it).
        from facemask.web.camera import placeholder_jpeg

        for _ in range(40):
            stats = app.json("/api/stats")
            _, _, jpeg = app.get("/snapshot/gate.jpg")
            gate = stats["cameras"][0]
            if jpeg == placeholder_jpeg(f"gate: {gate['state']}", gate["message"]):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the snapshot is not the placeholder of the redacted message")
        assert jpeg != placeholder_jpeg(f"gate: {gate['state']}", gate["message"].replace("***", "user:p@ssw0rd"))
    finally:
        assert app.stop() == 0
    log = "\n".join(app.lines)
    assert "retrying in" in log and "ssw0rd" not in log and "user:p" not in log


def batch_counts(video: Path, tmp_path: Path, overrides: list[str]) -> dict:
    out = tmp_path / f"{video.stem}.mp4"
    args = ["--config", "configs/config-x86.json", "--input_video_path", video, "--output_video", out, "--no-progress"]
    for item in overrides:
        args += ["--set", item]
    proc = run_script("inference_video.py", *args, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.with_name(f"{video.stem}.summary.json").read_text())


@pytest.mark.parametrize("video", [FOUR_PEOPLE, TOWN_CENTRE], ids=["four_people", "town_centre"])
def test_live_file_counts_what_the_batch_command_counts(video, tmp_path, request):
    """A file played at its own frame rate in the app (no loop) ends with the batch command's
    people, masked and unmasked counts (within 5 %). Frames the camera could not keep up with
    are skipped, their time in the next frame's timestamp."""
    if video == FOUR_PEOPLE:  # the session's run of the same command (tests/conftest.py)
        _, out = request.getfixturevalue("four_people_batch")
        batch = json.loads(out.with_name(f"{out.stem}.summary.json").read_text())
    else:
        batch = batch_counts(video, tmp_path, [])
    app = AppProcess([cameras({"name": "cam", "source": str(video), "loop": False, "stream_fps": 2.0}),
                      f"app.db_path={tmp_path / 'app.sqlite'}"])
    try:
        ended = app.wait_for(lambda s: s["cameras"][0]["state"] == "ended", "/api/stats", timeout=300, every=1.0)
    finally:
        assert app.stop() == 0
    cam = ended["cameras"][0]
    live = cam["counters"]
    report = {k: (batch[k], live[k]) for k in ("people", "masked", "unmasked")}
    print(f"{video.name}: batch/live {report}; live processed {cam['frames_processed']} of "
          f"{cam['frames_captured']} frames ({cam['frames_skipped']} skipped)")
    skipped = cam["frames_skipped"] / max(cam["frames_captured"], 1)
    close = all(abs(v - b) <= 0.05 * b for b, v in report.values())
    if skipped > 0.05 and not close:
        # Measured, not hidden: on a machine too busy to process the file at its frame rate the
        # tracker sees the frames that were processed, with their real time gaps.
        pytest.xfail(f"the camera could not keep up ({100 * skipped:.0f} % of frames skipped): {report}")
    assert close, report
