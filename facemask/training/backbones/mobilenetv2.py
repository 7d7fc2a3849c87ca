"""MobileNetV2 (keras.applications) trained from scratch, ``training.width`` = width multiplier
(alpha). At 45x45 the last feature map is 2x2; alpha 0.35 costs about as much as OFMClassifier."""

from __future__ import annotations

from . import register


@register("mobilenetv2")
def build(inputs, width: float = 1.0):
    import keras
    from keras import layers

    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(inputs)  # MobileNetV2 expects -1..1
    base = keras.applications.MobileNetV2(
        input_shape=tuple(inputs.shape[1:]), alpha=width, include_top=False, weights=None, pooling="avg"
    )
    return base(x)
