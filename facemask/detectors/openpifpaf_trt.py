"""OpenPifPaf on a Jetson: a TensorRT engine built from (or cached next to) an OpenPifPaf ONNX export.

No weights ship with facemask: export the ONNX once with openpifpaf (docs/jetson.md), e.g.

    python -m openpifpaf.export_onnx --checkpoint shufflenetv2k16 \\
        --outfile openpifpaf-shufflenetv2k16.onnx --input-width 641 --input-height 481

and point ``onnx`` at it. On first use the engine is built with TensorRT (FP16 where the GPU has
it, minutes on a Jetson) and saved as ``engine`` (default: the ONNX path with ``.engine``); later
runs load it. The input size is the export's; frames are letterboxed into it. The fields are
decoded by ``openpifpaf_decode`` in numpy, and the grid stride is read from the output shape.

Runs through ``facemask.runtimes.tensorrt``: TensorRT's Python API comes with JetPack, CUDA memory
and streams go through cuda-python (the ``[jetson]`` extra), whose primary context every thread
shares. Without either, building the detector fails with one BackendUnavailable line.
``runtime: "onnxruntime"`` runs the same ONNX on the CPU instead (slow, but it checks an export
and the decoding on any machine).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..runtimes import onnx, tensorrt
from .base import register
from .configs import OpenPifPafConfig
from .openpifpaf_decode import NUM_KEYPOINTS, SKELETON, decode_cifcaf
from .pose_base import PoseFaceDetector, letterbox

MEAN = np.array([0.485, 0.456, 0.406], np.float32)  # ImageNet RGB, as OpenPifPaf normalises
STD = np.array([0.229, 0.224, 0.225], np.float32)

WHAT = "the OpenPifPaf TensorRT detector"
OTHERWISE = 'see docs/jetson.md; elsewhere set detector.runtime to "onnxruntime"'


def build_engine(trt, onnx_path: Path, engine_path: Path, fp16: bool, workspace_mb: int) -> bytes:
    """Parse the ONNX, build a serialized engine for its fixed input size, save it atomically."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    explicit = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)  # gone in TensorRT 10
    network = builder.create_network(0 if explicit is None else 1 << int(explicit))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    if fp16 and builder.platform_has_fast_fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    inp = network.get_input(0)
    shape = (1, *tuple(inp.shape)[1:])  # the export's batch axis is dynamic; H, W are fixed
    profile = builder.create_optimization_profile()
    profile.set_shape(inp.name, shape, shape, shape)
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelError(f"TensorRT could not build an engine from {onnx_path} (see its log above)")
    data = bytes(serialized)
    fd, tmp = tempfile.mkstemp(prefix=engine_path.name + ".", suffix=".part", dir=engine_path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, engine_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return data


class TensorRTFields:
    """(1, 3, H, W) float32 -> {"cif": ..., "caf": ...} with a TensorRT engine."""

    def __init__(self, cfg: OpenPifPafConfig):
        trt, _ = tensorrt.modules(WHAT, OTHERWISE)
        onnx_path = Path(cfg.onnx).expanduser()
        engine_path = Path(cfg.engine).expanduser() if cfg.engine else onnx_path.with_suffix(".engine")
        if engine_path.is_file():
            data = engine_path.read_bytes()
        elif onnx_path.is_file():
            data = build_engine(trt, onnx_path, engine_path, cfg.fp16, cfg.workspace_mb)
        else:
            raise ModelError(f"neither the engine {engine_path} nor the ONNX {onnx_path} exists: "
                             "export OpenPifPaf to ONNX first (docs/jetson.md)")
        self.engine = tensorrt.TrtEngine(data, name=str(engine_path), hint="delete it to rebuild",
                                         what=WHAT, otherwise=OTHERWISE)
        self.input_name = self.engine.inputs[0]
        self.input_shape = (1, *self.engine.shape(self.input_name)[1:])

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return self.engine.run({self.input_name: x})


class OnnxRuntimeFields:
    def __init__(self, cfg: OpenPifPafConfig):
        onnx_path = Path(cfg.onnx).expanduser()
        if not onnx_path.is_file():
            raise ModelError(f"{onnx_path} does not exist: export OpenPifPaf to ONNX first (docs/jetson.md)")
        self.session = onnx.session(onnx_path, cfg.num_threads, gpu=False)
        self.input_name = self.session.get_inputs()[0].name
        self.input_shape = (1, *self.session.get_inputs()[0].shape[1:])
        if not all(isinstance(v, int) for v in self.input_shape):
            raise ModelError(f"{cfg.onnx}: the input height and width must be fixed (export with --input-width/--input-height)")

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        outs = self.session.run(None, {self.input_name: x.astype(np.float32)})
        return {o.name: v for o, v in zip(self.session.get_outputs(), outs)}


def split_fields(outputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Find CIF and CAF among the outputs: by name, else by their number of fields."""
    if "cif" in outputs and "caf" in outputs:
        return outputs["cif"], outputs["caf"]
    by_fields = {v.shape[1]: v for v in outputs.values() if v.ndim == 5}
    try:
        return by_fields[NUM_KEYPOINTS], by_fields[len(SKELETON)]
    except KeyError:
        raise ModelError(f"not an OpenPifPaf COCO pose export: outputs {[v.shape for v in outputs.values()]}") from None


class OpenPifPafRunner:
    def __init__(self, cfg: OpenPifPafConfig):
        self.cfg = cfg
        self.fields = TensorRTFields(cfg) if cfg.runtime == "tensorrt" else OnnxRuntimeFields(cfg)
        self.height, self.width = (int(v) for v in self.fields.input_shape[2:4])

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        canvas, s = letterbox(rgb, self.height, self.width)
        x = ((canvas.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1)[None]
        cif, caf = split_fields(self.fields(x))
        stride = (self.width - 1) / max(cif.shape[-1] - 1, 1)  # exports are (grid - 1) * stride + 1 wide
        kps, scores = decode_cifcaf(cif, caf, stride, seed_threshold=self.cfg.seed_threshold,
                                    caf_threshold=self.cfg.caf_threshold, pose_threshold=self.cfg.pose_threshold,
                                    max_poses=self.cfg.max_poses)
        kps[:, :, :2] /= s
        return kps, scores


@register("openpifpaf_trt")
class OpenPifPafDetector(PoseFaceDetector):
    def __init__(self, cfg: OpenPifPafConfig):
        super().__init__(cfg, OpenPifPafRunner(cfg), source="openpifpaf")
