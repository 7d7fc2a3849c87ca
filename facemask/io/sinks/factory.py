"""The operator outputs of one camera, built from the config: ``camera_sinks(cfg, camera, session)``.

The batch video command and each web camera add the returned sinks to their Runner's list:
MQTT (``mqtt.enabled``), alerts to MQTT / webhooks / the page (``alerts``), snapshots of each
decided person (``snapshots.enabled`` and ``privacy.store_images``). Snapshots come first (an
event's snapshot exists when MQTT and the alerts name it).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ...config import Config
from .base import FrameOutput, Sink, SinkBase

if TYPE_CHECKING:
    from ...run import CountingSession


def session_counters(session: CountingSession) -> dict:
    """The camera's counters now: the session's people counters plus line crossings."""
    counters = dict(session.stats.counters())
    counts = session.line_counts()
    if counts is not None:
        counters["line"] = counts
    return counters


def camera_sinks(cfg: Config, camera: str, session: CountingSession, db_path: str | Path | None = None,
                 snapshots: bool = True, snapshot_dir: str | Path | None = None,
                 record_line: bool = True) -> list[Sink]:
    """The sinks of ``camera`` (a video session's camera name); ``db_path``: the SQLite file where
    snapshots and alerts are recorded (default ``app.db_path``); ``snapshots``: False leaves
    them out whatever the config says; ``snapshot_dir`` replaces ``snapshots.dir``;
    ``record_line``: keep the line crossings in SQLite (the batch command has them in its summary)."""
    from .alerts import AlertsSink
    from .mqtt import MqttPublisher, MqttSink
    from .snapshots import SnapshotSink

    db = Path(db_path if db_path is not None else cfg.app.db_path)
    sinks: list[Sink] = []
    snapshot_sink = None
    if snapshots and cfg.snapshots.enabled and cfg.privacy.store_images:
        if snapshot_dir is not None:
            cfg = cfg.model_copy(update={"snapshots": cfg.snapshots.model_copy(update={"dir": str(snapshot_dir)})})
        snapshot_sink = SnapshotSink(cfg, camera, db)
        sinks.append(snapshot_sink)
    base = (cfg.mqtt.base_url or "").rstrip("/")
    url = (lambda person: snapshot_sink.url(person, base)) if snapshot_sink is not None else None
    mqtt_sink = None
    if cfg.mqtt.enabled:
        mqtt_sink = MqttSink(cfg.mqtt, camera, lambda: session_counters(session), url,
                             MqttPublisher(cfg.mqtt, camera).start())
        sinks.append(mqtt_sink)
    if cfg.alerts:
        sinks.append(AlertsSink(cfg, camera, db, mqtt=mqtt_sink, snapshot_url=url))
    if record_line and cfg.zones.for_camera(camera).line is not None:  # the page and the API read them there
        sinks.append(LineCountsSink(camera, session, db))
    return sinks


class LineCountsSink(SinkBase):
    """Writes the camera's line crossings to SQLite when they change (for the page and the API)."""

    def __init__(self, camera: str, session: CountingSession, db_path: Path):
        from .records import Records

        self.camera, self.session = camera, session
        self.records = Records(db_path)
        self._last: dict | None = None

    def _store(self) -> None:
        counts = self.session.line_counts()
        if counts is not None and counts != self._last:
            self._last = counts
            self.records.put_line_counts(self.camera, counts)

    def on_frame(self, out: FrameOutput) -> None:
        self._store()

    def close(self) -> None:
        self._store()
        self.records.close()
