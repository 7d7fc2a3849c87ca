#!/usr/bin/env python3
"""Live cameras against the batch pipeline, in one run (a benchmark, not a test):

    python scripts/bench_live.py [--video ../shared/videos/towncentre_clip_1080p.mp4] [--seconds 60]
    python scripts/bench_live.py --cameras 1 --seconds 600     # the lag over 10 minutes

1. batch: the Runner on the file, every frame, as fast as it goes (``inference_video.py``'s loop,
   without writing the video): frames per second;
2. one live camera: the web app's camera process (spawned, the file looped at its own frame
   rate, newest frame only, JPEGs published) for ``--seconds``: processed frames per second,
   CPU use of the camera process (100 % = one core), and the lag of the frame shown (capture to
   the web process) sampled every second;
3. two live cameras on the same file at once: the same per camera, and the CPU use of both;

then the ratios: live / batch, and each of two / batch. Each camera is watched (as if a page had
its video open: JPEGs at ``stream_fps``, encoded on their own thread) unless ``--headless``
(nobody watching: a picture every 2 s); ``--both-views`` runs the one camera both ways, one after
the other, and prints what watching costs. Figures move with the machine's load: the load average
is printed with them, and frames per CPU second (processed frames over the CPU
time the process got) beside each fps, the steadier number on a busy machine. A live camera also
decodes every frame the source delivers (a camera sends them all), processed or skipped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def batch_fps(cfg, video: Path, max_frames: int) -> tuple[float, int, float]:
    """Frames per second, frames, and CPU use in % of one core (this process, all threads)."""
    from facemask.io.sources import VideoFileSource
    from facemask.run import Runner
    from facemask.video import VideoSession

    with VideoFileSource(video) as source:
        session = VideoSession(cfg, source.info.fps)
        Runner(source, session, [], max_frames=min(10, max_frames)).run()  # warm-up (model load, first calls)
    from facemask.io.sinks import SinkBase

    class StageTimes(SinkBase):
        """Detection wall ms per frame, full detections apart from local searches."""

        def __init__(self, session: VideoSession):
            self.session, self.seen = session, 0
            self.full: list[float] = []
            self.local: list[float] = []

        def on_frame(self, out) -> None:
            full = self.session.detected_frames > self.seen
            self.seen = self.session.detected_frames
            (self.full if full else self.local).append(out.result.timings_ms.get("detect", 0.0))

    with VideoFileSource(video, loop=True) as source:
        session = VideoSession(cfg, source.info.fps)
        stages = StageTimes(session)
        cpu0 = time.process_time()
        report = Runner(source, session, [stages], max_frames=max_frames).run()
        cpu = time.process_time() - cpu0
    if stages.full and stages.local:
        print(f"batch detection: full {statistics.median(stages.full):.1f} ms median ({len(stages.full)} frames), "
              f"local search {statistics.median(stages.local):.1f} ms median ({len(stages.local)} frames)", flush=True)
    return report.fps, report.frames_processed, 100.0 * cpu / report.elapsed_s


def live(cfg, video: Path, cameras: int, seconds: float, tmp: Path, watched: bool = True) -> list[dict]:
    import contextlib

    from facemask.config import CameraConfig
    from facemask.web.camera import CameraProcess
    from facemask.web.storage import Store

    store = Store(tmp / f"live{cameras}.sqlite")
    procs = [CameraProcess(CameraConfig(name=f"cam{i + 1}", source=str(video)), cfg, store, cameras=cameras)
             for i in range(cameras)]
    for p in procs:
        p.start()
    viewers = contextlib.ExitStack()
    if watched:
        for p in procs:
            viewers.enter_context(p.watching())
    try:
        deadline = time.monotonic() + 120
        while not all(p.info()["frames_processed"] >= 5 for p in procs):  # models loaded, frames flowing
            if time.monotonic() > deadline:
                raise SystemExit("the camera processes did not start: " + str([p.info()["message"] for p in procs]))
            time.sleep(0.2)
        start = [(p.info(), cpu_seconds(p.pid)) for p in procs]
        t0 = time.monotonic()
        lags: list[list[float]] = [[] for _ in procs]
        while time.monotonic() - t0 < seconds:
            time.sleep(1.0)
            for i, p in enumerate(procs):
                lag = p.info()["lag_s"]
                if lag is not None:
                    lags[i].append(lag)
        elapsed = time.monotonic() - t0
        out = []
        for (info0, cpu0), p, lag in zip(start, procs, lags):
            info = p.info()
            processed = info["frames_processed"] - info0["frames_processed"]
            captured = info["frames_captured"] - info0["frames_captured"]
            third = max(len(lag) // 3, 1)
            waited = float(info.get("wait_s") or 0.0) - float(info0.get("wait_s") or 0.0)
            out.append({
                "name": p.name, "threads": p.threads, "fps": processed / elapsed, "captured_fps": captured / elapsed,
                "skipped_pct": 100.0 * (1 - processed / captured) if captured else 0.0,
                "cpu_pct": 100.0 * (cpu_seconds(p.pid) - cpu0) / elapsed,
                # the loop waiting for a newer frame (the source's pace): time the camera had to spare
                "waited_pct": 100.0 * waited / elapsed,
                "busy_fps": processed / max(elapsed - waited, 1e-6),
                "lag_median_s": statistics.median(lag) if lag else None,
                "lag_first_third_s": statistics.median(lag[:third]) if lag else None,
                "lag_last_third_s": statistics.median(lag[-third:]) if lag else None,
                "lag_max_s": max(lag) if lag else None,
                # one median per minute (samples are a second apart): flat means no queue builds up
                "lag_by_minute_s": [statistics.median(lag[m:m + 60]) for m in range(0, len(lag), 60)],
            })
        return out
    finally:
        viewers.close()
        for p in procs:
            p.stop()
        store.close()


def fmt_cam(c: dict) -> str:
    lag = "n/a" if c["lag_median_s"] is None else (
        f"lag median {c['lag_median_s']:.3f} s (first third {c['lag_first_third_s']:.3f}, last third "
        f"{c['lag_last_third_s']:.3f}, max {c['lag_max_s']:.3f})")
    if len(c["lag_by_minute_s"]) > 1:
        lag += "; lag median by minute " + " ".join(f"{v:.3f}" for v in c["lag_by_minute_s"]) + " s"
    per_cpu = c["fps"] / (c["cpu_pct"] / 100.0) if c["cpu_pct"] else 0.0
    return (f"{c['name']} ({c['threads']} inference threads): {c['fps']:.2f} fps processed of {c['captured_fps']:.1f} captured "
            f"({c['skipped_pct']:.0f} % skipped), waiting for a newer frame {c['waited_pct']:.0f} % of the time "
            f"({c['busy_fps']:.2f} fps while not waiting), CPU {c['cpu_pct']:.0f} % ({per_cpu:.2f} frames per CPU second), {lag}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(REPO / "configs" / "config-x86.json"))
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--video", default=str(REPO.parent / "shared" / "videos" / "towncentre_clip_1080p.mp4"))
    p.add_argument("--seconds", type=float, default=60.0, help="length of each live run (default %(default)s)")
    p.add_argument("--batch-frames", type=int, default=300, help="frames of the batch run (default %(default)s)")
    p.add_argument("--cameras", choices=("1", "2", "both"), default="both",
                   help="the live runs to make: one camera, two, or both (default); e.g. --cameras 1 --seconds 600 "
                        "for the lag over 10 minutes")
    p.add_argument("--live-set", dest="live_overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override the config of the live cameras only (after --set), e.g. app.camera_threads=1 (their inference threads)")
    p.add_argument("--headless", action="store_true",
                   help="nobody watches the cameras (no JPEGs but one every 2 s); default: each camera watched")
    p.add_argument("--both-views", action="store_true",
                   help="one camera twice in this run, watched then not watched, and the ratio between them "
                        "(what the live view costs); the two-camera run as --headless says")
    args = p.parse_args()
    from facemask.config import load_config

    cfg = load_config(args.config, args.overrides)
    live_cfg = load_config(args.config, args.overrides + args.live_overrides)
    video = Path(args.video)
    print(f"{video.name}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; live cameras "
          + ("not watched (--headless)" if args.headless else "watched (JPEGs at stream_fps)")
          + (f"; live only: {' '.join(args.live_overrides)}" if args.live_overrides else ""), flush=True)
    fps, frames, cpu = batch_fps(cfg, video, args.batch_frames)
    print(f"batch: {fps:.2f} fps ({frames} frames), CPU {cpu:.0f} % ({fps / (cpu / 100.0):.2f} frames per CPU second)",
          flush=True)
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.cameras in ("1", "both"):
            views = (True, False) if args.both_views else (not args.headless,)
            seen = {}
            for watched in views:
                one = live(live_cfg, video, 1, args.seconds, Path(tmp), watched)
                view = "watched" if watched else "not watched"
                seen[view] = one[0]["fps"]
                print(f"live, one camera, {view}: " + fmt_cam(one[0]), flush=True)
                ratios.append(f"one camera {view} / batch {one[0]['fps'] / fps:.2f} "
                              f"(while not waiting {one[0]['busy_fps'] / fps:.2f})")
            if len(seen) == 2:
                ratios.append(f"watched / not watched {seen['watched'] / seen['not watched']:.2f}")
        if args.cameras in ("2", "both"):
            two = live(live_cfg, video, 2, args.seconds, Path(tmp), not args.headless)
            for c in two:
                print("live, two cameras: " + fmt_cam(c), flush=True)
            print(f"two cameras together: CPU {sum(c['cpu_pct'] for c in two):.0f} %")
            ratios += [f"{c['name']} of two / batch {c['fps'] / fps:.2f}" for c in two]
    print("ratios: " + "; ".join(ratios))
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
