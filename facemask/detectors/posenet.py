"""PoseNet (MobileNetV1 0.75, uint8) on a plain CPU through LiteRT, decoded in numpy.

The ``posenet_mobilenet_v1_075_<H>_<W>_quant`` models (Coral's CPU-runnable components) take a
fixed (H, W) RGB uint8 image and return three uint8 tensors on a stride-16 grid: heatmap logits,
short-range offsets and mid-range displacements (see ``posenet_decode``). The frame (or tile) is
letterboxed into the input, so a small image is upscaled to the model's size: pick a larger model
for small people (721x1281 sees CCTV pedestrians a 353x481 model misses).
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelError
from ..models import resolve
from ..runtimes import tflite
from .base import register
from .configs import PoseNetConfig
from .pose_base import PoseFaceDetector, letterbox
from .posenet_decode import decode_multiple_poses


class PoseNetRunner:
    """RGB image -> poses, with the CPU model and the numpy decoder."""

    def __init__(self, model: str, num_threads: int, *, max_poses: int, part_threshold: float,
                 pose_threshold: float, nms_radius: float):
        self.model_path = str(resolve(model))
        self.interpreter = tflite.interpreter(self.model_path, num_threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.height, self.width = (int(v) for v in self.input["shape"][1:3])
        by_name = {d["name"]: d for d in self.interpreter.get_output_details()}
        try:
            self.outputs = [by_name[n] for n in ("float_heatmaps", "float_short_offsets", "float_mid_offsets")]
        except KeyError:
            raise ModelError(
                f"{self.model_path} is not a PoseNet component model: expected outputs float_heatmaps, "
                f"float_short_offsets, float_mid_offsets; it has {', '.join(sorted(by_name))}"
            ) from None
        # Inputs are (grid - 1) * stride + 1 pixels high: 16 for these models.
        self.stride = (self.height - 1) // max(int(self.outputs[0]["shape"][1]) - 1, 1)
        self.max_poses, self.part_threshold = max_poses, part_threshold
        self.pose_threshold, self.nms_radius = pose_threshold, nms_radius

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        canvas, s = letterbox(rgb, self.height, self.width)
        self.interpreter.set_tensor(self.input["index"], canvas[None])
        self.interpreter.invoke()
        heatmaps, short, mid = (tflite.output(self.interpreter, d)[0] for d in self.outputs)
        kps, scores = decode_multiple_poses(heatmaps, short, mid, self.stride, max_poses=self.max_poses,
                                             part_threshold=self.part_threshold,
                                             pose_threshold=self.pose_threshold, nms_radius=self.nms_radius)
        kps[:, :, :2] /= s
        return kps, scores


def posenet_runner(cfg: PoseNetConfig, model: str | None = None) -> PoseNetRunner:
    return PoseNetRunner(model or cfg.model, cfg.num_threads, max_poses=cfg.max_poses,
                         part_threshold=cfg.part_threshold, pose_threshold=cfg.pose_threshold,
                         nms_radius=cfg.nms_radius)


@register("posenet")
class PoseNetDetector(PoseFaceDetector):
    def __init__(self, cfg: PoseNetConfig):
        super().__init__(cfg, posenet_runner(cfg), source="posenet")
