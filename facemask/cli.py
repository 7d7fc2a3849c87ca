"""Batch commands: annotate an image folder or a video (``inference_images.py``, ``inference_video.py``)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from .config import Config, load_config
from .errors import FacemaskError, InputError
from .io.sinks.base import FrameOutput, Sink, SinkBase
from .types import Frame, FrameResult

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


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM; the message says what the command kept."""


class _Terminated(KeyboardInterrupt):
    pass


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def report_errors(run: Callable[[], int | None]) -> int:
    """Run a command body; a FacemaskError becomes one ``error:`` line on stderr and its exit
    code. SIGTERM is handled like Ctrl-C: the run is interrupted, its partial files removed."""
    _setup_logging()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    terminated = False
    try:
        result = run()
        return result if isinstance(result, int) else 0
    except FacemaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, _Terminated) or isinstance(exc.__context__, _Terminated)
        kept = str(exc) if isinstance(exc, Interrupted) and str(exc) else "partial outputs removed"
        print(f"interrupted: {kept}", file=sys.stderr)
        return 143 if terminated else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


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
    """Annotated copies of every image of a folder and ``results.jsonl`` (one line per image)."""
    from .io.sinks import AnnotatedImagesSink, FramesJsonlSink, check_output, same_file
    from .io.sources import ImageFolderSource
    from .pipeline import FramePipeline
    from .run import ImageSession, Runner

    in_dir, out_dir = Path(args.input_image_dir), Path(args.output_image_dir)
    if same_file(in_dir, out_dir):
        raise InputError(f"{out_dir}: the output folder is the input folder (its images would be overwritten)")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: the output folder is an existing file")
    jsonl_path = check_output(args.jsonl or out_dir / "results.jsonl", "JSON Lines output")
    source = ImageFolderSource(str(in_dir), recursive=args.recursive, max_pixels=cfg.input.max_pixels, exclude=(out_dir,))
    session = ImageSession(FramePipeline(cfg), cfg.output.draw_landmarks)
    images_sink = AnnotatedImagesSink(out_dir, cfg.output.jpeg_quality)
    sinks = [images_sink, FramesJsonlSink(jsonl_path)]
    if not cfg.privacy.store_images:  # statistics only: no annotated image is written
        sinks = sinks[1:]
    tally = Tally()

    class TallySink(SinkBase):
        def on_frame(self, out: FrameOutput) -> None:
            tally.add(out.result)

    def failed(frame: Frame, exc: Exception) -> None:
        log.warning("%s: %s (skipped)", frame.name, exc)

    total = len(source.files)
    with tqdm(total=total, unit="img", disable=args.no_progress, dynamic_ncols=True) as bar:
        runner = Runner(source, session, [*sinks, TallySink()], on_frame_error=failed,
                        on_progress=lambda n: bar.update(n - bar.n))
        try:
            rep = runner.run()
        except KeyboardInterrupt:
            raise Interrupted(f"{images_sink.written} annotated image(s) kept in {out_dir}; "
                              f"{jsonl_path.name} not written") from None
    failures = len(source.report.failed) + len(rep.failed)
    print_summary("facemask images", {
        "images": rep.frames_processed, "failed": failures, **tally.as_dict(),
        "images/s": rep.fps, "output": str(out_dir), "jsonl": str(jsonl_path),
    })
    return 0 if rep.frames_processed or not total else 1


def main_images(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="inference_images.py", description="Detect faces and masks in every image of a folder.")
    common_args(p)
    p.add_argument("--input_image_dir", required=True, help="folder of images")
    p.add_argument("--output_image_dir", required=True, help="folder for annotated images and results.jsonl")
    p.add_argument("--recursive", action="store_true", help="also the images in sub-folders (names keep their folders)")
    return run_command(images, argv, p)


# ---------------------------------------------------------------- video

VIDEO_SUFFIXES = (".mp4", ".webm", ".avi")


def video(cfg: Config, args) -> int:
    """Annotated video, per-frame JSONL and, with tracking: people events (OUT.events.jsonl),
    a summary (OUT.summary.json) and one row per person (OUT.people.csv)."""
    from .io.sinks import AnnotatedVideoSink, EventsJsonlSink, FramesJsonlSink, check_output, same_file
    from .io.sources import VideoFileSource, open_source, scheme_of
    from .run import Runner
    from .video import PeopleReportSink, VideoSession

    out = Path(args.output_video)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(f"{out}: output video must end in .mp4, .webm or .avi")
    stem = out.with_suffix("")
    jsonl_path = Path(args.jsonl) if args.jsonl else out.with_suffix(".jsonl")
    outputs = [out, jsonl_path] + ([stem.with_name(stem.name + s) for s in (".events.jsonl", ".summary.json",
                                                                            ".people.csv")]
                                   if cfg.tracker.enabled else [])
    for path in outputs:  # before anything is opened or written
        if same_file(path, args.input_video_path):
            raise InputError(f"{path}: an output is the input video (it would be destroyed)")
        check_output(path)
    if len({p.resolve() for p in outputs}) < len(outputs):
        raise InputError(f"{jsonl_path}: the JSON Lines output is another output's path")
    spec = args.input_video_path
    source = VideoFileSource(spec) if scheme_of(spec) in ("file", "dir") else open_source(spec)
    info = source.info
    session = VideoSession(cfg, info.fps, camera=stem.name)
    sinks: list[Sink] = []
    tally = Tally()

    class TallySink(SinkBase):
        def on_frame(self, out: FrameOutput) -> None:
            tally.add(out.result)

    images_ok = cfg.privacy.store_images  # false: statistics only, no picture leaves memory
    try:
        if images_ok:
            sinks.append(AnnotatedVideoSink(out, info.fps, (info.width, info.height), cfg.output.video_codec))
        sinks.append(FramesJsonlSink(jsonl_path))
        if cfg.tracker.enabled:
            sinks.append(EventsJsonlSink(outputs[2]))
            sinks.append(PeopleReportSink(session, stem))
            from .io.sinks.factory import camera_sinks  # MQTT, alerts, snapshots (--snapshots)

            sinks += camera_sinks(cfg, stem.name, session, db_path=stem.with_name(stem.name + ".sqlite"),
                                  snapshots=args.snapshots, snapshot_dir=stem.with_name(stem.name + ".snapshots"),
                                  record_line=False)
        total = info.frames if args.max_frames is None else min(info.frames or args.max_frames, args.max_frames)
        with source, tqdm(total=total, unit="frame", disable=args.no_progress, dynamic_ncols=True) as bar:
            rep = Runner(source, session, [*sinks, TallySink()], max_frames=args.max_frames,
                         on_progress=lambda n: bar.update(n - bar.n)).run()
    except BaseException:  # also an interruption before the runner's own try
        for sink in sinks:
            try:
                sink.abort()  # a second abort (the runner's came first) must not hide the error
            except Exception:
                log.debug("aborting %s again failed", type(sink).__name__, exc_info=True)
        source.close()
        raise
    truncated = source.truncated() if isinstance(source, VideoFileSource) and args.max_frames is None else None
    if truncated:
        log.warning("%s", truncated)
    people = session.summary()
    if people:  # per person; per-face labels would count everyone once per detection
        faces = {"faces": tally.faces, **people, "pct_masked": "-" if people["pct_masked"] is None else people["pct_masked"]}
    else:
        faces = tally.as_dict()
    written = [s.path for s in sinks if isinstance(s, EventsJsonlSink)]
    written += [p for s in sinks if isinstance(s, PeopleReportSink) for p in s.paths]
    print_summary("facemask video", {
        "frames": rep.frames_processed,
        **({"frames_expected": info.frames} if info.frames and truncated else {}),
        "failed": 0, "detected_frames": session.detected_frames, **faces,
        "fps": rep.fps, "output": str(out) if images_ok else "not written (privacy.store_images: false)",
        "jsonl": str(jsonl_path),
        **({"reports": ", ".join(str(p) for p in written)} if written else {}),
    })
    return 0


def main_video(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="inference_video.py", description="Detect, classify and count masks in a video.")
    common_args(p)
    p.add_argument("--input_video_path", required=True, help="video file or stream URL")
    p.add_argument("--output_video", required=True, help="annotated video (.mp4, .webm or .avi)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--snapshots", action="store_true",
                   help="keep the best crop of each decided person in OUT.snapshots/ (paths in OUT.sqlite)")
    return run_command(video, argv, p)


main = main_images
