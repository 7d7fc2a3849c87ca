"""MoveNet MultiPose Lightning (float16 TFLite) through LiteRT.

One call returns up to six people: 17 keypoints (y, x, score, normalised to the input tensor) and
a person box and score each. The input size is free (multiples of 32): the longest side of the
tensor is ``input_size`` and the other side follows the frame's aspect, rounded up to a multiple
of 32, so a frame is neither squashed nor padded much. More than six people need ``tiles``.
"""

from __future__ import annotations

import math

import numpy as np

from ..models import resolve
from ..runtimes import tflite
from .base import register
from .configs import MoveNetConfig
from .pose_base import PoseFaceDetector, letterbox

MAX_PEOPLE = 6


class MoveNetRunner:
    def __init__(self, model: str, num_threads: int, input_size: int, pose_threshold: float):
        self.model_path = str(resolve(model))
        self.num_threads = num_threads
        self.input_size = input_size
        self.pose_threshold = pose_threshold
        self._by_shape: dict[tuple[int, int], object] = {}  # (H, W) -> interpreter sized for it

    def tensor_shape(self, height: int, width: int) -> tuple[int, int]:
        s = self.input_size / max(height, width)
        return (max(32, math.ceil(height * s / 32) * 32), max(32, math.ceil(width * s / 32) * 32))

    def _interpreter(self, shape: tuple[int, int]):
        it = self._by_shape.get(shape)
        if it is None:
            it = tflite.interpreter(self.model_path, self.num_threads)
            it.resize_tensor_input(it.get_input_details()[0]["index"], [1, *shape, 3])
            it.allocate_tensors()
            if len(self._by_shape) >= 8:  # tiles and frame sizes are few; do not grow without bound
                self._by_shape.pop(next(iter(self._by_shape)))
            self._by_shape[shape] = it
        return it

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        th, tw = self.tensor_shape(*rgb.shape[:2])
        it = self._interpreter((th, tw))
        canvas, s = letterbox(rgb, th, tw)
        inp = it.get_input_details()[0]
        it.set_tensor(inp["index"], canvas[None].astype(inp["dtype"]))
        it.invoke()
        out = it.get_tensor(it.get_output_details()[0]["index"])[0].astype(np.float32)  # (6, 56)
        out = out[out[:, 55] >= self.pose_threshold]
        yxs = out[:, :51].reshape(-1, 17, 3)
        kps = np.stack([yxs[:, :, 1] * tw / s, yxs[:, :, 0] * th / s, yxs[:, :, 2]], axis=2)
        return kps.astype(np.float32), out[:, 55].copy()


@register("movenet")
class MoveNetDetector(PoseFaceDetector):
    def __init__(self, cfg: MoveNetConfig):
        runner = MoveNetRunner(cfg.model, cfg.num_threads, cfg.input_size, cfg.pose_threshold)
        super().__init__(cfg, runner, source="movenet")
