"""``python -m facemask bench``: time each stage of the video pipeline on a video.

Two passes over the same frames:
1. sequential, one stage after the other on the main thread, to attribute time to each stage
   (decode, then the pipeline's own ``timings_ms`` stages: detect, classify, track..., then draw,
   encode). Wall ms and process CPU ms are both kept: on a shared machine wall time grows with
   other people's load, CPU time much less so;
2. pipelined, as ``python -m facemask video`` runs (decoding and encoding on their own threads),
   for the end-to-end frames per second a user sees.
Peak memory is the process's peak resident set size (everything loaded, both passes).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..cli import report_errors
from ..config import Config, load_config
from ..errors import InputError
from ..io.sinks import AnnotatedVideoSink, FrameOutput, SinkBase, write_json
from ..io.sources import SourceBase, VideoFileSource
from ..pipeline import FramePipeline, video_config
from ..run import Runner, Session
from ..types import Event, Frame, FrameResult
from .runner import NoClassifier, load_classifier


def _session(cfg: Config, fps: float):
    from ..video import VideoSession

    classifier = load_classifier(cfg)
    pipeline = FramePipeline(video_config(cfg), classifier=classifier or NoClassifier())  # type: ignore[arg-type]  # a stand-in
    return VideoSession(cfg, fps, pipeline=pipeline), classifier is not None


def peak_rss_mb() -> float:
    """Peak resident memory of this process image. VmHWM first: Linux's ru_maxrss carries the
    peak of the process that exec'd us over, so a bench started from a big parent reports its peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def _timed(fn, *args):
    """fn(*args) and its (wall ms, CPU ms)."""
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, ((time.perf_counter() - w) * 1e3, (time.process_time() - c) * 1e3)


class StageClock:
    """Wall and CPU milliseconds per stage. A stage may skip frames (detect and classify run on
    one frame in ``tracker.detect_every``): its mean is per timed frame, so the stage means add
    up to the frame's total, while p50 / p95 describe the frames it ran on."""

    def __init__(self) -> None:
        self.frames = 0
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def add(self, stage: str, wall_ms: float, cpu_ms: float | None = None) -> None:
        self.wall.setdefault(stage, []).append(wall_ms)
        if cpu_ms is not None:
            self.cpu.setdefault(stage, []).append(cpu_ms)

    def summary(self) -> dict:
        out = {}
        n = max(self.frames, 1)
        for stage, values in self.wall.items():
            s = sorted(values)
            out[stage] = {
                "mean_ms": round(sum(s) / n, 2),
                "p50_ms": round(s[len(s) // 2], 2),
                "p95_ms": round(s[min(len(s) - 1, int(0.95 * len(s)))], 2),
                "cpu_ms": round(sum(self.cpu[stage]) / n, 2) if stage in self.cpu else None,
                "frames_run": len(s),
            }
        return out


class _TimedSource:
    """A source whose reads are timed (the decode stage)."""

    def __init__(self, source: SourceBase, clock: StageClock, warmup: int):
        self.source, self.clock, self.warmup = source, clock, warmup
        self.info = source.info

    def __iter__(self) -> Iterator[Frame]:
        it = iter(self.source)
        n = 0
        while True:
            frame, decode = _timed(next, it, None)
            if frame is None:
                return
            if n >= self.warmup:
                self.clock.add("decode", *decode)
            n += 1
            yield frame

    def close(self) -> None:
        self.source.close()


class _TimedSession:
    """The video session with each call timed; the pipeline's own stages come from timings_ms."""

    def __init__(self, session: Session, clock: StageClock, warmup: int):
        self.session, self.clock, self.warmup = session, clock, warmup
        self.n = 0

    def process(self, frame: Frame) -> FrameResult:
        result, process = _timed(self.session.process, frame)
        if self.n >= self.warmup:  # the first frames allocate networks and buffers
            self.clock.frames += 1
            inner = 0.0
            for stage, ms in result.timings_ms.items():
                self.clock.add(stage, ms)
                inner += ms
            self.clock.add("other", max(process[0] - inner, 0.0))
            self.clock.add("process", *process)
            self.clock.add("faces", float(len(result.faces)))
        self.n += 1
        return result

    def draw(self, image: np.ndarray, result: FrameResult) -> np.ndarray:
        return self.session.draw(image, result)

    def pop_events(self) -> list[Event]:
        return self.session.pop_events()

    def finish(self) -> None:
        self.session.finish()


class _TimedEncodeSink(SinkBase):
    """Draws and encodes on the loop's thread, timing both (the sequential pass)."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int], codec: str, clock: StageClock, warmup: int):
        self.writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*codec), fps, size)
        self.clock, self.warmup, self.n = clock, warmup, 0

    def on_frame(self, out: FrameOutput) -> None:
        drawn, draw = _timed(lambda: out.annotated)
        _, encode = _timed(self.writer.write, drawn)
        if self.n >= self.warmup:
            self.clock.add("draw", *draw)
            self.clock.add("encode", *encode)
        self.n += 1

    def close(self) -> None:
        self.writer.release()


def sequential_pass(cfg: Config, video: str, max_frames: int, warmup: int) -> dict:
    """The loop of ``video`` with every stage on the main thread, each timed."""
    source = VideoFileSource(video, ahead=False)
    session, classified = _session(cfg, source.info.fps)
    clock = StageClock()
    w, h = source.info.width, source.info.height
    with tempfile.TemporaryDirectory(prefix="facemask-bench-") as tmp, source:
        sink = _TimedEncodeSink(Path(tmp) / "bench.mp4", source.info.fps, (w, h), cfg.output.video_codec, clock, warmup)
        timed = _TimedSource(source, clock, warmup)
        Runner(timed, _TimedSession(session, clock, warmup), [sink], max_frames=max_frames + warmup).run()  # type: ignore[arg-type]
    frames = clock.frames
    if frames == 0:
        raise InputError(f"{video}: fewer than {warmup + 1} frames could be decoded")
    summary = clock.summary()
    order = ("decode", "detect", "classify", "track", "other", "draw", "encode")  # then any other pipeline stage
    stages = {k: summary[k] for k in sorted(summary, key=lambda k: order.index(k) if k in order else len(order))}
    faces = stages.pop("faces")["mean_ms"]  # summed per frame like a stage: the mean face count
    process = stages.pop("process")
    total = sum(stages[s]["mean_ms"] for s in ("decode", "draw", "encode")) + process["mean_ms"]
    cpu = sum(stages[s]["cpu_ms"] for s in ("decode", "draw", "encode")) + process["cpu_ms"]
    return {
        "frames": frames, "width": w, "height": h,
        "classifier": classified, "faces_per_frame": round(faces, 2), "stages": stages,
        "total_ms": round(total, 2), "total_cpu_ms": round(cpu, 2),
        "fps_sequential": round(1000.0 / total, 2) if total else None,
        # 2 cores fully busy: the best a perfectly overlapped pipeline could do on this CPU time
        "fps_cpu_bound_2_cores": round(2000.0 / cpu, 2) if cpu else None,
    }


class _StartClock(SinkBase):
    """Notes the time when the warm-up frames are done."""

    def __init__(self, warmup: int):
        self.warmup, self.n = warmup, 0
        self.start: float | None = None

    def on_frame(self, out: FrameOutput) -> None:
        self.n += 1
        if self.n == self.warmup:
            self.start = time.perf_counter()


def pipelined_pass(cfg: Config, video: str, max_frames: int, warmup: int) -> dict:
    """The ``video`` command's loop (the Runner, decoding ahead and encoding on threads)."""
    source = VideoFileSource(video)
    session, _ = _session(cfg, source.info.fps)
    start = _StartClock(warmup)
    with tempfile.TemporaryDirectory(prefix="facemask-bench-") as tmp, source:
        video_sink = AnnotatedVideoSink(Path(tmp) / "bench.mp4", source.info.fps,
                                        (source.info.width, source.info.height), cfg.output.video_codec)
        rep = Runner(source, session, [start, video_sink], max_frames=max_frames + warmup).run()
        end = time.perf_counter()  # close() waited for the encoder: its backlog is part of the time
    frames = max(rep.frames_processed - warmup, 0)
    elapsed = end - start.start if start.start is not None else 0.0
    return {"frames": frames, "fps": round(frames / elapsed, 2) if elapsed > 0 else None}


def bench(cfg: Config, video: str, max_frames: int = 100, warmup: int = 3, pipelined: bool = True) -> dict:
    cpu_count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    out = {
        "video": Path(video).name, "cpus": cpu_count, "load_avg_1min_start": round(os.getloadavg()[0], 2),
        "opencv_threads": cv2.getNumThreads(), "detector": cfg.detector.model_dump(),
        "tracker": cfg.tracker.enabled, "detect_every": cfg.tracker.detect_every,
        "sequential": sequential_pass(cfg, video, max_frames, warmup),
    }
    if pipelined:
        out["pipelined"] = pipelined_pass(cfg, video, max_frames, warmup)
    out["load_avg_1min_end"] = round(os.getloadavg()[0], 2)
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return out


def format_report(r: dict) -> str:
    seq = r["sequential"]
    lines = [
        f"video {r['video']} {seq['width']}x{seq['height']}, {seq['frames']} frames, "
        f"detect every {r['detect_every'] if r['tracker'] else 1} frame(s), "
        f"{seq['faces_per_frame']} faces/frame, "
        f"classifier {'on' if seq['classifier'] else 'missing (not timed)'}, "
        f"{r['cpus']} cpus, load average {r['load_avg_1min_start']} -> {r['load_avg_1min_end']}",
        f"{'stage':<10}{'ms/frame':>9}{'cpu ms':>8}{'ran on':>8}{'p50':>8}{'p95':>8}   (p50, p95: frames it ran on)",
    ]
    for stage, s in seq["stages"].items():
        cpu = "" if s["cpu_ms"] is None else f"{s['cpu_ms']:.1f}"
        lines.append(f"{stage:<10}{s['mean_ms']:>9.1f}{cpu:>8}{s['frames_run']:>8}{s['p50_ms']:>8.1f}{s['p95_ms']:>8.1f}")
    lines.append(f"{'total':<10}{seq['total_ms']:>9.1f}{seq['total_cpu_ms']:>8.1f}")
    lines.append(f"fps: sequential {seq['fps_sequential']}, CPU-bound on 2 cores {seq['fps_cpu_bound_2_cores']}"
                 + (f", pipelined (as `video` runs) {r['pipelined']['fps']}" if "pipelined" in r else ""))
    lines.append(f"peak memory (RSS): {r['peak_rss_mb']} MB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m facemask bench", description=__doc__.split("\n")[0])
    p.add_argument("--config", default="configs/config-x86.json")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value (repeatable)")
    p.add_argument("--video", required=True, help="video file to time")
    p.add_argument("--max-frames", type=int, default=100, help="frames timed after the warm-up (default %(default)s)")
    p.add_argument("--warmup", type=int, default=3, help="frames run before timing (default %(default)s)")
    p.add_argument("--no-pipelined", action="store_true", help="skip the threaded end-to-end pass")
    p.add_argument("--json", help="also write the numbers to this JSON file")
    args = p.parse_args(argv)

    def run() -> None:
        cfg = load_config(args.config, args.overrides)
        if not Path(args.video).is_file():
            raise InputError(f"{args.video}: no such file")
        report = bench(cfg, args.video, args.max_frames, args.warmup, not args.no_pipelined)
        print(format_report(report))
        if args.json:
            write_json(args.json, report)
            print(f"wrote {args.json}")

    return report_errors(run)

if __name__ == "__main__":
    sys.exit(main())
