"""Measuring facemask: metrics (``metrics``, ``coco``), labelled data and prediction files
(``data``), the ``eval`` and ``bench`` commands (``cli``, ``bench``) and the detector's
small-face sweep (``detector_sweep``) behind scripts/benchmark.py and docs/results.md."""
