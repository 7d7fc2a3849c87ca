"""The OFMClassifier head: dropout, Dense(64, relu), softmax."""

from __future__ import annotations

from . import register


@register("dense")
def build(features, n_classes: int, hidden: int = 64, dropout: float = 0.2):
    from keras import layers

    x = layers.Dropout(dropout, name="head_drop")(features)
    x = layers.Dense(hidden, activation="relu", name="head_fc")(x)
    return layers.Dense(n_classes, activation="softmax", name="probs")(x)
