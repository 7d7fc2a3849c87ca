"""Publishing a live camera (facemask.io.sinks.publish): pictures encoded off the camera's
thread, and drawn only every few seconds while nobody watches."""

from __future__ import annotations

import threading

import cv2
import numpy as np

from facemask.io.sinks.publish import FrameEncoder, PublishSink
from facemask.io.sources import VideoFileSource
from facemask.run import Runner
from facemask.video import VideoSession
from tests.conftest import VIDEOS

VTEST = VIDEOS / "vtest_480x360.avi"


class Collect:
    """A channel that keeps what it is given (the web app's pipes do the same across processes)."""

    def __init__(self, slow_s: float = 0.0):
        self.frames: list[tuple[bytes, dict]] = []
        self.stats_sent: list[dict] = []
        self.threads: set[str] = set()
        self.slow = threading.Event()
        self.entered = threading.Event()
        self.slow_s = slow_s

    def state(self, state, message):
        pass

    def frame(self, jpeg, meta):
        self.threads.add(threading.current_thread().name)
        self.entered.set()
        if self.slow_s:
            self.slow.wait(self.slow_s)
        self.frames.append((jpeg, meta))

    def stats(self, stats):
        self.stats_sent.append(stats)

    def events(self, events):
        pass


def run(x86_config, watched, frames=40, stream_fps=0.0, idle_jpeg_s=2.0):
    channel = Collect()
    with VideoFileSource(VTEST) as source:
        session = VideoSession(x86_config, source.info.fps)
        drawn = []
        draw = session.draw
        session.draw = lambda image, result: (drawn.append(1), draw(image, result))[1]  # type: ignore[method-assign]
        sink = PublishSink(channel, session, run="r", stream_fps=stream_fps, max_side=320, watched=watched,
                           idle_jpeg_s=idle_jpeg_s)
        Runner(source, session, [sink], max_frames=frames).run()
    return channel, sink, len(drawn)


def test_a_watched_camera_publishes_scaled_pictures_encoded_off_its_thread(x86_config):
    channel, sink, drawn = run(x86_config, watched=lambda: True)
    assert drawn == 40  # stream_fps 0: every processed frame is drawn ...
    assert 1 <= len(channel.frames) <= 40 and sink.encoder.encoded + sink.encoder.replaced == 40
    assert channel.threads == {"facemask-jpeg"}  # ... and encoded on the encoder's thread
    image = cv2.imdecode(np.frombuffer(channel.frames[-1][0], np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (240, 320, 3)  # 480x360 scaled to max_side 320
    meta = channel.frames[-1][1]
    assert meta["index"] == 39 and meta["encoded_time"] >= meta["capture_time"]
    assert sink.shown_capture_time == meta["capture_time"]
    assert channel.stats_sent[-1]["jpeg_encoded"] == len(channel.frames)


def test_nobody_watching_draws_and_encodes_one_picture_per_idle_period(x86_config):
    watching = threading.Event()
    channel, sink, drawn = run(x86_config, watched=watching.is_set, idle_jpeg_s=3600.0)
    # 40 frames in far less than an hour: the first picture only (a page that opens sees it at once)
    assert drawn == 1 and len(channel.frames) == 1 and channel.frames[0][1]["index"] == 0


def test_the_encoder_keeps_only_the_newest_picture_waiting():
    channel = Collect(slow_s=0.3)
    encoder = FrameEncoder(channel, quality=80)
    image = np.full((64, 64, 3), 128, np.uint8)
    encoder.submit(image, {"capture_time": 0.0, "index": 0})
    assert channel.entered.wait(5.0)
    for i in range(1, 6):  # the first is being handed over (slowly) while the others arrive
        encoder.submit(image, {"capture_time": float(i), "index": i})
    encoder.close(timeout=5.0)
    assert [meta["index"] for _, meta in channel.frames] == [0, 5]  # 1-4 replaced while they waited
    assert encoder.replaced == 4 and encoder.encoded == 2


def test_camera_handle_counts_open_streams(tmp_path, x86_config):
    from facemask.config import CameraConfig
    from facemask.web.camera import CameraProcess
    from facemask.web.storage import Store

    store = Store(tmp_path / "db.sqlite")
    cam = CameraProcess(CameraConfig(name="c", source=str(VTEST)), x86_config, store)
    assert cam.viewers == 0
    with cam.watching(), cam.watching():
        assert cam.viewers == 2 and cam.info()["viewers"] == 2
    assert cam.viewers == 0
    store.close()


def test_shrink_keeps_the_picture_of_area_averaging_at_a_fraction_of_its_cost():
    from facemask.imageops import shrink

    cap = cv2.VideoCapture(str(VIDEOS / "towncentre_clip_1080p.mp4"))
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape == (1080, 1920, 3)
    assert shrink(frame, 0) is frame and shrink(frame, 1920) is frame
    for side, shape in ((1280, (720, 1280, 3)), (640, (360, 640, 3)), (500, (281, 500, 3))):
        small = shrink(frame, side)
        assert small.shape == shape
        area = cv2.resize(frame, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
        assert np.abs(small.astype(np.int16) - area).mean() < 1.5  # grey levels of 255
