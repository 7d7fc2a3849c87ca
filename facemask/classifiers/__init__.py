"""Mask classifiers: ``runtime`` runs a trained model at inference (no TensorFlow);
training-time backbones and heads live in ``facemask.training``."""

from .runtime import MaskClassifier, build_classifier

__all__ = ["MaskClassifier", "build_classifier"]
