"""PoseNet on a Coral Edge TPU, with the decoding done by Coral's PosenetDecoderOp.

The ``posenet_..._decoder_edgetpu`` models run the network on the Edge TPU (``edgetpu-custom-op``)
and decode the poses in a custom TFLite op shipped as a shared library by
google-coral/project-posenet (``posenet_lib/<arch>/posenet_decoder.so``). Both are loaded as
TFLite delegates: libedgetpu (``libedgetpu1-std`` from https://coral.ai/software/#debian-packages)
and the decoder library. pycoral is not needed. The interpreter is Coral's ``tflite_runtime``
when installed (the runtime libedgetpu is built against), else ai-edge-litert.

When either library is missing, building the detector fails with one BackendUnavailable line
naming what is missing, unless ``fallback_to_cpu`` is true: then ``cpu_model`` runs on the CPU
with the numpy decoder (the ``posenet`` detector), with a warning.
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import BackendUnavailable, ModelError
from ..models import resolve
from ..runtimes import edgetpu
from .base import register
from .configs import PoseNetEdgeTPUConfig
from .pose_base import PoseFaceDetector, letterbox
from .posenet import PoseNetRunner, posenet_runner

log = logging.getLogger("facemask")


def _interpreter_module():
    try:
        import tflite_runtime.interpreter as tfl  # Coral's runtime, matching libedgetpu
    except ImportError:
        try:
            import ai_edge_litert.interpreter as tfl
        except ImportError:  # pragma: no cover - installed with requirements.txt
            raise BackendUnavailable("neither tflite-runtime nor ai-edge-litert is installed") from None
    return tfl


_loadable = edgetpu.missing  # None when a shared library loads, else why not


def decoder_op_poses(yx: np.ndarray, kp_scores: np.ndarray, pose_scores: np.ndarray, count: np.ndarray,
                     pose_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """PosenetDecoderOp's outputs -> keypoints (N, 17, 3) x, y, score and (N,) person scores."""
    n = int(np.asarray(count).reshape(-1)[0])
    yx, kp_scores, pose_scores = yx[0, :n], kp_scores[0, :n], pose_scores[0, :n]
    keep = pose_scores >= pose_threshold
    kps = np.stack([yx[keep, :, 1], yx[keep, :, 0], kp_scores[keep]], axis=2)
    return kps.astype(np.float32), pose_scores[keep].astype(np.float32)


class PoseNetEdgeTPURunner:
    def __init__(self, cfg: PoseNetEdgeTPUConfig):
        missing = []
        if _loadable(cfg.edgetpu_lib) is not None:
            missing.append(f"the Edge TPU runtime {cfg.edgetpu_lib} (libedgetpu1-std, https://coral.ai/software/)")
        if _loadable(cfg.decoder_lib) is not None:
            missing.append(f"Coral's PoseNet decoder op {cfg.decoder_lib} "
                           "(google-coral/project-posenet posenet_lib/<arch>/posenet_decoder.so)")
        if missing:
            raise BackendUnavailable(
                "the Edge TPU PoseNet needs " + " and ".join(missing) + ", not found here; "
                "set detector.fallback_to_cpu to true to run the CPU PoseNet instead"
            )
        tfl = _interpreter_module()
        delegates = [edgetpu.delegate(cfg.edgetpu_lib, cfg.device, tfl.load_delegate),
                     edgetpu.delegate(cfg.decoder_lib, "", tfl.load_delegate)]
        self.model_path = str(resolve(cfg.model))
        self.interpreter = tfl.Interpreter(model_path=self.model_path, experimental_delegates=delegates)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.height, self.width = (int(v) for v in self.input["shape"][1:3])
        # PosenetDecoderOp's outputs, told apart by rank: keypoints (1, N, 17, 2) as y, x in input
        # pixels, keypoint scores (1, N, 17), pose scores (1, N), and the pose count.
        by_rank = {max(len(d["shape"]), 1): d for d in self.interpreter.get_output_details()}
        if sorted(by_rank) != [1, 2, 3, 4]:
            raise ModelError(f"{self.model_path}: not a PoseNet model with Coral's decoder op (outputs "
                             f"{[list(d['shape']) for d in self.interpreter.get_output_details()]})")
        self.outputs = [by_rank[r] for r in (4, 3, 2, 1)]
        self.pose_threshold = cfg.pose_threshold

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        canvas, s = letterbox(rgb, self.height, self.width)
        self.interpreter.set_tensor(self.input["index"], canvas[None])
        self.interpreter.invoke()
        yx, kp_scores, pose_scores, count = (self.interpreter.get_tensor(d["index"]) for d in self.outputs)
        kps, scores = decoder_op_poses(yx, kp_scores, pose_scores, count, pose_threshold=self.pose_threshold)
        kps[:, :, :2] /= s
        return kps, scores


@register("posenet_edgetpu")
class PoseNetEdgeTPUDetector(PoseFaceDetector):
    def __init__(self, cfg: PoseNetEdgeTPUConfig):
        try:
            runner: PoseNetRunner | PoseNetEdgeTPURunner = PoseNetEdgeTPURunner(cfg)
            source = "posenet_edgetpu"
        except BackendUnavailable as exc:
            if not cfg.fallback_to_cpu:
                raise
            log.warning("%s; falling back to %s on the CPU", str(exc).split(";")[0], cfg.cpu_model)
            runner, source = posenet_runner(cfg, model=cfg.cpu_model), "posenet"
        super().__init__(cfg, runner, source)
