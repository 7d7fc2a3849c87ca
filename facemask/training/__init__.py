"""Train, export and measure the mask classifier.

``prepare`` builds the folder dataset, ``data`` reads it, ``augment`` imitates CCTV, ``backbones``
and ``heads`` are registries of model parts, ``train`` fits, ``export`` writes .tflite files,
``evaluate`` and ``speed`` measure a trained model. Only ``train``/``export``/``backbones``/``heads``
import TensorFlow; the rest (and all inference) runs without it.
"""
