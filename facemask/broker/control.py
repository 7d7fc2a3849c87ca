"""``python -m facemask camera add|remove|update|list``: cameras changed by a message, no restart.

A camera is one durable message on ``<prefix>.cameras``: ``{"camera": {name, source, loop,
max_fps}, "set": ["section.key=value", ...], "version": ns}``. ``set`` overrides the worker's
config for this camera (e.g. ``detector.max_side=320``).

* ``add NAME=SOURCE``: publishes the message; a worker with room takes it.
* ``remove NAME`` / ``update NAME [--source ...] [--set ...]``: a control message on the fanout
  exchange reaches every worker; the one running the camera replies, stops it and acknowledges
  its message (``update``: after publishing the changed one, confirmed, so the camera is never
  lost). When no worker runs it (it waits in the queue), the command takes the waiting
  messages, drops or replaces the camera's own and hands the others back. Workers remember the
  version, so a stale copy of the camera delivered later is dropped.
* ``list``: every worker replies with its cameras; the queue tells how many wait.
"""

from __future__ import annotations

import argparse
import json
import re
import time
import uuid
from typing import Any

from ..config import CameraConfig, Config
from .connection import Names, broker_args, broker_url, connect, declare, persistent


def assignment(name: str, source: str | int, loop: bool = True, max_fps: float = 0.0,
               overrides: list[str] | None = None, version: int | None = None) -> dict:
    cam = CameraConfig.model_validate({"name": name, "source": source, "loop": loop, "max_fps": max_fps})
    return {"camera": cam.model_dump(), "set": list(overrides or []), "version": version or time.time_ns()}


def updated(old: dict, msg: dict) -> dict:
    """The assignment after an ``update`` control message (``changes``: camera fields, ``set``)."""
    changes = msg.get("changes", {})
    cam = CameraConfig.model_validate({**old["camera"], **changes.get("camera", {})})
    return {"camera": cam.model_dump(), "set": list(changes.get("set", old.get("set", []))),
            "version": int(msg["version"])}


class Control:
    def __init__(self, cfg: Config, url: str):
        self.cfg, self.names = cfg, Names.of(cfg.broker)
        self.conn = connect(url, cfg.broker, "facemask-camera")
        self.ch = self.conn.channel()
        declare(self.ch, self.names)
        self.ch.confirm_delivery()

    def close(self) -> None:
        self.conn.close()

    def add(self, item: dict) -> None:
        self.ch.basic_publish("", self.names.cameras, json.dumps(item).encode(),
                              persistent(f"{item['camera']['name']}-{item['version']}"), mandatory=True)

    def _broadcast(self, msg: dict, wait_s: float, until_one: bool, until: int | None = None) -> list[dict]:
        reply = self.ch.queue_declare("", exclusive=True, auto_delete=True).method.queue
        msg = {**msg, "reply_to": reply, "id": uuid.uuid4().hex}
        self.ch.basic_publish(self.names.control, "", json.dumps(msg).encode(), persistent(msg["id"]))
        replies: list[dict] = []
        deadline = time.monotonic() + wait_s
        for method, _props, body in self.ch.consume(reply, auto_ack=True, inactivity_timeout=0.2):
            if method is not None:
                replies.append(json.loads(body))
                if until_one or (until is not None and sum(r.get("capacity", 0) > 0 for r in replies) >= until):
                    break
            if time.monotonic() > deadline:
                break
        self.ch.cancel()
        return replies

    def change(self, op: str, name: str, changes: dict | None = None, wait_s: float = 10.0) -> str:
        """Remove or update camera ``name``; says which worker took it."""
        version = time.time_ns()
        msg: dict[str, Any] = {"op": op, "camera": name, "version": version, "changes": changes or {}}
        replies = self._broadcast(msg, wait_s, until_one=True)
        if replies:
            return f"camera {name}: {op} taken by worker {replies[0]['worker']}"
        # Nobody runs it: take the waiting messages, drop / replace the camera's, hand the rest back.
        found = 0
        while True:
            method, props, body = self.ch.basic_get(self.names.cameras, auto_ack=False)
            if method is None:
                break
            try:
                item = json.loads(body)
                mine = item["camera"]["name"] == name and int(item.get("version", 0)) < version
            except (ValueError, KeyError, TypeError):
                mine = False
            if mine:
                if op == "update" and not found:
                    self.add(updated(item, msg))
                self.ch.basic_ack(method.delivery_tag)
                found += 1
        self.ch.close()  # unacknowledged messages go back to the queue
        self.ch = self.conn.channel()
        self.ch.confirm_delivery()
        if found:
            return f"camera {name}: {op} applied to its waiting message"
        return f"camera {name}: no worker runs it and none waits for it (nothing to {op})"

    def list(self, wait_s: float = 15.0) -> dict:
        """Every worker's cameras: waits for as many camera workers as consume the camera queue
        (task-only workers that answer by then are listed too)."""
        q = self.ch.queue_declare(self.names.cameras, durable=True, passive=True).method
        replies = self._broadcast({"op": "list"}, wait_s if q.consumer_count else 2.0, until_one=False,
                                  until=q.consumer_count)
        waiting = self.ch.queue_declare(self.names.cameras, durable=True, passive=True).method.message_count
        return {"workers": replies, "waiting": waiting}


def _camera_arg(text: str) -> tuple[str, str | int | None]:
    m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9_-]{0,31})(?:=(.+))?", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME or NAME=SOURCE")
    spec = m.group(2)
    return m.group(1), (int(spec) if spec and spec.isdigit() else spec)


def main(argv: list[str] | None = None) -> int:
    from ..cli import report_errors
    from ..config import load_config
    from ..errors import ConfigError

    p = argparse.ArgumentParser(prog="python -m facemask camera", description="Add, remove, change or list broker cameras.")
    p.add_argument("op", choices=["add", "remove", "update", "list"])
    p.add_argument("camera", nargs="*", type=_camera_arg, help="NAME=SOURCE (add), NAME (remove, update)")
    broker_args(p, overrides=False)
    p.add_argument("--set", dest="overrides", action="append", default=None, metavar="SECTION.KEY=VALUE",
                   help="config override for this camera on its worker (repeatable)")
    p.add_argument("--source", help="update: the new source")
    p.add_argument("--no-loop", action="store_true", help="a video file plays once (then the camera is done)")
    p.add_argument("--max-fps", type=float, default=None, help="cap on processed frames per second")
    p.add_argument("--from-config", action="store_true", help="add: every camera of app.cameras")
    args = p.parse_intermixed_args(argv)

    def body() -> int:
        cfg = load_config(args.config)
        ctl = Control(cfg, broker_url(cfg.broker, args.broker))
        try:
            if args.op == "list":
                print(json.dumps(ctl.list(), indent=2))
                return 0
            if args.op == "add":
                items = [assignment(c.name, c.source, c.loop, c.max_fps, args.overrides)
                         for c in (cfg.app.cameras if args.from_config else [])]
                for name, spec in args.camera:
                    if spec is None:
                        raise ConfigError(f"camera add {name}: expected NAME=SOURCE")
                    items.append(assignment(name, spec, not args.no_loop, args.max_fps or 0.0, args.overrides))
                for item in items:
                    ctl.add(item)
                    print(f"camera {item['camera']['name']}: added")
                return 0
            for name, spec in args.camera:
                changes: dict[str, Any] = {"camera": {}}
                source = spec if spec is not None else args.source
                if source is not None:
                    changes["camera"]["source"] = source
                if args.max_fps is not None:
                    changes["camera"]["max_fps"] = args.max_fps
                if args.no_loop:
                    changes["camera"]["loop"] = False
                if args.overrides is not None:
                    changes["set"] = args.overrides
                print(ctl.change(args.op, name, changes))
            return 0
        finally:
            ctl.close()

    return report_errors(body)
