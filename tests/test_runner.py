"""The one frame loop (facemask.run) and time, not frame counts, in the video session."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from facemask.detectors import Detector
from facemask.io.sinks import SinkBase
from facemask.io.sources import VideoFileSource, open_source, redact, scheme_of
from facemask.pipeline import FramePipeline
from facemask.run import Runner
from facemask.types import Event, EventIds, EventKind, Frame, FrameResult
from facemask.video import VideoSession
from facemask.io.sinks.publish import PublishSink
from tests.conftest import FOUR_PEOPLE, VIDEOS, clip_from
from tests.test_publish import Collect
from tests.test_tracking import ScriptedClassifier, cfg, face

VTEST = VIDEOS / "vtest_480x360.avi"


class ListSource:
    """Frames made here, with the timestamps a test chooses."""

    def __init__(self, times, size=(240, 320)):
        self.times = times
        self.size = size
        self.closed = False

    def __iter__(self):
        for i, t in enumerate(self.times):
            image = np.zeros((*self.size, 3), np.uint8)
            image[0, 0, 0] = i % 256
            yield Frame(image=image, index=i, time_s=t, wall_time=1000.0 + t)

    def close(self):
        self.closed = True


class Recorder(SinkBase):
    def __init__(self, fail_at: int | None = None):
        self.frames: list[int] = []
        self.events: list[Event] = []
        self.closed = self.aborted = False
        self.fail_at = fail_at

    def on_frame(self, out):
        if out.frame.index == self.fail_at:
            raise RuntimeError(f"sink failed on frame {self.fail_at}")
        self.frames.append(out.frame.index)
        assert out.annotated.shape == out.frame.image.shape

    def on_event(self, event):
        self.events.append(event)

    def close(self):
        self.closed = True

    def abort(self):
        self.aborted = True


class WalkerDetector(Detector):
    """One face walking right; counts full detections and region searches by stream time."""

    score_threshold = 0.5

    def __init__(self):
        self.full: list[int] = []

    def detect(self, frame, min_score=None):
        i = int(frame[0, 0, 0])
        self.full.append(i)
        return [face(20 + 2 * i, 40)]


def _session(config, fps=25.0):
    det = WalkerDetector()
    return VideoSession(config, fps, FramePipeline(config, detector=det, classifier=ScriptedClassifier())), det


def test_runner_closes_sinks_and_hands_out_events_once():
    config = cfg(tracker={"detect_every": 1}, stats={"min_track_frames": 3})
    session, _ = _session(config)
    sink = Recorder()
    rep = Runner(ListSource([i / 25 for i in range(30)]), session, [sink]).run()
    assert rep.completed and rep.frames_processed == 30 and sink.closed and not sink.aborted
    assert sink.frames == list(range(30))
    kinds = [e.kind for e in sink.events]
    assert kinds[0] == EventKind.TRACK_STARTED and kinds[-1] == EventKind.TRACK_ENDED  # finish() ended it
    assert len({e.id for e in sink.events}) == len(sink.events)


def test_a_failing_sink_aborts_every_sink_of_a_video_run():
    config = cfg(tracker={"detect_every": 1})
    session, _ = _session(config)
    good, bad = Recorder(), Recorder(fail_at=5)
    with pytest.raises(RuntimeError, match="frame 5"):
        Runner(ListSource([i / 25 for i in range(30)]), session, [good, bad]).run()
    assert good.aborted and bad.aborted and not good.closed


def test_per_frame_errors_are_counted_and_the_run_goes_on():
    config = cfg(tracker={"detect_every": 1})
    session, _ = _session(config)
    sink, seen = Recorder(fail_at=5), []
    rep = Runner(ListSource([i / 25 for i in range(10)]), session, [sink],
                 on_frame_error=lambda frame, exc: seen.append(frame.index)).run()
    assert seen == [5] and rep.frames_processed == 9 and len(rep.failed) == 1 and sink.closed


def test_max_frames_and_stop():
    config = cfg(tracker={"detect_every": 1})
    session, _ = _session(config)
    rep = Runner(ListSource([i / 25 for i in range(30)]), session, [Recorder()], max_frames=7).run()
    assert rep.frames_processed == 7 and not rep.completed
    stop = threading.Event()
    stop.set()
    session, _ = _session(config)
    rep = Runner(ListSource([i / 25 for i in range(30)]), session, [Recorder()], stop=stop).run()
    assert rep.frames_processed == 0


# ---------------------------------------------------------------- time, not frame counts


def test_full_detections_follow_time_when_frames_are_skipped():
    """A live camera that processes one frame in three (the CPU fell behind) still detects on the
    whole frame once per detect_every frames of time, never on every processed frame."""
    config = cfg(tracker={"detect_every": 5, "local_search": False, "hit_counter_max": 25})
    every_frame, det_all = _session(config)
    for i in range(100):
        every_frame.process(Frame(image=_image(i), index=i, time_s=i / 25))
    skipping, det_skip = _session(config)
    for i in range(0, 100, 3):
        skipping.process(Frame(image=_image(i), index=i, time_s=i / 25))
    assert det_all.full == list(range(0, 100, 5))
    # 0.2 s between full detections at most once: frames 0, 6, 12 ... (the first at or after 0.2 s)
    assert det_skip.full == list(range(0, 100, 6))
    assert len(det_skip.full) < len(range(0, 100, 3))


class SearchingWalker(WalkerDetector):
    """The walker, also found by a search around its tracked box (counted apart)."""

    searches_regions = True

    def __init__(self):
        super().__init__()
        self.searched: list[int] = []

    def detect_regions(self, frame, boxes, margin, min_score=None):
        i = int(frame[0, 0, 0])
        self.searched.append(i)
        return [face(20 + 2 * i, 40)]


def test_a_live_camera_that_skips_frames_keeps_the_batch_mix_of_full_detections():
    """Live, one frame in five processed (0.2 s apart, detect_every 5 at 25 fps): time alone would
    make every processed frame a full detection; the camera still runs detect_every - 1 local
    searches between two, as the batch command does on every frame of the file."""
    config = cfg(tracker={"detect_every": 5, "local_search": True, "hit_counter_max": 50})
    runs = {}
    for live in (False, True):
        det = SearchingWalker()
        session = VideoSession(config, 25.0, FramePipeline(config, detector=det, classifier=ScriptedClassifier()),
                               live=live)
        for n, i in enumerate(range(0, 200, 5)):
            session.process(Frame(image=_image(n), index=i, time_s=i / 25))
        runs[live] = det
    assert runs[False].full == list(range(40))  # a file: 0.2 s passed, every frame is due
    assert runs[True].full == list(range(0, 40, 5)) and len(runs[True].searched) == 32


def test_detect_interval_s_overrides_detect_every():
    config = cfg(tracker={"detect_every": 5, "detect_interval_s": 1.0, "local_search": False, "hit_counter_max": 50})
    session, det = _session(config, fps=10.0)
    for i in range(50):
        session.process(Frame(image=_image(i), index=i, time_s=i / 10))
    assert det.full == [0, 10, 20, 30, 40]


class SlowWalker(WalkerDetector):
    """A full detection that takes ``seconds`` (a big frame on a slow CPU)."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def detect(self, frame, min_score=None):
        time.sleep(self.seconds)
        return super().detect(frame, min_score)


def test_a_live_camera_spaces_full_detections_by_their_cost():
    """live_detect_share 0.5: a full detection of >= 60 ms runs at most every 120 ms of stream
    time (3 frames at 25 fps) live, although detect_every asks for every frame; a file is
    processed frame by frame and ignores the machine's speed."""
    config = cfg(tracker={"detect_every": 1, "local_search": False, "live_detect_share": 0.5, "hit_counter_max": 25})
    results = {}
    for live in (False, True):
        det = SlowWalker(0.06)
        session = VideoSession(config, 25.0, FramePipeline(config, detector=det, classifier=ScriptedClassifier()),
                               live=live)
        for i in range(30):
            session.process(Frame(image=_image(i), index=i, time_s=i / 25))
        results[live] = (det.full, session.full_detection_interval_s())
    assert results[False][0] == list(range(30)) and results[False][1] == pytest.approx(1 / 25)
    full, interval = results[True]
    assert interval >= 0.12
    gaps = np.diff(full)
    # the first detection may warm models up and does not set the cost; from the second on, spaced
    assert full[:2] == [0, 1] and (gaps[1:] >= 3).all() and len(full) <= 2 + 28 // 3, full


def test_tracks_age_by_time_not_by_processed_frames():
    """hit_counter_max is in frames of time: a face that vanishes is dropped after the same
    seconds whether every frame or one in four was processed."""
    config = cfg(tracker={"detect_every": 1, "hit_counter_max": 10, "init_detections": 1})

    def ended_after(step: int) -> float:
        session, det = _session(config)
        ended_at = None
        for i in range(0, 60, step):
            t = i / 25
            session.pipeline.detector.detect = (lambda frame, min_score=None, i=i: [face(20 + 2 * i, 40)] if i < 20 else [])
            session.process(Frame(image=_image(i), index=i, time_s=t))
            if ended_at is None and any(e.kind == EventKind.TRACK_ENDED for e in session.pop_events()):
                ended_at = t
        assert ended_at is not None
        return ended_at

    every, quarter = ended_after(1), ended_after(4)
    assert abs(every - quarter) <= 4 / 25 + 1e-9, (every, quarter)


def test_event_ids_are_unique_across_runs():
    a, b = EventIds("door"), EventIds("door")
    assert a.run != b.run and a.next_event() != b.next_event() and a.person(1) != b.person(1)
    e = Event(kind=EventKind.DECIDED, camera="door", id=a.next_event(), person=a.person(1), track_id=1, frame=3,
              time_s=0.12, wall_time=5.0, status="person", decision="mask", balance=3, data={"previous": "undecided"})
    assert Event.from_json(e.to_json()) == e


def _image(i):
    image = np.zeros((240, 320, 3), np.uint8)
    image[0, 0, 0] = i % 256
    return image


# ---------------------------------------------------------------- sources


def test_sources_by_scheme_and_credentials_redacted(tmp_path):
    assert scheme_of("rtsp://u:p@h/x") == "rtsp" and scheme_of(3) == "webcam" and scheme_of(str(tmp_path)) == "dir"
    assert scheme_of(str(VTEST)) == "file"
    assert redact("rtsp://user:p@ssw0rd@10.0.0.1:554/s") == "rtsp://***@10.0.0.1:554/s"
    assert redact("http://cam/x") == "http://cam/x"
    with pytest.raises(Exception, match="no source for the scheme"):
        open_source("gopher://x/y")


def test_a_looping_file_rewinds_and_time_keeps_increasing():
    with VideoFileSource(VTEST, loop=True) as source:
        n = source.info.frames
        frames = [f for _, f in zip(range(n + 10), source)]
        assert source.loops == 1
    times = [f.time_s for f in frames]
    assert times == sorted(times) and frames[-1].index == n + 9
    assert np.array_equal(frames[n].image, frames[0].image)  # the same picture again, not a reopen
    assert [f.index for f in frames if f.cut] == [n]  # the rewind is a jump in the footage


def test_the_people_of_a_looped_file_are_counted_again_on_each_loop(x86_config, tmp_path):
    """After a rewind whoever is in view is a new person (the footage jumped, as at a scene cut):
    the last 8 s of the 4-people clip (all four masked, standing where they stand at its end),
    looped, give twice the people of one pass, not one pass's tracks carried over the jump."""
    clip = clip_from(FOUR_PEOPLE, 220, tmp_path / "end.avi")
    counts = {}
    for loops in (1, 2):
        with VideoFileSource(clip, loop=loops > 1) as source:
            n = source.info.frames
            session = VideoSession(x86_config, source.info.fps)
            Runner(source, session, [], max_frames=n * loops).run()
        session.finish()
        counts[loops] = session.summary()
        assert session.tracker is not None and session.tracker.scene_cuts == ([n] if loops > 1 else [])
    assert counts[1]["people"] == 4 and counts[1]["masked"] == 4
    assert counts[2]["people"] == 8 and counts[2]["masked"] == 8, counts


def test_a_cut_in_a_skipped_frame_reaches_the_next_frame():
    """Live, the newest frame replaces one not processed yet: if that one was the first after a
    rewind (cut), the frame that replaces it carries the cut, so the tracks still end."""
    from facemask.run import LatestFrames

    taken = threading.Event()

    def source():
        image = np.zeros((4, 4, 3), np.uint8)
        yield Frame(image=image, index=0, time_s=0.0)
        taken.wait(5.0)
        yield Frame(image=image, index=1, time_s=0.1, cut=True)  # replaced before it is processed
        yield Frame(image=image, index=2, time_s=0.2)

    latest = LatestFrames(source(), threading.Event())
    frames = iter(latest)
    first = next(frames)
    taken.set()
    time.sleep(0.3)  # busy with the first frame while the other two arrive
    second = next(frames)
    assert (first.index, second.index, latest.skipped) == (0, 2, 1)
    assert second.cut and not first.cut


class Sleepy:
    """A session that takes ``seconds`` per frame (and counts nobody)."""

    def __init__(self, seconds: float):
        from facemask.config import parse_config

        self.seconds = seconds
        self.times: list[float] = []
        self.waited: list[float] = []
        self.cfg = parse_config({})

    def summary(self):
        return {}

    def line_counts(self):
        return None

    def process(self, frame):
        self.times.append(frame.time_s)
        self.waited.append(frame.waited_s)
        time.sleep(self.seconds)
        return FrameResult(width=frame.width, height=frame.height)

    def draw(self, image, result):
        return image

    def pop_events(self):
        return []

    def finish(self):
        pass


def test_live_runner_skips_to_the_newest_frame_and_knows_the_time():
    """A real-time file processed by a slow session: frames are skipped, not queued, and the
    timestamps of the processed ones carry the skipped time."""
    source = VideoFileSource(VTEST, realtime=True)
    slow = Sleepy(0.25)  # 4 frames a second against a 10 fps source: behind
    stop = threading.Event()
    timer = threading.Timer(2.0, stop.set)
    timer.start()
    rep = Runner(source, slow, [], live=True, stop=stop).run()
    source.close()
    assert rep.frames_read > rep.frames_processed and rep.frames_skipped > 0
    gaps = np.diff(slow.times)
    assert (gaps > 1.5 / source.info.fps).mean() > 0.5  # most processed frames skipped some


@pytest.mark.parametrize("seconds", [0.25, 0.02])
def test_a_live_loop_knows_the_time_it_waited_for_frames(seconds):
    """The time spent waiting for a newer frame is the camera's spare time: a session faster
    than the source (20 ms against a 10 fps file) waits most of the time and skips nothing; one
    slower than it (250 ms) never waits. It is in each frame (``waited_s``) and the report."""
    source = VideoFileSource(VTEST, realtime=True)
    session = Sleepy(seconds)
    stop = threading.Event()
    timer = threading.Timer(2.0, stop.set)
    timer.start()
    channel = Collect()
    publish = PublishSink(channel, session, run="r", stats_every_s=3600.0)  # type: ignore[arg-type]
    rep = Runner(source, session, [publish], live=True, stop=stop).run()
    source.close()
    assert rep.waited_s == pytest.approx(sum(session.waited))
    share = rep.waited_s / rep.elapsed_s
    stats = channel.stats_sent[-1]  # what /api/stats shows: the time waited, and the share busy
    assert stats["wait_s"] == pytest.approx(rep.waited_s, abs=1e-3)
    if seconds > 0.1:
        assert share < 0.1 and rep.frames_skipped > 0 and stats["busy_pct"] > 90
    else:
        assert share > 0.5 and rep.frames_skipped <= 2 and stats["busy_pct"] < 50
        assert np.median(session.waited[1:]) > 0.05  # ~80 ms of every 100 ms frame period
