"""``python -m facemask worker --broker amqp://...``: a process that runs cameras and image tasks.

Per-person tracking needs every frame of a camera in one place, so the unit of work is a camera:
one durable message per camera on ``<prefix>.cameras`` (see :mod:`.control`). The worker takes up
to ``--capacity`` of them (its prefetch) and keeps each one unacknowledged while the camera runs,
a :class:`facemask.run.Runner` (live) with a :class:`~facemask.io.sinks.broker.BrokerSink`. When
the worker dies, its connection closes and RabbitMQ hands its cameras to other workers; when the
broker goes away, the worker stops its cameras (their messages go back to the queue), reconnects
with backoff and takes cameras again. A camera whose source fails is retried with backoff: it
stays assigned. A file camera without ``loop`` that played to its end is acknowledged (done).

Image tasks (``<prefix>.tasks``, see :mod:`.tasks`) run on ``broker.task_slots`` threads; a task
is acknowledged after its result was confirmed by the broker.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import signal
import socket
import threading
import time
from typing import Any

from ..config import CameraConfig, Config
from ..errors import FacemaskError
from .connection import Backoff, Names, broker_args, broker_url, connect, connection_errors, declare, redact_url
from .publisher import Message, Publisher

log = logging.getLogger("facemask.broker")


def camera_config(cfg: Config, overrides: list[str]) -> Config:
    """The worker's config with an assignment's ``--set`` overrides applied."""
    from ..config import _apply_override, parse_config

    if not overrides:
        return cfg
    data = cfg.model_dump(mode="python")
    for item in overrides:
        _apply_override(data, item)
    return parse_config(data, "camera overrides")


class _Throttle:
    """A sink that caps the processed frame rate (``max_fps`` of the camera)."""

    def __init__(self, max_fps: float, stop: threading.Event):
        self.period, self.stop, self._last = 1.0 / max_fps, stop, 0.0

    def on_frame(self, out) -> None:
        wait = self._last + self.period - time.monotonic()
        if wait > 0:
            self.stop.wait(wait)
        self._last = time.monotonic()

    def on_event(self, event) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class CameraRun:
    """One assigned camera: its source, a video session per opening, the broker sink."""

    def __init__(self, worker: "Worker", assignment: dict, tag: int):
        self.worker, self.tag = worker, tag
        self.assignment = assignment
        self.cam = CameraConfig.model_validate(assignment["camera"])
        self.name = self.cam.name
        self.version = int(assignment.get("version", 0))
        self.cfg = camera_config(worker.cfg, list(assignment.get("set", [])))
        self.stop = threading.Event()
        self.ended = False  # a file without loop played to its end: acknowledge the assignment
        self.finished = threading.Event()
        self.runs = 0
        self._thread = threading.Thread(target=self._loop, name=f"camera-{self.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        self.stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        from ..io.sinks.broker import BrokerSink
        from ..io.sources import open_source
        from ..pipeline import FramePipeline, video_config
        from ..run import Runner
        from ..video import VideoSession

        b = self.cfg.broker
        backoff = Backoff(self.cfg.app.reconnect_max_s)
        pipeline = None
        try:
            while not self.stop.is_set():
                try:
                    if pipeline is None:
                        pipeline = FramePipeline(video_config(self.cfg))
                    source = open_source(self.cam.source, loop=self.cam.loop, realtime=True)
                except FacemaskError as exc:
                    delay = backoff.next()
                    log.warning("camera %s: %s (retrying in %.1f s)", self.name, exc, delay)
                    self.stop.wait(delay)
                    continue
                session = VideoSession(self.cfg, source.info.fps, pipeline=pipeline, camera=self.name, live=True)
                fps = source.info.fps

                def counters(s: VideoSession = session) -> dict | None:
                    return s.summary() or None

                def extra(fps: float = fps) -> dict:
                    return {"source_fps": fps}

                sink = BrokerSink(self.worker.publisher, self.name, self.worker.name, session.ids.run, counters,
                                  b.stats_interval_s, b.frame_interval_s, b.frame_max_side, self.cfg.output.jpeg_quality,
                                  extra=extra)
                sinks: list[Any] = [sink]
                if self.cam.max_fps > 0:
                    sinks.append(_Throttle(self.cam.max_fps, self.stop))
                self.runs += 1
                log.info("camera %s: running on %s (run %s)", self.name, self.worker.name, session.ids.run)
                started = time.monotonic()
                try:
                    rep = Runner(source, session, sinks, live=True, stop=self.stop,
                                 on_frame_error=lambda f, e: log.warning("camera %s: frame %s: %s", self.name, f.index, e)
                                 ).run()
                except Exception as exc:  # a failing source or a bug: retry, the camera stays assigned
                    log.warning("camera %s: %s", self.name, exc)
                    rep = None
                finally:
                    source.close()
                if self.stop.is_set():
                    break
                if rep is not None and rep.completed and not source.info.live and not self.cam.loop:
                    self.ended = True
                    break
                if time.monotonic() - started > 10:
                    backoff.reset()
                self.stop.wait(backoff.next())
        finally:
            self.finished.set()


class Worker:
    def __init__(self, cfg: Config, url: str, capacity: int | None = None, task_slots: int | None = None,
                 name: str | None = None, events_log: str | None = None):
        self.cfg, self.url = cfg, url
        self.names = Names.of(cfg.broker)
        self.capacity = cfg.broker.capacity if capacity is None else capacity
        self.task_slots = cfg.broker.task_slots if task_slots is None else task_slots
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.cameras: dict[str, CameraRun] = {}
        self.superseded: dict[str, int] = {}  # camera -> newest version a control message named
        self.tasks: list[Any] = []  # delivered, not yet acknowledged
        self._task_queue: queue.Queue | None = None
        self._events_log = open(events_log, "a", buffering=1, encoding="utf-8") if events_log else None
        self._log_lock = threading.Lock()
        self.publisher: Publisher  # made by run()

    # ------------------------------------------------------------ confirmations

    def _audit(self, what: str, msg: Message) -> None:
        """``--events-log``: "sent ID" before an event goes out, "confirmed ID" once the broker has it."""
        meta = msg.meta
        if self._events_log is not None and isinstance(meta, tuple) and meta[0] == "event":
            with self._log_lock:
                self._events_log.write(f"{what} {meta[1]}\n")

    def _on_confirm(self, msg: Message) -> None:
        if isinstance(msg.meta, threading.Event):
            msg.meta.set()
        self._audit("confirmed", msg)

    # ------------------------------------------------------------ the loop

    def run(self, stop: threading.Event) -> None:
        self.publisher = Publisher(self.url, self.cfg.broker, f"{self.name}-publish", on_confirm=self._on_confirm,
                                   on_send=lambda m: self._audit("sent", m))
        errors = connection_errors()
        backoff = Backoff(self.cfg.broker.reconnect_max_s)
        try:
            while not stop.is_set():
                try:
                    conn = connect(self.url, self.cfg.broker, self.name)
                except errors as exc:
                    delay = backoff.next()
                    log.warning("worker %s: broker %s unreachable (%s), retrying in %.1f s", self.name,
                                redact_url(self.url), type(exc).__name__, delay)
                    stop.wait(delay)
                    continue
                try:
                    backoff.reset()
                    self._serve(conn, stop)
                except errors as exc:
                    log.warning("worker %s: broker connection lost (%s); its cameras go back to the queue",
                                self.name, type(exc).__name__)
                finally:
                    self._stop_all()  # before the connection closes: final samples go out first
                    if stop.is_set():
                        self.publisher.flush(10.0)  # else they wait in the buffer for the broker
                    try:
                        conn.close()
                    except Exception:
                        pass
                if not stop.is_set():
                    stop.wait(backoff.next())
        finally:
            self._stop_all()
            self.publisher.close()
            if self._events_log is not None:
                self._events_log.close()

    def _serve(self, conn, stop: threading.Event) -> None:
        ch = conn.channel()
        declare(ch, self.names)
        ctl = ch.queue_declare("", exclusive=True, auto_delete=True).method.queue
        ch.queue_bind(ctl, self.names.control)
        ch.basic_consume(ctl, lambda c, m, p, body: self._on_control(c, body), auto_ack=True)
        if self.capacity > 0:
            ch.basic_qos(prefetch_count=self.capacity)
            ch.basic_consume(self.names.cameras, self._on_camera)
        tch = None
        if self.task_slots > 0:
            tch = conn.channel()
            tch.basic_qos(prefetch_count=self.task_slots)
            task_tag = tch.basic_consume(self.names.tasks, lambda c, m, p, body: self._on_task(c, m, body))
        log.info("worker %s: ready (capacity %d cameras, %d task slot(s)) on %s", self.name, self.capacity,
                 self.task_slots, redact_url(self.url))
        print(f"facemask worker {self.name}: ready", flush=True)
        while not stop.is_set():
            conn.process_data_events(time_limit=0.5)
            self._reap(ch)
        if tch is not None:  # stopping: no new task; the running ones finish and are acknowledged
            tch.basic_cancel(task_tag)
            while self._task_queue is not None and not self._task_queue.empty():
                try:
                    self.tasks.remove(self._task_queue.get_nowait())  # not started: back to the queue
                except (queue.Empty, ValueError):
                    pass
            deadline = time.monotonic() + 300
            while self.tasks and time.monotonic() < deadline:
                conn.process_data_events(time_limit=0.2)

    def _reap(self, ch, tch=None) -> None:
        """Acknowledge the cameras that ended (tasks acknowledge themselves, see _task_done)."""
        for name, run in list(self.cameras.items()):
            if run.finished.is_set() and not run.stop.is_set():
                del self.cameras[name]
                if run.ended:
                    log.info("camera %s: the video ended, assignment done", name)
                ch.basic_ack(run.tag)

    def _stop_all(self) -> None:
        runs, self.cameras = list(self.cameras.values()), {}
        for run in runs:
            run.stop.set()
        for run in runs:
            run.close()
        self.tasks = []  # unacknowledged tasks go back to the queue with the connection

    # ------------------------------------------------------------ cameras

    def _on_camera(self, ch, method, props, body: bytes) -> None:
        try:
            assignment = json.loads(body)
            run = CameraRun(self, assignment, method.delivery_tag)
        except (ValueError, KeyError, TypeError, FacemaskError) as exc:
            log.error("worker %s: invalid camera message dropped (%s)", self.name, exc)
            ch.basic_ack(method.delivery_tag)
            return
        if run.version < self.superseded.get(run.name, -1):
            log.info("camera %s: version %d superseded, dropped", run.name, run.version)
            ch.basic_ack(method.delivery_tag)
            return
        old = self.cameras.get(run.name)
        if old is not None:  # two assignments of one camera: keep the newer
            if old.version >= run.version:
                log.warning("camera %s: a second assignment (version %d) dropped", run.name, run.version)
                ch.basic_ack(method.delivery_tag)
                return
            old.close()
            ch.basic_ack(old.tag)
        self.cameras[run.name] = run
        run.start()

    def _on_control(self, ch, body: bytes) -> None:
        try:
            msg = json.loads(body)
            op, name, version = msg["op"], str(msg.get("camera")), int(msg.get("version", 0))
        except (ValueError, KeyError, TypeError) as exc:
            log.error("worker %s: invalid control message (%s)", self.name, exc)
            return
        if op == "list":
            if msg.get("reply_to"):
                self.publisher.publish(msg["reply_to"], {"worker": self.name, "capacity": self.capacity, "cameras": [
                    {"name": r.name, "version": r.version, "source": str(r.cam.source), "set": r.assignment.get("set", [])}
                    for r in self.cameras.values()]}, exchange="")
            return
        self.superseded[name] = max(self.superseded.get(name, -1), version)
        run = self.cameras.get(name)
        if run is None or run.version >= version or op not in ("remove", "update"):
            return
        log.info("camera %s: %s (version %d)", name, op, version)
        if msg.get("reply_to"):  # at once: stopping the camera can take a moment
            self.publisher.publish(msg["reply_to"], {"camera": name, "op": op, "worker": self.name}, exchange="")
        del self.cameras[name]
        run.close()
        if op == "update":  # the new assignment is durable before the old one goes
            from .control import updated

            confirmed = threading.Event()
            self.publisher.publish(self.names.cameras, updated(run.assignment, msg), exchange="", meta=confirmed,
                                   message_id=f"{name}-{version}")
            confirmed.wait(30)
        ch.basic_ack(run.tag)

    # ------------------------------------------------------------ image tasks

    def _on_task(self, ch, method, body: bytes) -> None:
        from .tasks import TaskRun

        task = TaskRun(self, method.delivery_tag, bool(method.redelivered), body)
        task.channel, task.connection = ch, ch.connection
        self.tasks.append(task)
        if self._task_queue is None:  # task_slots threads, each keeping its pipeline between tasks
            self._task_queue = queue.Queue()
            for i in range(self.task_slots):
                threading.Thread(target=self._task_loop, args=(self._task_queue,), name=f"task-{i}", daemon=True).start()
        self._task_queue.put(task)

    def _task_loop(self, tasks: queue.Queue) -> None:
        while True:
            task = tasks.get()
            task.run()
            try:  # acknowledge on the connection's own thread, now (not at the next poll)
                task.connection.add_callback_threadsafe(lambda t=task: self._task_done(t))
            except Exception:  # that connection is gone: the broker hands the task out again
                task.done.set()

    def _task_done(self, task) -> None:
        try:
            if task.channel.is_open:
                if task.ok:
                    task.channel.basic_ack(task.tag)
                else:  # a second failure drops it
                    task.channel.basic_nack(task.tag, requeue=not task.redelivered)
        finally:
            if task in self.tasks:
                self.tasks.remove(task)
            task.done.set()


def main(argv: list[str] | None = None) -> int:
    from ..cli import report_errors
    from ..config import load_config

    p = argparse.ArgumentParser(prog="python -m facemask worker",
                                description="Run cameras and image tasks taken from RabbitMQ.")
    broker_args(p)
    p.add_argument("--capacity", type=int, help="cameras this worker may run (default: broker.capacity)")
    p.add_argument("--task-slots", type=int, help="image tasks run at a time (default: broker.task_slots)")
    p.add_argument("--name", help="worker name in events and logs (default: host-pid)")
    p.add_argument("--events-log", help="audit trail: 'sent ID' before each event goes out, 'confirmed ID' once the broker has it")
    args = p.parse_args(argv)

    def body() -> int:
        cfg = load_config(args.config, args.overrides)
        worker = Worker(cfg, broker_url(cfg.broker, args.broker), args.capacity, args.task_slots, args.name,
                        args.events_log)
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        worker.run(stop)
        return 0

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    return report_errors(body)
