"""Batch commands: annotate an image folder or a video (``inference_images.py``, ``inference_video.py``)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from .config import Config, load_config
from .errors import FacemaskError, InputError
from .types import FrameResult

log = logging.getLogger("facemask")


def _setup_logging() -> None:
    class TqdmHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            tqdm.write(f"{record.levelname.lower()}: {record.getMessage()}", file=sys.stderr)

    if not log.handlers:
        log.addHandler(TqdmHandler())
        log.setLevel(logging.INFO)
        log.propagate = False


def common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="configs/config-x86.json", help="JSON config (default: %(default)s)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a config value, e.g. --set detector.upscale=1.5 (repeatable)")
    parser.add_argument("--jsonl", help="JSON Lines output path (default: next to the output)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def report_errors(run: Callable[[], int | None]) -> int:
    """Run a command body; a FacemaskError becomes one ``error:`` line on stderr and its exit code."""
    _setup_logging()
    try:
        result = run()
        return result if isinstance(result, int) else 0
    except FacemaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: partial outputs removed", file=sys.stderr)
        return 130


def run_command(fn, argv, parser: argparse.ArgumentParser) -> int:
    """Parse, load the config, run ``fn(cfg, args)`` under :func:`report_errors`."""
    args = parser.parse_args(argv)
    return report_errors(lambda: fn(load_config(args.config, args.overrides), args))


class Tally:
    """Per-face counts for the end-of-run summary."""

    def __init__(self) -> None:
        self.labels: Counter[str] = Counter()
        self.faces = 0

    def add(self, result: FrameResult) -> None:
        for face in result.faces:
            if face.source == "tracker":  # carried by the tracker, not a detection
                continue
            self.faces += 1
            self.labels["skipped" if face.skip_reason else face.label] += 1

    def as_dict(self) -> dict:
        return {
            "faces": self.faces,
            "masked": self.labels["mask"],
            "unmasked": self.labels["no_mask"],
            "mask_incorrect": self.labels["mask_incorrect"],
            "not_classified": self.labels["skipped"] + self.labels["unknown"],
        }


def print_summary(title: str, items: dict) -> None:
    print(f"== {title} ==")
    for key, value in items.items():
        if isinstance(value, float):
            value = f"{value:.2f}"
        print(f"{key:>16}: {value}")


# ---------------------------------------------------------------- images

def images(cfg: Config, args) -> int:
    from .annotate import draw_result
    from .io.sinks import JsonlWriter, write_image
    from .io.sources import list_images, read_image
    from .pipeline import FramePipeline

    files = list_images(args.input_image_dir)
    out_dir = Path(args.output_image_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pipeline = FramePipeline(cfg)
    jsonl = JsonlWriter(args.jsonl or out_dir / "results.jsonl")
    tally, failed, done = Tally(), 0, 0
    start = time.perf_counter()
    try:
        for path in tqdm(files, unit="img", disable=args.no_progress, dynamic_ncols=True):
            try:
                image = read_image(path)
            except InputError as exc:
                log.warning("%s (skipped)", exc)
                failed += 1
                continue
            result = pipeline.process(image, image=path.name)
            jsonl.write(result.to_json())
            tally.add(result)
            write_image(out_dir / path.name, draw_result(image, result, cfg.output.draw_landmarks),
                        cfg.output.jpeg_quality)
            done += 1
    except BaseException:
        jsonl.abort()
        raise
    jsonl.close()
    elapsed = time.perf_counter() - start
    print_summary("facemask images", {
        "images": done, "failed": failed, **tally.as_dict(),
        "images/s": done / elapsed if elapsed > 0 else 0.0, "output": str(out_dir),
    })
    return 0 if done or not files else 1


def main_images(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="inference_images.py", description="Detect faces and masks in every image of a folder.")
    common_args(p)
    p.add_argument("--input_image_dir", required=True, help="folder of images")
    p.add_argument("--output_image_dir", required=True, help="folder for annotated images and results.jsonl")
    return run_command(images, argv, p)


# ---------------------------------------------------------------- video

def video(cfg: Config, args) -> int:
    """Annotated video, per-frame JSONL and, with tracking: people events (OUT.events.jsonl),
    a summary (OUT.summary.json) and one row per person (OUT.people.csv)."""
    from .io.sinks import JsonlWriter, VideoWriter
    from .io.sources import VideoSource
    from .video import VideoSession

    source = VideoSource(args.input_video_path)
    info = source.info
    out = Path(args.output_video)
    if out.suffix.lower() not in (".mp4", ".webm", ".avi"):
        raise InputError(f"{out}: output video must end in .mp4, .webm or .avi")
    session = VideoSession(cfg, info.fps)
    stem = out.with_suffix("")
    writer = VideoWriter(out, info.fps, (info.width, info.height), cfg.output.video_codec)
    jsonl = JsonlWriter(args.jsonl or out.with_suffix(".jsonl"))
    events = JsonlWriter(stem.with_name(stem.name + ".events.jsonl")) if cfg.tracker.enabled else None
    tally, n = Tally(), 0
    total = info.frames if args.max_frames is None else min(info.frames or args.max_frames, args.max_frames)
    start = time.perf_counter()
    try:
        with source, tqdm(total=total, unit="frame", disable=args.no_progress, dynamic_ncols=True) as bar:
            for frame in source:
                if args.max_frames is not None and n >= args.max_frames:
                    break
                result = session.process(frame, n)
                jsonl.write(result.to_json())
                tally.add(result)
                writer.write(session.draw(frame, result))
                if events is not None:
                    for event in session.pop_events():
                        events.write(event)
                n += 1
                bar.update(1)
        session.finish()
        if events is not None:
            for event in session.pop_events():
                events.write(event)
        reports = session.write_reports(stem)
    except BaseException:
        writer.abort()
        jsonl.abort()
        if events is not None:
            events.abort()
        raise
    writer.close()
    jsonl.close()
    if events is not None:
        events.close()
        reports.insert(0, events.path)
    elapsed = time.perf_counter() - start
    people = session.summary()
    if people:  # per person; per-face labels would count everyone once per detection
        faces = {"faces": tally.faces, **people, "pct_masked": "-" if people["pct_masked"] is None else people["pct_masked"]}
    else:
        faces = tally.as_dict()
    print_summary("facemask video", {
        "frames": n, "failed": 0, "detected_frames": session.detected_frames, **faces,
        "fps": n / elapsed if elapsed > 0 else 0.0, "output": str(out), "jsonl": str(jsonl.path),
        **({"reports": ", ".join(str(p) for p in reports)} if reports else {}),
    })
    return 0


def main_video(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="inference_video.py", description="Detect, classify and count masks in a video.")
    common_args(p)
    p.add_argument("--input_video_path", required=True, help="video file or stream URL")
    p.add_argument("--output_video", required=True, help="annotated video (.mp4 or .webm)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    return run_command(video, argv, p)


main = main_images
