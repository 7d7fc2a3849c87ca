"""Classifier throughput through the inference runtime: faces/s per model and batch size.

``python -m facemask.training.speed [--models ofm_classifier_int8 ofm_classifier_float32]
[--threads 1] [--batches 1 16 64] [--seconds 3]``. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from ..classifiers.runtime import MaskClassifier
from ..config import ClassifierConfig
from ..cli import report_errors


def faces_per_second(clf: MaskClassifier, batch: int, seconds: float, rng: np.random.Generator) -> float:
    crops = rng.integers(0, 256, (batch, clf.input_size, clf.input_size, 3), dtype=np.uint8)
    clf.predict(crops)  # warm-up: builds the interpreter for this batch size
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        clf.predict(crops)
        n += batch
    return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m facemask.training.speed", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["ofm_classifier_int8", "ofm_classifier_float32"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64])
    p.add_argument("--seconds", type=float, default=3.0)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)

    def run() -> None:
        for name in args.models:
            clf = MaskClassifier(ClassifierConfig(model=name, num_threads=args.threads, max_batch=max(args.batches)))
            for b in args.batches:
                fps = faces_per_second(clf, b, args.seconds, rng)
                print(f"{name:28s} threads {args.threads} batch {b:4d}: {fps:8.0f} faces/s", flush=True)

    return report_errors(run)


if __name__ == "__main__":
    sys.exit(main())
