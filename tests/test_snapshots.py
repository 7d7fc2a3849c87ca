"""A person's snapshot shows a face the classifier judged, on a real frame with the real models."""

from __future__ import annotations

import time

import cv2
import numpy as np

from facemask.config import load_config
from facemask.filters import LOW_SCORE
from facemask.io.sinks.base import FrameOutput
from facemask.io.sinks.snapshots import SnapshotSink, crop, quality
from facemask.pipeline import FramePipeline, video_config
from facemask.types import Event, EventKind, Face, Frame, FrameResult
from tests.conftest import REPO, VIDEOS

CLIP = VIDEOS / "mask_putting_on_4people_diazoniclabs.mp4"


def test_the_snapshot_is_never_a_box_the_classifier_skipped(tmp_path):
    """A track also takes boxes that are not classified (low score, too small, not a whole face);
    on andrewendlesss the largest of two tracks' boxes were a hand and a coat, and the snapshot
    (and the alert that links it) showed those. A larger, sharper skipped box of the same track
    must not replace the judged face."""
    cfg = video_config(load_config(REPO / "configs" / "config-x86.json", [f"snapshots.dir={tmp_path / 'snaps'}"]))
    cap = cv2.VideoCapture(str(CLIP))
    image = cap.read()[1]
    cap.release()
    h, w = image.shape[:2]
    judged = [f for f in FramePipeline(cfg).process(image).faces if f.mask_prob is not None]
    assert judged, "the first frame has classified faces"
    face = judged[0]
    face.track_id = 7
    # the same track one frame later on a low-score box three times the face's size around it
    # (the face with the shoulders and a hand)
    cx, cy, half = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2, 1.5 * face.size
    box = np.clip([cx - half, cy - half, cx + half, cy + half], 0, [w - 1, h - 1, w - 1, h - 1]).astype(np.float32)
    skipped = Face(box=box, score=0.4, skip_reason=LOW_SCORE, track_id=7)
    assert quality(image, skipped) > quality(image, face)  # by size and sharpness it would win

    sink = SnapshotSink(cfg, "door", tmp_path / "db.sqlite")
    for i, f in enumerate((face, skipped)):
        sink.on_frame(FrameOutput(Frame(image, i, i / 25), FrameResult(w, h, faces=[f]), lambda im, r: im))
    sink.on_event(Event(kind=EventKind.DECIDED, camera="door", id="r-1", person="door/r/7", track_id=7, frame=1,
                        time_s=0.04, wall_time=time.time(), status="person", decision=face.label, balance=4))
    sink.close()
    written = cv2.imread(str(sink.path_for("door/r/7")))
    expected, _ = crop(image, face, cfg.snapshots.pad, cfg.snapshots.max_px)
    assert written is not None and written.shape == expected.shape
    assert np.abs(written.astype(np.float32) - expected).mean() < 8  # the judged face, JPEG aside
