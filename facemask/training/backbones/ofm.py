"""OFMClassifier (Neuralet face-mask application): three blocks of two 3x3 convolutions
(32, 64, 128 channels), batch norm, 2x2 max pooling after the first two blocks, global average
pooling. At 45x45 input it costs ~74 M multiply-adds per face (int8: ~4000 faces/s on one core)."""

from __future__ import annotations

from . import register


@register("ofm")
def build(inputs, width: float = 1.0, dropout: float = 0.2):
    from keras import layers, regularizers

    reg = regularizers.l2(1e-4)
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    for i, channels in enumerate((32, 64, 128)):
        c = max(8, int(round(channels * width)))
        x = layers.Conv2D(c, 3, padding="same", activation="relu", kernel_regularizer=reg, name=f"b{i}_conv1")(x)
        x = layers.Conv2D(c, 3, padding="same", use_bias=False, kernel_regularizer=reg, name=f"b{i}_conv2")(x)
        x = layers.BatchNormalization(name=f"b{i}_bn")(x)
        x = layers.ReLU(name=f"b{i}_relu")(x)
        if i < 2:
            x = layers.MaxPooling2D(2, name=f"b{i}_pool")(x)
            x = layers.Dropout(dropout, name=f"b{i}_drop")(x)
    return layers.GlobalAveragePooling2D(name="gap")(x)
