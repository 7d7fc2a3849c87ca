"""Alerts: rules (``alerts`` in the config) that watch one camera's events and frames, each
with a cooldown, sent to MQTT (``<prefix>/alerts``), to webhooks and to the page (recorded in
SQLite, shown as a banner).

* ``unmasked``: a counted person decided unmasked or mask worn incorrectly;
* ``pct_masked_below``: among the people decided in the last ``window_min`` minutes (at least
  ``min_people`` of them), fewer than ``threshold_pct`` % masked;
* ``camera_down``: no frame for more than ``after_s`` seconds (a watchdog thread, since a camera
  that is down sends nothing to react to).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ...config import AlertRule, Config
from ...types import INCORRECT, MASK, NO_MASK, Event, EventKind
from .base import FrameOutput, SinkBase
from .records import Records
from .webhook import Webhook

if TYPE_CHECKING:
    from .mqtt import MqttSink

log = logging.getLogger("facemask")

DECISION_KINDS = (EventKind.PERSON, EventKind.DECIDED, EventKind.DECISION_CHANGED)


class AlertsSink(SinkBase):
    def __init__(self, cfg: Config, camera: str, db_path: str | Path | None, mqtt: MqttSink | None = None,
                 snapshot_url: Callable[[str], str | None] | None = None, clock: Callable[[], float] = time.time):
        self.camera = camera
        self.rules = [r for r in cfg.alerts if r.cameras is None or camera in r.cameras]
        self.records = Records(db_path) if db_path is not None else None
        self.mqtt = mqtt
        self.webhooks = [Webhook(w) for w in cfg.webhooks]
        self.snapshot_url = snapshot_url or (lambda person: None)
        self.clock = clock
        self.sent: list[dict[str, Any]] = []
        self._last: dict[int, float] = {}  # rule index -> time of its latest alert
        self._decisions: collections.deque[tuple[float, str, str]] = collections.deque()  # (time, person, decision)
        self._last_frame = clock()
        self._down_since: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watchdog = None
        if any(r.type == "camera_down" for r in self.rules):
            self._watchdog = threading.Thread(target=self._watch, name=f"alerts-{camera}", daemon=True)
            self._watchdog.start()

    # ------------------------------------------------------------ rules

    def _fire(self, index: int, rule: AlertRule, message: str, **data: Any) -> bool:
        now = self.clock()
        with self._lock:
            last = self._last.get(index)
            if last is not None and now - last < rule.cooldown_s:
                return False
            self._last[index] = now
        alert = {"rule": rule.name or rule.type, "type": rule.type, "camera": self.camera, "time": round(now, 3),
                 "message": message, "sound": rule.sound, **data}
        self.sent.append(alert)
        if "page" in rule.notify and self.records is not None:
            alert["id"] = self.records.add_alert(alert)
        if "mqtt" in rule.notify and self.mqtt is not None:
            self.mqtt.publish_alert(alert)
        if "webhook" in rule.notify:
            for hook in self.webhooks:
                hook.send(alert)
        log.warning("alert %s on %s: %s", alert["rule"], self.camera, message)
        return True

    def on_frame(self, out: FrameOutput) -> None:
        with self._lock:
            self._last_frame = self.clock()
            self._down_since = None

    def on_event(self, event: Event) -> None:
        if event.kind not in DECISION_KINDS or event.status != "person" or event.decision not in (MASK, NO_MASK, INCORRECT):
            return
        now = self.clock()
        self._decisions.append((now, event.person, event.decision))
        for i, rule in enumerate(self.rules):
            if rule.type == "unmasked" and event.decision != MASK:
                what = "mask worn incorrectly" if event.decision == INCORRECT else "unmasked"
                self._fire(i, rule, f"person #{event.track_id} {what}", person=event.person, track_id=event.track_id,
                           decision=event.decision, snapshot=self.snapshot_url(event.person))
            elif rule.type == "pct_masked_below":
                self._check_pct(i, rule, now)

    def _check_pct(self, index: int, rule: AlertRule, now: float) -> None:
        window = rule.window_min * 60.0
        latest: dict[str, str] = {}
        for t, person, decision in self._decisions:
            if now - t <= window:
                latest[person] = decision  # a person's latest decision in the window
        while self._decisions and now - self._decisions[0][0] > max(r.window_min for r in self.rules) * 60.0:
            self._decisions.popleft()
        people = len(latest)
        if people < rule.min_people:
            return
        pct = 100.0 * sum(d == MASK for d in latest.values()) / people
        if pct < rule.threshold_pct:
            self._fire(index, rule, f"{pct:.0f}% masked over the last {rule.window_min:g} min ({people} people)",
                       pct_masked=round(pct, 1), people=people, window_min=rule.window_min)

    def _watch(self) -> None:
        rules = [(i, r) for i, r in enumerate(self.rules) if r.type == "camera_down"]
        while not self._stop.wait(0.5):
            now = self.clock()
            with self._lock:
                idle = now - self._last_frame
            for i, rule in rules:
                if idle > rule.after_s:
                    self._fire(i, rule, f"no frame for {idle:.0f} s", down_s=round(idle, 1))

    # ------------------------------------------------------------ end

    def close(self) -> None:
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(2.0)
        for hook in self.webhooks:
            hook.close()
        if self.records is not None:
            self.records.close()

    def abort(self) -> None:
        self.close()
