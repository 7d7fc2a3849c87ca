"""Zones and the counting line: geometry, and a real clip with a known crossing.

omullan_test1.avi (hand-counted in ../shared/data/video_people): one woman stands at the back
door, then walks to the camera and leaves at the bottom: she crosses a line at 70 % of the
height once, downwards. The area "front" (below 55 %) leaves the door outside: her face there is
tracked but not classified. The run goes through the command a user runs, with MQTT to a real
mosquitto, so the crossing is checked in the summary, the per-frame results and the retained
counters.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from facemask.config import CameraZones, LineConfig, ZoneConfig
from facemask.types import Face
from facemask.zones import LineCounter, Zones
from tests.conftest import SHARED, run_script
from tests.servers import Mosquitto, Subscriber, wait_until

CLIP = SHARED / "data" / "video_people" / "omullan_test1.avi"
ZONES = {"areas": [{"name": "front", "points": [[0, 0.55], [1, 0.55], [1, 1], [0, 1]]}],
         "line": {"points": [[0, 0.7], [1, 0.7]]}}


def face(track: int, cx: float, cy: float) -> Face:
    return Face(box=np.array([cx - 10, cy - 10, cx + 10, cy + 10], np.float32), score=0.9, track_id=track)


def test_crossing_direction_segment_and_zones():
    zones = Zones(CameraZones(areas=[ZoneConfig(name="left", points=[[0, 0], [50, 0], [50, 100], [0, 100]])],
                              line=LineConfig(points=[[0, 0.5], [0.6, 0.5]])), 100, 100)  # y = 50, x 0..60
    assert zones.zone_of((10, 10)) == "left" and zones.zone_of((80, 10)) is None
    counter = LineCounter(zones)
    path = {1: [(20, 30), (20, 45), (20, 55)],  # down across the line, in "left": in
            2: [(55, 70), (55, 40)],  # up across it, outside the area: out
            3: [(90, 30), (90, 70)],  # beyond the end of the segment: nothing
            4: [(30, 40), (30, 49), (30, 48)]}  # never reaches it
    for step in range(3):
        counter.update([face(t, *pts[step]) for t, pts in path.items() if step < len(pts)], step / 10)
    assert counter.snapshot() == {"in": 1, "out": 1, "zones": {"left": {"in": 1, "out": 0}, "-": {"in": 0, "out": 1}}}
    flipped = LineCounter(Zones(CameraZones(line=LineConfig(points=[[0, 50], [60, 50]], in_side="left")), 100, 100))
    flipped.update([face(1, 20, 40)], 0.0)
    flipped.update([face(1, 20, 60)], 0.1)
    assert flipped.counts == {"in": 0, "out": 1}


@pytest.fixture(scope="module")
def crossing_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("zones")
    broker = Mosquitto(tmp / "broker").start()
    try:
        out = tmp / "door.mp4"
        proc = run_script("inference_video.py", "--config", "configs/config-x86.json", "--input_video_path", CLIP,
                          "--output_video", out, "--no-progress", "--max-frames", "185",
                          "--set", f"zones.default={json.dumps(ZONES)}", "--set", "mqtt.enabled=true",
                          "--set", f"mqtt.port={broker.port}")
        assert proc.returncode == 0, proc.stderr
        sub = Subscriber(broker.port, "facemask/#", client_id="zones-reader")
        try:
            retained = wait_until(lambda: sub.json_on("facemask/door/people"), what="retained counters")
        finally:
            sub.close()
    finally:
        broker.stop()
    summary = json.loads((tmp / "door.summary.json").read_text())
    results = [json.loads(line) for line in (tmp / "door.jsonl").read_text().splitlines()]
    return proc, summary, results, retained[-1]


def test_the_known_crossing_is_counted_once_in_the_summary_and_on_mqtt(crossing_run):
    proc, summary, _, retained = crossing_run
    assert summary["line"] == {"in": 1, "out": 0, "zones": {"front": {"in": 1, "out": 0}}}
    assert "line_in: 1" in proc.stdout and "line_out: 0" in proc.stdout
    assert retained["line"] == summary["line"] and retained["people"] == summary["people"]


def test_faces_outside_the_area_are_tracked_not_classified(crossing_run):
    _, _, results, _ = crossing_run
    outside = [f for r in results for f in r["faces"] if f.get("skip_reason") == "outside_area"]
    assert len(outside) > 50  # the woman at the door, for seconds
    assert all(f["label"] == "unknown" for f in outside)
    assert any("track_id" in f for f in outside)
    for r in results:
        for f in r["faces"]:
            cy = (f["box"][1] + f["box"][3]) / 2
            if f.get("skip_reason") is None:
                assert cy >= 0.55 * r["height"]  # classified faces are all inside "front"
