"""Load and validate configs/*.json.

Every section is a strict pydantic model: an unknown key, a wrong type (``"true"`` for a boolean,
``2.5`` for a size) or an out-of-range value stops the program with one line naming the key.
The ``detector`` section is a union of the detectors' config models, discriminated by its
``type`` (``facemask/detectors/configs.py``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .detectors.configs import DETECTOR_TYPES, DetectorConfig, YuNetConfig, check_type
from .errors import ConfigError
from .runtimes.providers import CudaMode
from .section import Section


PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG = "config-x86.json"
MAX_DEPTH = 32  # the deepest real config is 4 levels; anything far deeper is not a config

__all__ = ["Config", "Section", "load_config", "parse_config"]


class ClassifierConfig(Section):
    """The mask classifier at inference time."""

    model: str = "ofm_classifier_int8"  # catalog name or a path to .tflite / .onnx
    backend: Literal["auto", "tflite", "onnx", "edgetpu", "tensorrt"] = "auto"
    # When the backend's runtime (Edge TPU, TensorRT) is missing: run this model on the CPU instead
    # of stopping. None: stop with one clear error.
    fallback_model: str | None = None
    # Output order of the model's softmax, as canonical labels.
    classes: list[Literal["mask", "no_mask", "mask_incorrect"]] = ["mask", "no_mask"]
    crop_pad: float = Field(0.15, ge=0.0, le=1.0)
    # Inference crops only: move the crop's centre down by this fraction of the face box's height.
    # YuNet's video boxes of masked faces stop near the mask's top edge, so the mask sits at the
    # crop's bottom edge. 0.25 reads small blurred masks (andrewendlesss_mask) but turns chins,
    # hands and masks under the chin into masks (stadium, wst54_mask2): the current classifier,
    # trained on unshifted crops, needs 0 (docs/results.md, "Classifier crop shift").
    crop_shift: float = Field(0.0, ge=-0.5, le=0.5)
    num_threads: int = Field(2, ge=1, le=64)
    max_batch: int = Field(64, ge=1, le=1024)
    # mask_prob >= threshold -> "mask" for a single frame (the video vote has its own low/high).
    mask_threshold: float = Field(0.5, ge=0.0, le=1.0)
    # ONNX models: "auto" runs on CUDA when onnxruntime has it, else the CPU; "warn" / "require"
    # expect CUDA and warn / stop with one line when it is not active (facemask.runtimes.providers).
    cuda: CudaMode = "auto"

    @field_validator("classes")
    @classmethod
    def _classes_ok(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v) or "mask" not in v or "no_mask" not in v:
            raise ValueError("must list 'mask' and 'no_mask' once each (and optionally 'mask_incorrect')")
        return v


class Margins(Section):
    """Margins per side: values <= 1 are fractions of the frame, larger values are pixels."""

    top: float = Field(0.0, ge=0.0)
    bottom: float = Field(0.0, ge=0.0)
    left: float = Field(0.0, ge=0.0)
    right: float = Field(0.0, ge=0.0)


class FiltersConfig(Section):
    """Filters mark faces that are not classified; they never drop them."""

    min_face_size: int = Field(16, ge=0, le=4096)
    detection_area: Margins = Margins()
    frontal_only: bool = False
    # A face box closer than this (px) to the frame border is cut off by it: half a face (often
    # just a forehead or a chin) is no evidence of a mask either way. 0 disables.
    edge_margin: int = Field(2, ge=0, le=4096)
    # Classify only whole faces: a box whose shape or landmarks say it holds part of a face (eyes
    # and forehead, chin and mask), a hand, a bag or a chest is tracked but does not vote
    # (facemask.faces_quality).
    whole_face: bool = True
    # Video: a face of 64 px and up that YuNet scores under 0.85 is classified only when the
    # masked-face detector UltraFace, run around it, also finds a face there; otherwise it is
    # tracked but does not vote (skip reason ``not_verified``; facemask.detectors.verify). Such
    # boxes were mostly no face on the development clips: a whole person far away, a phone, the
    # back of a chair or of a head. Needs onnxruntime (without it they are classified).
    verify_large: bool = True
    # Static faces (posters, paintings, mannequins): a track followed for ``static_after_frames``
    # frames whose box centre stayed within ``static_max_motion`` face sizes and whose first box
    # region mostly kept its look (mean grey-level change <= ``static_max_change`` on at least
    # half of its detections) is not counted as a person, but reported apart, until it moves or
    # changes. 0 frames disables the filter. Masked people standing still (the last 4.5 s of the
    # 4-people clip) change their look from their first box by a median 6.8-10.8 grey levels, the
    # painting in that clip by 2.8 and a poster in Town Centre's shop window by 3.7
    # (scripts/static_looks.py): at 8, two of the four standing people ended as static.
    static_after_frames: int = Field(50, ge=0)
    static_max_motion: float = Field(0.5, gt=0.0)
    static_max_change: float = Field(6.0, ge=0.0, le=255.0)


class TrackerConfig(Section):
    """norfair Kalman tracking of faces (video only); see facemask.tracking."""

    enabled: bool = True
    # Run the detector on the whole frame on one frame in ``detect_every`` (new faces are found
    # there); in between, see local_search (scripts/bench_detect_every.py measures speed and
    # per-frame recall against 1). Time, not processed frames, decides: a full detection runs
    # when ``detect_interval_s`` (default: detect_every frames at the source's frame rate) has
    # passed since the last one, so a live camera that skips frames never detects more often; and
    # live, with local search, only after detect_every - 1 local searches, as on a file: a camera
    # that cannot keep up does the batch command's mix of work per processed frame.
    detect_every: int = Field(5, ge=1, le=30)
    detect_interval_s: float | None = Field(None, gt=0.0, le=60.0)
    # Live cameras only: full detections take at most this share of the processing time. A camera
    # that cannot do them every detect_interval_s (a big frame, several cameras on few cores) spaces
    # them out (by the measured cost of one) and tracks with local search in between, instead of
    # turning every frame it processes into a full detection. Files are processed frame by frame
    # and never use it (their results must not depend on the machine's speed).
    live_detect_share: float = Field(0.5, gt=0.0, le=1.0)
    # On the frames in between, look for every tracked face again in a small region around its
    # predicted box (a few ms on a 1080p frame) and classify what is found, so boxes follow the
    # faces and every frame votes. Off, or with a detector that cannot search regions (the pose
    # detectors), the tracker carries the boxes (Kalman prediction) and only full detections vote.
    local_search: bool = True
    # Each search region: the predicted box grown by this many face sizes on every side.
    search_margin: float = Field(3.0, ge=0.25, le=10.0)
    # Two score thresholds, as in ByteTrack: detections scoring at least keep_score (and below the
    # detector's score_threshold) keep a track going and may start a candidate track, but a track
    # becomes a person only once one of its detections reaches score_threshold, and only faces
    # at score_threshold or on such a track are shown. A blurred frame then does not lose a
    # person, and a face whose score wavers around the threshold is followed on every frame.
    # Detectors with region search (YuNet) only; keep_score >= score_threshold turns it off.
    keep_score: float = Field(0.3, ge=0.0, le=1.0)
    # What is tracked: the two box corners, or the corners plus the five landmarks.
    points: Literal["box", "box_landmarks"] = "box"
    # "euclidean": mean point distance in units of the smaller face, the track's counted at no
    # less than its last detected size (a 15 px face that moved 10 px still matches;
    # tracking.FaceDistance); "iou": 1 - IoU of the boxes. A detection farther than the threshold
    # from every track starts a new one.
    distance: Literal["euclidean", "iou"] = "euclidean"
    distance_threshold: float = Field(1.5, gt=0.0)
    # Frames a track lives on without a matching detection (norfair's hit_counter_max).
    hit_counter_max: int = Field(25, ge=1, le=1000)
    # Kalman filter (norfair's OptimizedKalmanFilterFactory): measurement noise R and process
    # noise Q. A low R follows the detections closely, which carries small faces best.
    kalman_r: float = Field(0.5, gt=0.0)
    kalman_q: float = Field(0.5, gt=0.0)
    # Detections a new track needs before it gets an id (sets norfair's initialization_delay).
    init_detections: int = Field(2, ge=1, le=100)
    # Scene cuts (facemask.scene): a frame whose colour histogram differs from the previous frame's
    # by more than this (total variation, 0-1) ends every track. 0 disables.
    scene_cut_threshold: float = Field(0.3, ge=0.0, le=1.0)
    # Re-identification (facemask.reid): a track without detections is kept this many more frames
    # (norfair's reid_hit_counter_max) and a new track that looks like it (appearance distance at
    # most reid_distance_threshold, within reid_max_jump face sizes of where it was last seen)
    # continues it: same person, same votes. 0 disables.
    reid_hit_counter_max: int = Field(0, ge=0, le=10000)
    reid_distance_threshold: float = Field(0.35, gt=0.0, le=1.0)
    reid_max_jump: float = Field(3.0, gt=0.0)
    reid_embedding: Literal["head_shoulders", "face"] = "head_shoulders"
    # Rejoining a broken track by place and time (no appearance): a person's track that lost its
    # face (turned away, backlight, blur, a false box took it, its Kalman estimate drifted off) is
    # kept up to rejoin_frames frames after its last detection, and a new track that starts
    # within rejoin_max_jump face sizes of where it was last seen (similar size, after it was last
    # seen) continues it when it is the only person that near (any other track, lost or live,
    # there too and nothing is joined: crowds do not merge). 0 disables (the shipped configs: 50).
    rejoin_frames: int = Field(0, ge=0, le=1000)
    rejoin_max_jump: float = Field(2.0, gt=0.0, le=10.0)

    @model_validator(mode="after")
    def _counters(self) -> "TrackerConfig":
        need = self.detect_every * self.init_detections
        if self.hit_counter_max < need:
            raise ValueError(f"hit_counter_max must be at least detect_every * init_detections ({need})")
        return self


class VoteConfig(Section):
    """Per-person voting (facemask.votes): mask_prob > high votes mask, < low votes unmasked."""

    low: float = Field(0.2, ge=0.0, le=1.0)
    high: float = Field(0.8, ge=0.0, le=1.0)
    cap: int = Field(100, ge=1)  # |balance| never exceeds this, so a change of mask wins quickly
    # Decided when |mask votes - unmasked votes| >= min_votes. 4, not 3: on the eval-video development
    # clips the people decided on a balance of exactly 3 were the wrong ones (% masked within 5 points
    # on 4 of 5 checked clips instead of 2, `python -m facemask eval-video ... --set vote.min_votes=3`).
    min_votes: int = Field(4, ge=1)

    @model_validator(mode="after")
    def _order(self) -> "VoteConfig":
        if self.low > self.high:
            raise ValueError("vote.low must not exceed vote.high")
        if self.cap < self.min_votes:
            raise ValueError("vote.cap must be at least vote.min_votes, or nobody is ever decided")
        return self


class StatsConfig(Section):
    """People statistics (facemask.stats)."""

    min_track_frames: int = Field(5, ge=1)  # a track spanning fewer frames is not a person
    # A track is a person only once its face was judged: classified (a vote or an abstention) on at
    # least this many frames, or decided. Others are reported as face_not_seen. 0: every track.
    min_classified_frames: int = Field(2, ge=0)
    # ... and at least this many of those frames gave a vote (the classifier sure of the class, not
    # an abstention). A track the classifier was never sure about (a back of a head, a backlit blur)
    # is face_not_seen. 0: abstentions alone are enough. Chosen on the eval-video development clips
    # (`python -m facemask eval-video ../shared/data/video_people/people.json`).
    min_voted_frames: int = Field(1, ge=0)
    interval_s: float = Field(10.0, gt=0.0)  # time series bucket, seconds of video time
    snapshot_intervals: int = Field(360, ge=1)  # intervals returned by a live snapshot
    # Memory bounds for long runs: rows of ended people kept for the people CSV (the newest),
    # and time-series intervals kept (the newest). A live camera's ended people go to its store.
    max_ended_rows: int = Field(100_000, ge=1)
    max_intervals: int = Field(100_000, ge=1)


class InputConfig(Section):
    """Limits on what the batch commands read."""

    # An image with more pixels is refused with one line (a 30000 x 20000 PNG of 584 KB decodes
    # to 1.8 GB); the default takes a 100-megapixel photo.
    max_pixels: int = Field(100_000_000, ge=1_000)


class ImagesConfig(Section):
    """Photos (the ``images`` command, ``eval``): no votes, so every face found gets an answer."""

    # Classify every face, also those video leaves unclassified (too small, at the image edge,
    # below detector.classify_score), and mark those ``low_confidence`` with the reason.
    label_every_face: bool = True
    # ... and report faces down to this detector score (below detector.score_threshold: marked
    # low_confidence "low_score"). On kaggle853 train, YuNet at 0.5 / 0.4 / 0.35 / 0.3: recall
    # 0.805 / 0.825 / 0.834 / 0.842, AP50 0.782 / 0.796 / 0.803 / 0.808, precision 0.783 / 0.710 /
    # 0.673 / 0.620 (`python scripts/bench_photos.py --split train --thresholds`): 0.35 finds more
    # faces and ranks them better while two in three reported faces are still faces.
    min_score: float = Field(0.35, ge=0.0, le=1.0)
    # ... and faces of at least large_face px (smaller side) down to this score: large faces YuNet
    # boxes well but scores low (blurred, masked) are rarely anything else. min_score: off.
    large_min_score: float = Field(0.2, ge=0.0, le=1.0)
    large_face: int = Field(64, ge=1)
    # A label whose classifier probability is below this is marked low_confidence "uncertain".
    low_confidence: float = Field(0.8, ge=0.5, le=1.0)


class OutputConfig(Section):
    draw_landmarks: bool = False
    video_codec: str = Field("mp4v", min_length=4, max_length=4)
    jpeg_quality: int = Field(90, ge=10, le=100)


class TrainingConfig(Section):
    """``model_main.py``: data, model and schedule."""

    data_dir: str = "data/classifier"  # <data_dir>/{train,validation}/<class folder>/
    # canonical label -> class folder name, e.g. {"mask": "face-mask", "no_mask": "face"}
    class_dirs: dict[str, str] = {"mask": "with_mask", "no_mask": "without_mask"}
    output_dir: str = "runs/classifier"
    input_size: int = Field(45, ge=16, le=512)
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(1e-3, gt=0.0)
    seed: int = 0
    # model: names in the backbone / head registries of facemask.training
    backbone: str = "ofm"
    head: str = "dense"
    width: float = Field(1.0, gt=0.0, le=4.0)  # channel multiplier of the backbone
    # data preparation (--prepare-data): sources, hold-out and stored crop size
    mask_crops_dir: str = "../shared/data/mask_crops"  # <dir>/{with_mask,without_mask}/*.jpg
    voc_dir: str = "../shared/data/kaggle853"  # VOC folder; faces cut from GT boxes
    voc_split: str = "train"  # never "val": that split is for measuring only
    # also cut each of those faces at the YuNet box video gives it (training.prepare)
    voc_video_boxes: bool = False
    holdout_fraction: float = Field(0.15, ge=0.0, lt=1.0)  # -> validation/, chosen per source image
    store_size: int = Field(64, ge=16, le=512)
    no_face: Literal["skip", "center"] = "skip"  # a mask_crops image where YuNet finds no face
    # hand-labelled crops of video clips (facemask/training/video_crops.py): a labels CSV (None: off),
    # the folders its clips are looked up in, the share of people held out (chosen per person), and
    # how many times per epoch training draws each of them (they are few next to the photo crops)
    video_labels: str | None = None
    video_dirs: list[str] = ["../shared/data/video_people", "../shared/videos"]
    video_holdout_fraction: float = Field(0.3, ge=0.0, lt=1.0)
    video_repeat: int = Field(1, ge=1, le=100)
    # CCTV-like augmentation
    augment: bool = True
    min_face_px: int = Field(10, ge=4, le=64)  # smallest face side simulated by downscaling
    # synthetic masks on unmasked training faces: extra samples per epoch, as a fraction of the
    # no_mask count (0 = off); templates are placed from YuNet landmarks kept by --prepare-data
    synthetic_masks: float = Field(0.0, ge=0.0, le=2.0)
    mask_templates_dir: str = "../shared/data/mask_templates"
    # loss weight per class: "balanced" ~ 1 / class count, "sqrt" ~ 1 / sqrt(class count)
    class_weight: Literal["none", "balanced", "sqrt"] = "balanced"
    # occluders that keep the label (augment.Occlusion): probability that an unmasked training face
    # gets a skin-coloured hand/fist over the mouth (occlusion) or else the head of someone in front
    # over its lower face (crowd; occlusion + crowd <= 1), and that any face gets a cap brim's shadow
    occlusion: float = Field(0.0, ge=0.0, le=1.0)
    crowd: float = Field(0.0, ge=0.0, le=1.0)
    shadow: float = Field(0.0, ge=0.0, le=1.0)


class CameraConfig(Section):
    """One live source of the web application."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")  # used in URLs and the database
    source: str | int  # video file, rtsp:// or http:// URL, or a webcam index
    loop: bool = True  # video files: start again at the end (streams and webcams are reopened instead)
    max_fps: float = Field(0.0, ge=0.0, le=120.0)  # cap on processed frames per second; 0: no cap
    # JPEGs streamed to the page per second at most (each costs an encode); 0: every processed frame
    stream_fps: float = Field(10.0, ge=0.0, le=120.0)
    # ... no larger than this on their longest side (a 1080p JPEG costs twice the encode of a
    # 1280 px one, and the page shows it smaller); 0: full size
    stream_max_side: int = Field(1280, ge=0, le=8192)
    # streams: opening and each read give up after this long (a silent camera), then reconnect
    open_timeout_s: float = Field(10.0, gt=0.0, le=600.0)


class AppConfig(Section):
    """The web application (``inference_main_app.py``)."""

    host: str = "127.0.0.1"  # loopback only unless the operator opens it up
    port: int = Field(5000, ge=0, le=65535)  # 0: any free port (printed at start)
    token: str | None = Field(None, min_length=8)  # required on every route when set; FACEMASK_TOKEN overrides
    db_path: str = "output/facemask-app.sqlite"  # statistics and events, kept across restarts
    sample_interval_s: float = Field(5.0, ge=0.1, le=3600.0)  # how often counters are stored
    retention_days: int = Field(90, ge=1)  # older samples and events are deleted at start
    threads: int = Field(16, ge=4, le=256)  # server threads; each open video stream holds one
    reconnect_max_s: float = Field(30.0, ge=0.1, le=3600.0)  # reconnect / restart backoff doubles up to this
    # Each camera runs in its own process; one that dies is restarted (backoff as above), and
    # one that does not stop within stop_timeout_s of the request is killed.
    stop_timeout_s: float = Field(3.0, ge=0.5, le=60.0)
    # Database writes that fail (locked, disk full) are retried; this many items wait meanwhile.
    store_buffer: int = Field(100_000, ge=100)
    # Inference threads (detector and classifier) of each camera process: 0 shares the machine's
    # cores among the cameras (at least 1 each); more threads than cores cost ~20 % of each
    # camera's frames (scripts/bench_live.py --live-set). Replaces detector / classifier
    # num_threads in the web app.
    camera_threads: int = Field(0, ge=0, le=64)
    cameras: list[CameraConfig] = []

    @field_validator("cameras")
    @classmethod
    def _unique_names(cls, v: list[CameraConfig]) -> list[CameraConfig]:
        names = [c.name for c in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"camera names must be unique (repeated: {', '.join(dup)})")
        return v


class BrokerConfig(Section):
    """RabbitMQ: camera workers, the aggregator and image tasks (``python -m facemask worker``,
    ``aggregate``, ``submit``, ``camera``); see facemask/broker."""

    # amqp://host:5672/vhost; --broker and FACEMASK_BROKER_URL override it. Credentials do not
    # belong here: FACEMASK_BROKER_USER / FACEMASK_BROKER_PASSWORD or a file (credentials_file,
    # FACEMASK_BROKER_CREDENTIALS) holding "user:password".
    url: str = "amqp://localhost:5672/%2F"
    credentials_file: str | None = None
    exchange: str = "facemask"  # topic exchange: event.<camera>, stats.<camera>, frame.<camera>
    prefix: str = "facemask"  # queue names: <prefix>.cameras, <prefix>.tasks, <prefix>.aggregate
    heartbeat_s: int = Field(10, ge=0, le=600)
    reconnect_max_s: float = Field(10.0, ge=0.1, le=600.0)  # reconnect backoff doubles up to this
    capacity: int = Field(2, ge=0, le=256)  # cameras one worker runs (its prefetch); --capacity overrides
    task_slots: int = Field(1, ge=0, le=64)  # image tasks one worker runs at a time (0: none)
    stats_interval_s: float = Field(2.0, ge=0.1, le=3600.0)  # counter samples each camera publishes
    frame_interval_s: float = Field(1.0, ge=0.0, le=3600.0)  # live-view JPEG per camera (0: none)
    frame_max_side: int = Field(640, ge=64, le=4096)  # the live-view JPEG is scaled down to this
    buffer_max: int = Field(100_000, ge=100)  # events / samples kept while the broker is away
    task_images: int = Field(16, ge=1, le=4096)  # images per task (submit)


# ---------------------------------------------------------------- operators: MQTT, alerts, snapshots, zones, privacy


class MqttConfig(Section):
    """Publish to an MQTT broker (facemask.io.sinks.mqtt). Topics under ``topic_prefix``:
    ``available`` (online/offline, retained, the last will), ``<camera>/people`` (retained
    counters), ``events`` (one JSON per person event), ``stats`` (every ``stats_interval_s``)
    and ``alerts``. ``username`` / ``password`` may come from FACEMASK_MQTT_USERNAME /
    FACEMASK_MQTT_PASSWORD instead."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    tls: bool = False
    tls_ca: str | None = None  # CA file; None: the system's
    tls_insecure: bool = False  # accept any server certificate (tests, self-signed brokers)
    topic_prefix: str = Field("facemask", pattern=r"^[^#+]+$")
    client_id: str | None = None  # None: facemask-<host>-<pid>
    qos: Literal[0, 1, 2] = 1
    keepalive_s: int = Field(30, ge=5, le=3600)
    stats_interval_s: float = Field(60.0, ge=1.0, le=86400.0)
    # Messages kept while the broker is away (the oldest are dropped beyond it), sent on return in order.
    queue_size: int = Field(10_000, ge=10, le=1_000_000)
    reconnect_min_s: float = Field(1.0, ge=0.1, le=600.0)
    reconnect_max_s: float = Field(30.0, ge=0.1, le=3600.0)
    base_url: str | None = None  # e.g. http://nvr.local:5000 : makes snapshot URLs in events absolute


class WebhookConfig(Section):
    """An HTTP endpoint that gets each alert as a JSON POST; with a secret, the body is signed:
    ``X-Facemask-Signature: sha256=<hex HMAC-SHA256 of the body>``."""

    url: str = Field(pattern=r"^https?://")
    secret: str | None = None  # or the environment variable named by secret_env
    secret_env: str | None = None
    timeout_s: float = Field(5.0, gt=0.0, le=120.0)
    retries: int = Field(3, ge=0, le=20)  # after the first try; the delay doubles from backoff_s
    backoff_s: float = Field(1.0, ge=0.0, le=600.0)


class AlertRule(Section):
    """One alert rule (facemask.io.sinks.alerts).

    * ``unmasked``: a person decided unmasked (or mask worn incorrectly);
    * ``pct_masked_below``: % masked below ``threshold_pct`` among the people decided in the
      last ``window_min`` minutes, once at least ``min_people`` were decided;
    * ``camera_down``: no frame from a camera for more than ``after_s`` seconds.
    """

    type: Literal["unmasked", "pct_masked_below", "camera_down"]
    name: str | None = None  # default: the type
    cameras: list[str] | None = None  # None: every camera
    cooldown_s: float = Field(300.0, ge=0.0)
    threshold_pct: float = Field(80.0, ge=0.0, le=100.0)
    window_min: float = Field(10.0, gt=0.0)
    min_people: int = Field(5, ge=1)
    after_s: float = Field(30.0, gt=0.0)
    notify: list[Literal["mqtt", "webhook", "page"]] = ["mqtt", "webhook", "page"]
    sound: bool = False  # the page plays a short tone with the banner


class SnapshotsConfig(Section):
    """The best crop of each decided person (largest, sharpest, most frontal), as a JPEG file
    with its path in the database; off when ``privacy.store_images`` is false."""

    enabled: bool = True
    dir: str = "output/snapshots"
    retention_days: float = Field(30.0, gt=0.0)
    max_files: int = Field(10_000, ge=1)
    pad: float = Field(0.4, ge=0.0, le=2.0)  # around the face box, in face sizes
    max_px: int = Field(256, ge=32, le=2048)  # longer side of the stored crop
    jpeg_quality: int = Field(85, ge=10, le=100)


Point = Annotated[list[float], Field(min_length=2, max_length=2)]  # [x, y]


class ZoneConfig(Section):
    """A polygon: coordinates <= 1 are fractions of the frame, larger ones pixels."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
    points: list[Point] = Field(min_length=3)


class LineConfig(Section):
    """A counting line from ``points[0]`` to ``points[1]``; a person whose face centre crosses
    it from its left to its right (seen from the first point towards the second) goes ``in``
    (``in_side: "right"``, the default) or ``out``."""

    points: list[Point] = Field(min_length=2, max_length=2)
    in_side: Literal["left", "right"] = "right"


class CameraZones(Section):
    areas: list[ZoneConfig] = []  # faces outside every area are tracked, not classified
    line: LineConfig | None = None


class ZonesConfig(Section):
    """Detection areas and a counting line: ``default`` for every camera (and the batch
    video command), ``cameras`` by camera name."""

    default: CameraZones = CameraZones()
    cameras: dict[str, CameraZones] = {}

    def for_camera(self, camera: str) -> CameraZones:
        return self.cameras.get(camera, self.default)


class PrivacyConfig(Section):
    """``blur_faces``: every face is blurred (or pixelated) in the annotated video, the MJPEG
    stream and the snapshots, boxes and labels kept. ``store_images: false``: no picture is
    written or sent (statistics only)."""

    blur_faces: bool = False
    method: Literal["blur", "pixelate"] = "blur"
    pad: float = Field(0.15, ge=0.0, le=1.0)  # the box grown by this fraction on every side
    store_images: bool = True


class WebConfig(Section):
    """Extra rules of the web application's HTTP side (facemask.web.api_extra)."""

    # Host headers accepted besides the loopback names and app.host; "*" accepts any. A request
    # naming another host (DNS rebinding: a web page making the browser talk to the camera PC) gets 421.
    allowed_hosts: list[str] = []


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    platform: Literal["x86", "x86-gpu", "edgetpu", "jetson"] = "x86"
    detector: DetectorConfig = Field(default_factory=lambda: YuNetConfig())
    classifier: ClassifierConfig = ClassifierConfig()
    filters: FiltersConfig = FiltersConfig()
    tracker: TrackerConfig = TrackerConfig()
    vote: VoteConfig = VoteConfig()
    stats: StatsConfig = StatsConfig()
    input: InputConfig = InputConfig()
    images: ImagesConfig = ImagesConfig()
    output: OutputConfig = OutputConfig()
    training: TrainingConfig = TrainingConfig()
    app: AppConfig = AppConfig()
    broker: BrokerConfig = BrokerConfig()
    mqtt: MqttConfig = MqttConfig()
    alerts: list[AlertRule] = []
    webhooks: list[WebhookConfig] = []
    snapshots: SnapshotsConfig = SnapshotsConfig()
    zones: ZonesConfig = ZonesConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    web: WebConfig = WebConfig()

    @field_validator("detector", mode="before")
    @classmethod
    def _detector(cls, v: Any) -> Any:
        return check_type({"type": "yunet"} if v is None else v)


def _format_error(exc: ValidationError, source: str) -> str:
    parts = []
    for err in exc.errors():
        # Drop pydantic's own parts: validator names, and the union's tag (detector.yunet.upscal).
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-") and p not in DETECTOR_TYPES)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        if "input" in err and err["type"] != "extra_forbidden" and not isinstance(err["input"], dict):
            msg += f" (got {json.dumps(err['input'], default=str)})"
        parts.append(f"{loc}: {msg}")
    return f"config error in {source}: " + "; ".join(parts)


def parse_config(data: dict, source: str = "<config>") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, source)) from None


def _apply_override(data: dict, item: str) -> None:
    """``section.key=value``; the value is read as JSON where it parses, else as a string."""
    if "=" not in item:
        raise ConfigError(f"override '{item}' must look like section.key=value")
    dotted, raw = item.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    except RecursionError:
        raise ConfigError(f"override '{dotted}': nested more than {MAX_DEPTH} levels deep") from None
    node = data
    keys = dotted.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override '{item}': {key} is not a section")
    node[keys[-1]] = value


def packaged_config_dir() -> Path:
    """The platform configs: package data in an installed wheel, ``configs/`` in a source checkout."""
    packaged = PACKAGE_DIR / "configs"
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / "configs"


def resolve_config_path(path: str | Path | None) -> Path:
    """A config path as given, or, where it names no file here, the packaged config of that name.

    ``None`` is the default config. ``configs/config-x86.json`` (the path the README uses) and
    ``config-x86.json`` work from any folder: when no such file exists relative to the current
    folder, the copy shipped with the package is used.
    """
    if path is None:
        return packaged_config_dir() / DEFAULT_CONFIG
    p = Path(path).expanduser()
    if p.exists() or p.is_absolute():
        return p
    if len(p.parts) == 1 or (len(p.parts) == 2 and p.parts[0] == "configs"):
        packaged = packaged_config_dir() / p.name
        if packaged.is_file():
            return packaged
    return p


def _check_tree(node: Any, where: str, depth: int = 0) -> None:
    """Refuse what JSON allows but a config must not hold: NaN / Infinity, absurd nesting."""
    if depth > MAX_DEPTH:
        top = where.split(".")[0].split("[")[0]
        raise ValueError(f"{top}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, float) and not math.isfinite(node):
        raise ValueError(f"{where}: must be a finite number (got {json.dumps(node)})")
    if isinstance(node, dict):
        for key, value in node.items():
            _check_tree(value, f"{where}.{key}" if where else str(key), depth + 1)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _check_tree(value, f"{where}[{i}]", depth + 1)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read, check and validate a config file; every problem is one :class:`ConfigError` line."""
    path = resolve_config_path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        hint = ""
        if not path.exists():
            names = sorted(p.name for p in packaged_config_dir().glob("*.json"))
            hint = f" (packaged configs: {', '.join(names)})" if names else ""
        raise ConfigError(f"cannot read config {path}: {exc.strerror}{hint}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config error in {path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config error in {path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise ConfigError(f"config error in {path}: nested more than {MAX_DEPTH} levels deep") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config error in {path}: the top level must be an object")
    for item in overrides or []:
        _apply_override(data, item)
    try:
        _check_tree(data, "")
    except ValueError as exc:
        raise ConfigError(f"config error in {path}: {exc}") from None
    return parse_config(data, str(path))
