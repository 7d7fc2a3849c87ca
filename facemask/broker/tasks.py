"""Batch scale-out: an image folder split into tasks that any worker takes; one results.jsonl.

``python -m facemask submit --broker URL --input_image_dir DIR --output_image_dir OUT`` lists the
folder like ``inference_images.py``, cuts it into tasks of ``broker.task_images`` images and puts
them on the durable ``<prefix>.tasks`` queue with the images' bytes (workers need no shared disk)
and the submitter's whole config (every worker runs the same models and thresholds). A worker
publishes each task's rows to the job's durable result queue and acknowledges the task once the
broker confirmed them; a task whose worker died is taken again by another, and a result that
arrives twice is kept once. The submitter writes ``OUT/results.jsonl`` (atomically, in the
folder's order, the same rows as one ``inference_images.py`` run but for ``time_ms``) when every task is back.
Annotated images are not made in this mode.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator


from ..config import Config, parse_config
from ..errors import FacemaskError, InputError
from ..io.sources.images import decode_image
from ..types import Frame, new_run_id
from .connection import Backoff, Names, broker_args, broker_url, connect, connection_errors, declare, persistent, redact_url

log = logging.getLogger("facemask.broker")

_local = threading.local()


class _TaskSource:
    """The images of one task as frames (a failing image is one line in ``failed``)."""

    def __init__(self, images: list[dict], max_pixels: int):
        self.images, self.max_pixels = images, max_pixels
        self.failed: list[str] = []

    def __iter__(self) -> Iterator[Frame]:
        for index, item in enumerate(self.images):
            try:
                image = decode_image(item["name"], base64.b64decode(item["data"]), self.max_pixels)
            except InputError as exc:
                self.failed.append(str(exc))
                continue
            yield Frame(image=image, index=index, time_s=float(index), wall_time=time.time(), name=item["name"])

    def close(self) -> None:
        pass


def _pipeline(config: dict):
    """One pipeline per thread and config (detectors and interpreters are not thread-safe)."""
    from ..pipeline import FramePipeline

    key = json.dumps(config, sort_keys=True)
    cache = getattr(_local, "pipelines", None)
    if cache is None:
        cache = _local.pipelines = {}
    if key not in cache:
        cfg = parse_config(config, "task config")
        cache.clear()
        cache[key] = (cfg, FramePipeline(cfg))
    return cache[key]


def run_task(task: dict) -> dict:
    """The rows (``FrameResult.to_json``) and failures of one task."""
    from ..io.sinks.base import FrameOutput, SinkBase
    from ..run import ImageSession, Runner

    cfg, pipeline = _pipeline(task["config"])
    rows: list[dict] = []

    class Rows(SinkBase):
        def on_frame(self, out: FrameOutput) -> None:
            rows.append(out.result.to_json())

    source = _TaskSource(task["images"], cfg.input.max_pixels)
    failed: list[str] = []
    Runner(source, ImageSession(pipeline), [Rows()],  # type: ignore[arg-type]
           on_frame_error=lambda f, e: failed.append(f"{f.name}: {e}")).run()
    return {"job": task["job"], "task": task["task"], "rows": rows, "failed": source.failed + failed}


class TaskRun:
    """One delivered task; ``run()`` on a task thread sets ``ok`` once its result is confirmed.
    The worker acknowledges it then (``done``), or rejects it when it failed."""

    def __init__(self, worker: Any, tag: int, redelivered: bool, body: bytes):
        self.worker, self.tag, self.redelivered, self.body = worker, tag, redelivered, body
        self.done = threading.Event()
        self.ok = False
        self.channel = self.connection = None

    def run(self) -> None:
        try:
            task = json.loads(self.body)
            result = run_task(task)
            result["worker"] = self.worker.name
            confirmed = threading.Event()
            self.worker.publisher.publish(task["reply_to"], result, exchange="", meta=confirmed,
                                          message_id=f"{task['job']}-{task['task']}")
            self.ok = confirmed.wait(300)
            log.info("task %s/%s: %d image(s) done", task["job"], task["task"], len(result["rows"]))
        except Exception as exc:  # a bad task must not kill the worker
            log.error("task failed: %s", exc)


# ---------------------------------------------------------------- submit

def submit(cfg: Config, url: str, in_dir: Path, out_path: Path, recursive: bool = False,
           task_images: int | None = None, timeout_s: float | None = None, progress: bool = True) -> dict:
    """Split ``in_dir`` into tasks, wait for every result, write ``out_path``; a summary dict."""
    from ..io.sinks import JsonlWriter, check_output
    from ..io.sources import list_images

    names = Names.of(cfg.broker)
    files = list_images(in_dir, recursive)
    out_path = check_output(out_path, "JSON Lines output")
    size = task_images or cfg.broker.task_images
    chunks = [files[i:i + size] for i in range(0, len(files), size)]
    job = new_run_id()
    reply = f"{cfg.broker.prefix}.results.{job}"
    config = cfg.model_dump(mode="json")
    errors = connection_errors()
    results: dict[int, dict] = {}
    published = 0
    backoff = Backoff(cfg.broker.reconnect_max_s)
    started = time.monotonic()
    deadline = None if timeout_s is None else started + timeout_s
    conn = None
    while len(results) < len(chunks):
        if deadline is not None and time.monotonic() > deadline:
            raise FacemaskError(f"submit: {len(chunks) - len(results)} of {len(chunks)} task(s) not done in time")
        try:
            conn = connect(url, cfg.broker, f"submit-{job}")
            ch = conn.channel()
            declare(ch, names)
            ch.queue_declare(reply, durable=True)
            ch.confirm_delivery()
            backoff.reset()
            while published < len(chunks):
                images = [{"name": os.path.relpath(p, in_dir), "data": base64.b64encode(p.read_bytes()).decode()}
                          for p in chunks[published]]
                body = json.dumps({"job": job, "task": published, "reply_to": reply, "config": config,
                                   "images": images}).encode()
                ch.basic_publish("", names.tasks, body, persistent(f"{job}-{published}"), mandatory=True)
                published += 1
            if progress:
                print(f"submit {job}: {len(files)} image(s) in {len(chunks)} task(s) on {redact_url(url)}", flush=True)
            for method, _props, body in ch.consume(reply, inactivity_timeout=1.0):
                if method is not None:
                    result = json.loads(body)
                    if result["task"] not in results:
                        results[result["task"]] = result
                        if progress:
                            print(f"  task {result['task']}: {len(result['rows'])} image(s) by {result.get('worker')}",
                                  flush=True)
                if len(results) == len(chunks):
                    break
                if deadline is not None and time.monotonic() > deadline:
                    break
            ch.cancel()
            if len(results) == len(chunks):
                ch.queue_delete(reply)
            conn.close()
        except errors as exc:
            log.warning("submit: broker connection lost (%s), reconnecting", type(exc).__name__)
            try:
                if conn is not None:
                    conn.close()
            except Exception:
                pass
            time.sleep(backoff.next())
    writer = JsonlWriter(out_path)
    failed: list[str] = []
    workers: dict[str, int] = {}
    try:
        for i in range(len(chunks)):
            for row in results[i]["rows"]:
                writer.write(row)
            failed += results[i]["failed"]
            workers[results[i].get("worker", "?")] = workers.get(results[i].get("worker", "?"), 0) + 1
    except BaseException:
        writer.abort()
        raise
    writer.close()
    for line in failed:
        log.warning("%s (skipped)", line)
    elapsed = time.monotonic() - started
    done = sum(len(r["rows"]) for r in results.values())
    return {"job": job, "images": done, "failed": len(failed), "tasks": len(chunks), "workers": workers,
            "elapsed_s": elapsed, "images/s": done / elapsed if elapsed > 0 else 0.0, "jsonl": str(out_path)}


def main(argv: list[str] | None = None) -> int:
    from ..cli import print_summary, report_errors
    from ..config import load_config

    p = argparse.ArgumentParser(prog="python -m facemask submit",
                                description="Split an image folder into tasks for the workers; merge results.jsonl.")
    broker_args(p)
    p.add_argument("--input_image_dir", required=True, help="folder of images")
    p.add_argument("--output_image_dir", required=True, help="folder for results.jsonl")
    p.add_argument("--jsonl", help="JSON Lines output path (default: OUTPUT/results.jsonl)")
    p.add_argument("--recursive", action="store_true", help="also the images in sub-folders")
    p.add_argument("--task-images", type=int, help="images per task (default: broker.task_images)")
    p.add_argument("--timeout", type=float, help="give up after this many seconds")
    args = p.parse_args(argv)

    def body() -> int:
        cfg = load_config(args.config, args.overrides)
        out = Path(args.jsonl) if args.jsonl else Path(args.output_image_dir) / "results.jsonl"
        out.parent.mkdir(parents=True, exist_ok=True)
        summary = submit(cfg, broker_url(cfg.broker, args.broker), Path(args.input_image_dir), out,
                         args.recursive, args.task_images, args.timeout)
        summary["workers"] = ", ".join(f"{k} ({v})" for k, v in sorted(summary["workers"].items()))
        print_summary("facemask submit", summary)
        return 0 if summary["images"] or not summary["tasks"] else 1

    return report_errors(body)
