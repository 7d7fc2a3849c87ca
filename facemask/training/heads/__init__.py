"""Heads: ``build(features, n_classes) -> softmax probabilities``, one file each."""

from ..registry import Registry

heads = Registry("head", __name__, __path__)
register = heads.register
