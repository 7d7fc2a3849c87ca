"""Broker benchmark, figures from one run on this machine (a local rabbitmq-server on loopback):

* image-folder throughput with 2 workers vs 1 (``submit``; the ratio, and CPU seconds per image
  summed over the worker processes);
* failover time: a worker holding the camera is killed (SIGKILL) -> the camera's first processed
  frame on the other worker (the run's first stat sample, stamped when that frame was processed);
  the median of ``--failovers`` runs.

    python scripts/bench_broker.py [--images 96] [--failovers 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.rabbitmq import RabbitServer  # noqa: E402
from tests.servers import end as stop  # noqa: E402

KAGGLE = REPO.parent / "shared" / "data" / "kaggle853" / "images"
CLIP = REPO.parent / "shared" / "videos" / "vtest_480x360.avi"


def spawn(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "facemask", *map(str, args)], cwd=REPO, env={**os.environ},
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def wait_ready(log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while "ready" not in (log.read_text(errors="replace") if log.exists() else ""):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{log}: worker not ready")
        time.sleep(0.2)


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")



def throughput(url: str, images: Path, n_workers: int, tmp: Path, task_images: int) -> dict:
    logs = [tmp / f"img{n_workers}-w{i}.log" for i in range(n_workers)]
    workers = [spawn(["worker", "--broker", url, "--name", f"img{n_workers}-w{i}", "--capacity", "0",
                      "--task-slots", "1"], log) for i, log in enumerate(logs)]
    try:
        for log in logs:
            wait_ready(log)
        time.sleep(1.0)  # consumers registered
        cpu0 = sum(cpu_s(w.pid) for w in workers)
        out = subprocess.run([sys.executable, "-m", "facemask", "submit", "--broker", url, "--input_image_dir", images,
                              "--output_image_dir", tmp / f"out{n_workers}", "--task-images", str(task_images)],
                             cwd=REPO, capture_output=True, text=True, timeout=3600)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        wall = float(re.search(r"elapsed_s: ([\d.]+)", out.stdout).group(1))  # from the first task out to the file
        cpu = sum(cpu_s(w.pid) for w in workers) - cpu0
    finally:
        for w in workers:
            stop(w)
    n = len(list(images.iterdir()))
    return {"workers": n_workers, "images": n, "wall_s": round(wall, 2), "images_per_s": round(n / wall, 2),
            "worker_cpu_s_per_image": round(cpu / n, 3)}


def failovers(url: str, runs: int, tmp: Path) -> list[float]:
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.exchange_declare("facemask", "topic", durable=True)
    q = ch.queue_declare("", exclusive=True).method.queue
    ch.queue_bind(q, "facemask", "stats.bench")

    def next_sample(pred, timeout: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout
        for method, _, body in ch.consume(q, auto_ack=True, inactivity_timeout=0.2):
            if method is not None:
                msg = json.loads(body)
                if pred(msg):
                    return msg
            if time.monotonic() > deadline:
                raise RuntimeError("no stat sample in time")

    cheap = ["--set", "detector.max_side=160", "--set", "broker.stats_interval_s=0.5",
             "--set", "broker.frame_interval_s=0"]
    workers: dict[str, subprocess.Popen] = {}

    def start(name: str) -> None:
        log = tmp / f"{name}.log"
        workers[name] = spawn(["worker", "--broker", url, "--name", name, "--capacity", "1", "--task-slots", "0",
                               *cheap], log)
        wait_ready(log)

    times = []
    try:
        start("fo-a")
        start("fo-b")
        subprocess.run([sys.executable, "-m", "facemask", "camera", "add", "--broker", url, f"bench={CLIP}",
                        "--max-fps", "5"], cwd=REPO, check=True, capture_output=True, timeout=120)
        sample = next_sample(lambda m: True)
        for i in range(runs):
            victim, run = sample["worker"], sample["run"]
            workers[victim].send_signal(signal.SIGKILL)
            killed = time.time()
            workers[victim].wait()
            sample = next_sample(lambda m, run=run, victim=victim: m["run"] != run and m["worker"] != victim)
            times.append(sample["ts"] - killed)
            print(f"  failover {i + 1}: {victim} -> {sample['worker']} in {times[-1]:.2f} s", flush=True)
            start(victim)  # back to two workers
    finally:
        for w in workers.values():
            stop(w)
        conn.close()
    return times


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=96, help="kaggle853 images for the throughput runs")
    p.add_argument("--task-images", type=int, default=8)
    p.add_argument("--failovers", type=int, default=5)
    p.add_argument("--json", help="write the figures here too")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-broker-"))
    server = RabbitServer(tmp / "rabbitmq")
    try:
        server.start()
        images = tmp / "images"
        images.mkdir()
        for path in sorted(KAGGLE.iterdir())[:args.images]:
            shutil.copy(path, images / path.name)
        one = throughput(server.url, images, 1, tmp, args.task_images)
        print(f"1 worker:  {one}", flush=True)
        two = throughput(server.url, images, 2, tmp, args.task_images)
        print(f"2 workers: {two}", flush=True)
        same = (tmp / "out1" / "results.jsonl").read_text() == (tmp / "out2" / "results.jsonl").read_text()
        fo = failovers(server.url, args.failovers, tmp)
    finally:
        server.close()
    result = {
        "cpus": os.cpu_count(), "one_worker": one, "two_workers": two,
        "throughput_ratio_2_vs_1": round(two["images_per_s"] / one["images_per_s"], 2),
        "same_results_jsonl": same,
        "failover_s": [round(t, 2) for t in fo], "failover_median_s": round(statistics.median(fo), 2),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
