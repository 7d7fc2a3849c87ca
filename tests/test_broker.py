"""Camera workers on RabbitMQ: a real rabbitmq-server (Debian's package) on loopback ports,
real worker, aggregator and submit processes, real clips and kaggle853 images."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from .conftest import KAGGLE, REPO, VIDEOS
from .rabbitmq import RabbitServer, find_tool
from .servers import end


CLIPS = [VIDEOS / "mask_putting_on_4people_diazoniclabs.mp4", VIDEOS / "pedestrians_toward_camera_360p.mp4"]
CHEAP = ["--set", "detector.max_side=320", "--set", "broker.stats_interval_s=0.5",
         "--set", "broker.frame_interval_s=2", "--set", "classifier.num_threads=1"]


def wait_for(cond, timeout: float, what: str, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def spawn(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "facemask", *map(str, args)], cwd=REPO, env={**os.environ},
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)




def facemask_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facemask", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ})


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    if find_tool("rabbitmq-server") is None:
        pytest.skip("rabbitmq-server is not installed (make rabbitmq)")
    server = RabbitServer(tmp_path_factory.mktemp("rabbitmq"))
    server.start()
    yield server
    server.close()


class Cluster:
    def __init__(self, broker: RabbitServer, folder: Path):
        self.broker, self.folder = broker, folder
        self.db = folder / "app.sqlite"
        self.aggregate = spawn(["aggregate", "--broker", broker.url, "--set", "app.port=0",
                                "--set", f"app.db_path={self.db}", *CHEAP], folder / "aggregate.log")
        self.workers = {name: self.start_worker(name) for name in ("w1", "w2", "w3")}
        port = wait_for(lambda: re.search(r"serving on http://127\.0\.0\.1:(\d+)/", self.log("aggregate")), 120,
                        "the aggregator's web server").group(1)
        self.api = f"http://127.0.0.1:{port}"

    def start_worker(self, name: str) -> subprocess.Popen:
        proc = spawn(["worker", "--broker", self.broker.url, "--name", name, "--capacity", "2", "--task-slots", "0",
                      "--events-log", self.folder / f"{name}.events", *CHEAP], self.folder / f"{name}.log")
        wait_for(lambda: "ready" in self.log(name), 120, f"worker {name}")
        return proc

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def query(self, sql: str, *params) -> list[tuple]:
        if not self.db.exists():
            return []
        with sqlite3.connect(self.db, timeout=30) as db:
            return db.execute(sql, params).fetchall()

    def runs(self) -> dict[str, list[tuple[str, str, int]]]:
        """camera -> [(run, worker, samples seq)], oldest first."""
        out: dict[str, list] = {}
        for camera, run, worker, seq in self.query("SELECT camera, run, worker, seq FROM runs ORDER BY ts"):
            out.setdefault(camera, []).append((run, worker, seq))
        return out

    def stats(self) -> dict:
        with urllib.request.urlopen(self.api + "/api/stats", timeout=30) as resp:
            return json.load(resp)

    def audit(self, what: str) -> set[str]:
        """Event ids the workers sent / the broker confirmed to them (their --events-log lines)."""
        ids: set[str] = set()
        for path in self.folder.glob("*.events"):
            text = path.read_text()
            for line in text[:text.rfind("\n") + 1].splitlines():  # complete lines
                kind, _, event_id = line.partition(" ")
                if kind == what:
                    ids.add(event_id)
        return ids

    def confirmed_ids(self) -> set[str]:
        return self.audit("confirmed")

    def stored_ids(self) -> list[str]:
        return [r[0] for r in self.query("SELECT json_extract(data, '$.id') FROM events")]

    def all_running(self, cameras: list[str]) -> bool:
        cams = {c["name"]: c for c in self.stats()["cameras"]}
        return all(n in cams and cams[n]["state"] == "running" and cams[n]["frames_processed"] > 0 for n in cameras)

    def close(self) -> None:
        for proc in [*self.workers.values(), self.aggregate]:
            end(proc)


CAMERAS = ["c1", "c2", "c3", "c4"]


@pytest.fixture(scope="module")
def cluster(broker, tmp_path_factory):
    c = Cluster(broker, tmp_path_factory.mktemp("cluster"))
    try:
        specs = [f"{name}={CLIPS[i % 2]}" for i, name in enumerate(CAMERAS)]
        added = facemask_cli("camera", "add", "--broker", broker.url, *specs, "--max-fps", "4", timeout=120)
        assert added.returncode == 0, added.stderr
        yield c
    finally:
        c.close()


def current_workers(c: Cluster) -> dict[str, str]:
    """camera -> the worker of its latest run."""
    return {cam: runs[-1][1] for cam, runs in c.runs().items()}


def test_broker_url_credentials_from_env_or_file(tmp_path, monkeypatch):
    from facemask.broker.connection import broker_url, redact_url
    from facemask.config import BrokerConfig
    from facemask.errors import ConfigError

    for var in ("FACEMASK_BROKER_URL", "FACEMASK_BROKER_USER", "FACEMASK_BROKER_PASSWORD", "FACEMASK_BROKER_CREDENTIALS"):
        monkeypatch.delenv(var, raising=False)
    secret = tmp_path / "broker.secret"
    secret.write_text("cams:p@ss:w/rd\n")
    cfg = BrokerConfig(url="amqp://rabbit.local:5672/%2F", credentials_file=str(secret))
    url = broker_url(cfg)
    assert url == "amqp://cams:p%40ss%3Aw%2Frd@rabbit.local:5672/%2F"
    assert redact_url(url) == "amqp://rabbit.local:5672/%2F"
    monkeypatch.setenv("FACEMASK_BROKER_USER", "env")
    monkeypatch.setenv("FACEMASK_BROKER_PASSWORD", "pw")
    assert broker_url(cfg, "amqp://other:5673/v") == "amqp://env:pw@other:5673/v"
    with pytest.raises(ConfigError):
        broker_url(cfg, "http://not-amqp/")


def test_four_cameras_on_three_workers_each_on_one(cluster):
    wait_for(lambda: cluster.all_running(CAMERAS), 180, "4 cameras running")
    runs = cluster.runs()
    assert sorted(runs) == CAMERAS
    for cam, cam_runs in runs.items():
        assert len({worker for _, worker, _ in cam_runs}) == 1, f"{cam} ran on several workers: {cam_runs}"
    listed = json.loads(facemask_cli("camera", "list", "--broker", cluster.broker.url, timeout=120).stdout)
    held = [cam["name"] for w in listed["workers"] for cam in w["cameras"]]
    assert sorted(held) == CAMERAS  # each camera held by exactly one worker
    assert all(len(w["cameras"]) <= 2 for w in listed["workers"])  # capacity
    page = urllib.request.urlopen(cluster.api + "/", timeout=30).read().decode()
    assert all(cam in page for cam in CAMERAS)
    jpeg = urllib.request.urlopen(cluster.api + "/snapshot/c1.jpg", timeout=30).read()
    assert jpeg[:2] == b"\xff\xd8"


def test_kill_9_worker_cameras_move_nothing_lost_or_doubled(cluster):
    wait_for(lambda: cluster.all_running(CAMERAS), 180, "4 cameras running")
    before = current_workers(cluster)
    victim = sorted(before.values())[0]
    moved = sorted(cam for cam, w in before.items() if w == victim)
    wait_for(lambda: cluster.confirmed_ids(), 120, "a first confirmed event")
    cluster.workers[victim].send_signal(signal.SIGKILL)
    cluster.workers[victim].wait(30)
    killed_at = time.time()

    def moved_elsewhere() -> bool:
        runs = cluster.runs()
        return all(runs[cam][-1][1] not in (victim,) and runs[cam][-1][2] >= 1 for cam in moved)

    wait_for(moved_elsewhere, 120, f"{moved} running again after killing {victim}")
    print(f"failover of {moved}: about {time.time() - killed_at:.1f} s (upper bound, polled)")
    assert all(len({w for _, w, _ in cluster.runs()[cam]}) == 2 for cam in moved)
    confirmed = cluster.confirmed_ids()
    wait_for(lambda: confirmed <= set(cluster.stored_ids()), 120, "every confirmed event in the database")
    stored = cluster.stored_ids()
    assert len(stored) == len(set(stored))
    assert set(stored) <= cluster.audit("sent")  # nothing stored that no worker sent

    # A message delivered twice (as after a lost confirm) is stored once.
    (camera, data), = cluster.query("SELECT camera, data FROM events ORDER BY id LIMIT 1")
    event = json.loads(data)
    sentinel = {**event, "id": f"sentinel-{uuid.uuid4().hex}"}
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(cluster.broker.url))
    ch = conn.channel()
    for e in (event, sentinel):
        ch.basic_publish("facemask", f"event.{camera}", json.dumps({"type": "event", "camera": camera, "event": e}),
                         pika.BasicProperties(delivery_mode=2))
    conn.close()
    wait_for(lambda: sentinel["id"] in cluster.stored_ids(), 60, "the sentinel event")
    assert cluster.stored_ids().count(event["id"]) == 1


def test_broker_restart_everyone_reconnects_nothing_lost(cluster):
    wait_for(lambda: cluster.all_running(CAMERAS), 180, "4 cameras running")
    runs_before = {run for runs in cluster.runs().values() for run, _, _ in runs}
    confirmed_before = cluster.confirmed_ids()
    cluster.broker.stop()
    cluster.broker.start()

    def all_restarted() -> bool:  # each camera runs again (a new run) and the aggregator stores it
        runs = cluster.runs()
        return all(any(r not in runs_before and seq >= 2 for r, _, seq in runs.get(cam, [])) for cam in CAMERAS)

    wait_for(all_restarted, 180, "every camera running again after the broker restart")
    wait_for(lambda: cluster.all_running(CAMERAS), 60, "the page showing 4 running cameras")
    confirmed = cluster.confirmed_ids()
    assert confirmed_before <= confirmed
    wait_for(lambda: confirmed <= set(cluster.stored_ids()), 120, "every confirmed event in the database")
    stored = cluster.stored_ids()
    assert len(stored) == len(set(stored))


def test_camera_update_and_remove_are_messages(cluster):
    wait_for(lambda: cluster.all_running(CAMERAS), 180, "4 cameras running")
    others = {cam: runs[-1][0] for cam, runs in cluster.runs().items() if cam != "c4"}
    old = {run for run, _, _ in cluster.runs()["c4"]}
    url = cluster.broker.url
    updated = facemask_cli("camera", "update", "c4", "--set", "detector.max_side=256", "--broker", url, timeout=120)
    assert "taken by worker" in updated.stdout, updated.stdout + updated.stderr
    wait_for(lambda: any(r not in old for r, _, _ in cluster.runs()["c4"]), 120, "c4 running with its new config")
    removed = facemask_cli("camera", "remove", "c4", "--broker", url, timeout=120)
    assert "taken by worker" in removed.stdout, removed.stdout + removed.stderr
    listed = json.loads(facemask_cli("camera", "list", "--broker", url, timeout=120).stdout)
    assert sorted(c["name"] for w in listed["workers"] for c in w["cameras"]) == ["c1", "c2", "c3"]
    assert listed["waiting"] == 0
    assert {cam: runs[-1][0] for cam, runs in cluster.runs().items() if cam != "c4"} == others  # not restarted


def test_image_folder_on_two_workers_same_results_as_one_process(broker, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for path in sorted((KAGGLE / "images").iterdir())[:12]:
        shutil.copy(path, images / path.name)
    one = subprocess.run([sys.executable, "inference_images.py", "--input_image_dir", images, "--output_image_dir",
                          tmp_path / "one", "--no-progress"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr
    workers = [spawn(["worker", "--broker", broker.url, "--name", name, "--capacity", "0", "--task-slots", "1"],
                     tmp_path / f"{name}.log") for name in ("t1", "t2")]
    try:
        import pika

        def consumers() -> int:
            conn = pika.BlockingConnection(pika.URLParameters(broker.url))
            try:
                return conn.channel().queue_declare("facemask.tasks", durable=True, passive=True).method.consumer_count
            except pika.exceptions.ChannelClosedByBroker:  # not declared yet
                return 0
            finally:
                conn.close()

        wait_for(lambda: consumers() == 2, 120, "2 task workers")
        two = facemask_cli("submit", "--broker", broker.url, "--input_image_dir", images,
                           "--output_image_dir", tmp_path / "two", "--task-images", "3", "--timeout", "500", timeout=600)
        assert two.returncode == 0, two.stderr
    finally:
        for w in workers:
            end(w)
    assert "t1 (" in two.stdout and "t2 (" in two.stdout, two.stdout  # both workers took tasks
    def rows(path: Path) -> list[dict]:  # each row's time_ms is a timing, not a result
        return [{k: v for k, v in json.loads(line).items() if k != "time_ms"} for line in path.read_text().splitlines()]

    merged = rows(tmp_path / "two" / "results.jsonl")
    assert merged == rows(tmp_path / "one" / "results.jsonl")
    assert len(merged) == 12
