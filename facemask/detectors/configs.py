"""Every detector's config model, and ``DetectorConfig``: their union, discriminated by ``type``.

Kept apart from the detectors themselves so that ``facemask.config`` can type its ``detector``
section without importing a single backend (nor any runtime): validating a config never needs
litert, onnxruntime or pycoral. A new backend adds its model here and to ``DetectorConfig``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from ..runtimes.providers import CudaMode
from ..section import Section

# ---------------------------------------------------------------- shared parts


class TileConfig(Section):
    """Overlapping tiles, each run at full resolution, merged by NMS (``detectors.tiling``)."""

    tiles: list[int] = Field([1, 1], min_length=2, max_length=2)  # columns, rows
    tile_overlap: float = Field(0.2, ge=0.0, lt=0.9)
    nms_threshold: float = Field(0.3, ge=0.0, le=1.0)  # also between faces of overlapping tiles

    @field_validator("tiles")
    @classmethod
    def _tiles_ok(cls, v: list[int]) -> list[int]:
        if min(v) < 1 or max(v) > 8:
            raise ValueError("tiles: columns and rows must be between 1 and 8")
        return v


PoseMethod = Literal["head", "shoulders", "chest"]


class PoseFaceConfig(Section):
    """How a detected pose becomes a face (the ``face`` key of every pose detector's config)."""

    methods: list[PoseMethod] = Field(["head", "chest", "shoulders"], min_length=1)
    # "first": the first method that applies; "median": the median box of all that apply.
    combine: Literal["first", "median"] = "median"
    keypoint_threshold: float = Field(0.3, ge=0.0, le=1.0)  # a keypoint counts from this score
    box_scale: float = Field(1.0, gt=0.0, le=4.0)  # scales every box (other labelling styles)
    min_size: float = Field(2.0, ge=0.0)  # drop degenerate faces smaller than this (px, original frame)


class PoseDetectorConfig(TileConfig):
    """Keys shared by the pose detectors (each adds ``type``, its model and its own knobs)."""

    num_threads: int = Field(2, ge=1, le=64)
    face: PoseFaceConfig = PoseFaceConfig()


# ---------------------------------------------------------------- face detectors


class YuNetConfig(TileConfig):
    type: Literal["yunet"] = "yunet"
    model: str = "face_detection_yunet_2023mar"
    # "auto": ONNX Runtime when installed (the fastest here: scripts/bench_photos.py), else
    # OpenCV's DNN; "openvino" needs the [openvino] extra (slower than ONNX Runtime here:
    # scripts/bench_runtimes.py). All give the same boxes.
    runtime: Literal["auto", "onnxruntime", "openvino", "opencv"] = "auto"
    num_threads: int = Field(2, ge=1, le=64)  # ONNX Runtime / OpenVINO threads (OpenCV: its own pool)
    # ONNX Runtime only. "auto": the CPU (one session serves every input size); "warn" / "require":
    # CUDA expected, a warning / one error line when it is not active (facemask.runtimes.providers).
    cuda: CudaMode = "auto"
    score_threshold: float = Field(0.5, ge=0.0, le=1.0)
    top_k: int = Field(5000, ge=1)
    upscale: float = Field(2.0, ge=0.25, le=4.0)  # the scale small faces are looked for at ...
    max_side: int = Field(1920, ge=64, le=8192)  # ... capped so the longest side is at most this
    # Large faces: also run on the frame scaled to this longest side (when that is well below the
    # small-face scale), merged by NMS. YuNet misses faces much larger than its 640 px training
    # inputs, which the upscale makes of every large face. 0: off.
    large_side: int = Field(480, ge=0, le=4096)
    # Photos with a large-face run: "ultraface" averages the boxes of faces of 64 px and up that
    # score under 0.85 with those of the masked-face detector UltraFace
    # (ultraface_rfb640_masked_face_v2, run only when there is such a face), which boxes a masked
    # face whole where YuNet stops at the mask (yunet.refine_large; needs onnxruntime; off on
    # video). Off by default: +0.017 recall on kaggle853 train's large-face check, nothing on
    # val's, and looser boxes at IoU 0.75 on val's large faces (docs/photos.md).
    large_refine: Literal["none", "ultraface"] = "none"
    min_size: int = Field(0, ge=0)  # drop boxes smaller than this (px, original frame)
    # "landmarks": move each box to where kaggle853's annotators put a face (forehead to chin, the
    # mask included) from YuNet's eyes and mouth; fitted on kaggle853 train by
    # scripts/fit_box_correction.py. "none": YuNet's own boxes.
    box_correction: Literal["none", "landmarks"] = "landmarks"
    # Faces scoring below this are followed and drawn but not classified in video (skip reason
    # "low_score"): on kaggle853 train, most YuNet detections below 0.7 are no annotated face
    # (77 % at 0.5-0.6, 67 % at 0.6-0.7, 41 % at 0.7-0.8, 7 % above; a palm or the back of a head
    # voting "mask" is worse than no vote). `python scripts/score_bins.py` measures it. Photos
    # label them, marked low-confidence.
    classify_score: float = Field(0.7, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _cuda_needs_onnxruntime(self) -> YuNetConfig:
        if self.cuda != "auto" and self.runtime not in ("auto", "onnxruntime"):
            raise ValueError(f'cuda "{self.cuda}" needs runtime "onnxruntime" (OpenVINO and OpenCV run on the CPU)')
        return self


class RetinaFaceConfig(TileConfig):
    type: Literal["retinaface"] = "retinaface"
    model: str = "retinaface_mobilenet0.25_640"
    score_threshold: float = Field(0.6, ge=0.0, le=1.0)
    nms_threshold: float = Field(0.4, ge=0.0, le=1.0)
    num_threads: int = Field(2, ge=1, le=64)
    # "auto": CUDA when onnxruntime has it, else the CPU, silently; "warn" / "require": CUDA expected,
    # a warning / one error line when it is not active (facemask.runtimes.providers).
    cuda: CudaMode = "auto"


class UltraFaceConfig(Section):
    """UltraFace RFB-640 trained on masked faces: boxes the whole face, mask included."""

    type: Literal["ultraface"] = "ultraface"
    model: str = "ultraface_rfb640_masked_face_v2"
    score_threshold: float = Field(0.5, ge=0.0, le=1.0)  # on 1 - P(background)
    nms_threshold: float = Field(0.3, ge=0.0, le=1.0)
    num_threads: int = Field(2, ge=1, le=64)
    cuda: CudaMode = "auto"  # as RetinaFace's


# ---------------------------------------------------------------- pose detectors


class PoseNetConfig(PoseDetectorConfig):
    type: Literal["posenet"] = "posenet"
    model: str = "posenet_mobilenet_v1_075_481_641_quant"
    max_poses: int = Field(20, ge=1, le=100)
    part_threshold: float = Field(0.5, gt=0.0, lt=1.0)  # heatmap probability to seed a person
    pose_threshold: float = Field(0.15, ge=0.0, le=1.0)  # mean keypoint probability to keep one
    nms_radius: float = Field(20.0, gt=0.0)  # keypoint NMS, in model input pixels


class PoseNetEdgeTPUConfig(PoseNetConfig):
    type: Literal["posenet_edgetpu"] = "posenet_edgetpu"  # type: ignore[assignment]
    model: str = "posenet_mobilenet_v1_075_721_1281_quant_decoder_edgetpu"
    edgetpu_lib: str = "libedgetpu.so.1"
    decoder_lib: str = "posenet_decoder.so"  # a path, or a name on the library search path
    device: str = ""  # "" = the first Edge TPU; else e.g. "usb", "usb:0", "pci:0"
    fallback_to_cpu: bool = False
    cpu_model: str = "posenet_mobilenet_v1_075_721_1281_quant"  # what runs when falling back
    # The decoder op's own thresholds are fixed in the model; part_threshold and nms_radius apply
    # to the CPU fallback only, pose_threshold to both.
    max_poses: int = Field(10, ge=1, le=100)


class MoveNetConfig(PoseDetectorConfig):
    type: Literal["movenet"] = "movenet"
    model: str = "movenet_multipose_lightning_fp16"
    input_size: int = Field(256, ge=128, le=1280)  # longest side of the input tensor
    pose_threshold: float = Field(0.1, ge=0.0, le=1.0)
    face: PoseFaceConfig = PoseFaceConfig(keypoint_threshold=0.2)

    @field_validator("input_size")
    @classmethod
    def _multiple_of_32(cls, v: int) -> int:
        if v % 32:
            raise ValueError(f"must be a multiple of 32 (e.g. {v // 32 * 32} or {(v // 32 + 1) * 32})")
        return v


class OpenPifPafConfig(PoseDetectorConfig):
    type: Literal["openpifpaf_trt"] = "openpifpaf_trt"
    onnx: str = "openpifpaf-shufflenetv2k16.onnx"  # path to the export (not shipped)
    engine: str = ""  # TensorRT engine cache; "" = the ONNX path with .engine
    runtime: Literal["tensorrt", "onnxruntime"] = "tensorrt"
    fp16: bool = True
    workspace_mb: int = Field(1024, ge=64, le=65536)
    seed_threshold: float = Field(0.3, ge=0.0, le=1.0)
    caf_threshold: float = Field(0.2, ge=0.0, le=1.0)
    pose_threshold: float = Field(0.1, ge=0.0, le=1.0)
    max_poses: int = Field(50, ge=1, le=500)


# ---------------------------------------------------------------- the union

MemberConfig = Annotated[
    YuNetConfig | RetinaFaceConfig | UltraFaceConfig | PoseNetConfig | PoseNetEdgeTPUConfig | MoveNetConfig | OpenPifPafConfig,
    Field(discriminator="type"),
]
MEMBER_TYPES: tuple[str, ...] = ("yunet", "retinaface", "ultraface", "posenet", "posenet_edgetpu", "movenet",
                                 "openpifpaf_trt")


def check_type(v: Any, where: str = "") -> Any:
    """One readable line for a missing or unknown ``type`` (pydantic's own names the union)."""
    if not isinstance(v, dict) or "type" not in v:
        raise ValueError(f"{where}must be an object with a 'type' key naming the detector")
    if v["type"] not in DETECTOR_TYPES:
        raise ValueError(f"{where}unknown detector type '{v['type']}' (known: {', '.join(sorted(DETECTOR_TYPES))})")
    return v


class FusionConfig(Section):
    """Several detectors on one frame, their faces merged (``detectors.fusion``)."""

    type: Literal["fusion"] = "fusion"
    detectors: list[MemberConfig] = Field(min_length=2)
    iou_threshold: float = Field(0.3, gt=0.0, le=1.0)

    @field_validator("detectors", mode="before")
    @classmethod
    def _members(cls, v: Any) -> Any:
        if isinstance(v, list):
            for i, member in enumerate(v):
                if isinstance(member, dict) and member.get("type") == "fusion":
                    raise ValueError(f"detectors[{i}]: a fusion cannot contain another fusion")
                check_type(member, f"detectors[{i}] ")
        return v


DETECTOR_TYPES: tuple[str, ...] = MEMBER_TYPES + ("fusion",)
DetectorConfig = Annotated[
    YuNetConfig | RetinaFaceConfig | UltraFaceConfig | PoseNetConfig | PoseNetEdgeTPUConfig | MoveNetConfig | OpenPifPafConfig | FusionConfig,
    Field(discriminator="type"),
]
