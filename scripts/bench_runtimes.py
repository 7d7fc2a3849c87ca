#!/usr/bin/env python3
"""Runtimes side by side, interleaved image by image in one process, on one thread each.

On a shared machine absolute times swing with the other jobs; runtimes timed on the same image
one right after the other (the order alternating from image to image) see the same load, so
their ratios hold. For each image of kaggle853 ``--split`` (val by default):

* YuNet's ``detect`` (both passes of the config, box correction) on ONNX Runtime, OpenVINO and
  OpenCV's DNN (those installed): median ms per image, the median of the per-image ratios to
  ONNX Runtime, the ratio of the means, and how many of ONNX Runtime's faces each finds again
  (IoU > 0.99);
* the whole photo pipeline (detect + classify, as ``scripts/bench_photos.py`` times it): facemask
  as configured, the same with the classifier's batches padded (as before), and facemask before
  (``bench_photos.BASELINE``: OpenCV's DNN, no large-face run, no box correction, no photo
  labelling): ms per image as above, the ratio of means being the time target's ratio;
* the mask classifier on that image's face crops (the faces a photo labels), one call per image
  as the pipeline makes it: LiteRT int8 as configured (batches split into powers of two), LiteRT
  int8 padded to the next power of two (as before), ONNX Runtime float32 (``ofm_classifier.onnx``),
  OpenVINO float32 (the same .onnx) and OpenVINO reading the int8 .tflite (its own int8 path), with
  a dynamic batch; ms per image as above, the largest mask-probability difference to LiteRT int8
  and how many labels (mask_prob >= 0.5) differ.

    python scripts/bench_runtimes.py                  # all three
    python scripts/bench_runtimes.py --only classifier --limit 60
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from facemask.classifiers.runtime import MaskClassifier, OnnxBackend, TFLiteBackend  # noqa: E402
from facemask.config import Config, load_config, parse_config  # noqa: E402
from facemask.detectors import build_detector  # noqa: E402
from facemask.evaluation.data import load_voc  # noqa: E402
from facemask.evaluation.detector_sweep import DatasetImages  # noqa: E402
from facemask.geometry import box_iou  # noqa: E402
from facemask.models import resolve  # noqa: E402
from facemask.pipeline import FramePipeline  # noqa: E402
from facemask.runtimes import tflite  # noqa: E402

sys.path.insert(0, str(REPO / "scripts"))
from bench_photos import BASELINE, ONE_THREAD  # noqa: E402


def interleaved(fns: dict[str, Callable], inputs: list) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Each function on each input, one after the other, the order reversed every other input:
    (ms per input for each, the outputs per input)."""
    names = list(fns)
    for f in fns.values():  # warm-up
        f(inputs[0])
    times: dict[str, list[float]] = {n: [] for n in names}
    outs = []
    for i, x in enumerate(inputs):
        out = {}
        for n in names if i % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            out[n] = fns[n](x)
            times[n].append((time.perf_counter() - t0) * 1e3)
        outs.append(out)
    return {n: np.array(t) for n, t in times.items()}, outs


def report(times: dict[str, np.ndarray], ref: str, extra: dict[str, str]) -> None:
    base = times[ref]
    for n, t in times.items():
        print(f"  {n:28s} median {np.median(t):7.2f} ms, mean {t.mean():7.2f}; per-image ratio to {ref} "
              f"{np.median(t / base):.3f} (median), ratio of means {t.mean() / base.mean():.3f}{extra.get(n, '')}", flush=True)


def detectors(cfg: Config, data: DatasetImages) -> None:
    fns = {}
    for rt in ("onnxruntime", "openvino", "opencv"):
        try:
            det = build_detector(parse_config({**cfg.model_dump(), "detector": {**cfg.detector.model_dump(), "runtime": rt}}))
        except Exception as exc:  # noqa: BLE001 - a runtime that is not installed is reported, not fatal
            print(f"  {rt:28s} not available: {exc}")
            continue
        fns[rt] = lambda image, det=det: np.array([f.box for f in det.detect(image)]).reshape(-1, 4)
    times, outs = interleaved(fns, data.images)
    n = sum(len(o["onnxruntime"]) for o in outs)
    same = {}
    for rt in fns:
        hit = sum(int((box_iou(o["onnxruntime"], o[rt]).max(axis=1) > 0.99).sum())
                  if len(o["onnxruntime"]) and len(o[rt]) else 0 for o in outs)
        same[rt] = f"; {hit} of {n} faces as ONNX Runtime's"
    print(f"YuNet detect, {len(data.images)} images, one thread:")
    report(times, "onnxruntime", same)


class PaddedTFLite(TFLiteBackend):
    """LiteRT as before: each call padded to the next power of two."""

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        b = 1
        while b < len(crops):
            b *= 2
        it = self._get(b)
        inp, outp = it.get_input_details()[0], it.get_output_details()[0]
        x = np.zeros((b,) + crops.shape[1:], np.float32)
        x[: len(crops)] = crops
        it.set_tensor(inp["index"], tflite.quantize(x, inp))
        it.invoke()
        return tflite.dequantize(it.get_tensor(outp["index"])[: len(crops)], outp)


def openvino_classifier(path: Path, size: int) -> Callable | None:
    try:
        import openvino
    except ImportError:
        return None
    core = openvino.Core()
    model = core.read_model(str(path))
    model.reshape([-1, size, size, 3])
    request = core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": 1, "PERFORMANCE_HINT": "LATENCY",
                                                "INFERENCE_PRECISION_HINT": "f32"}).create_infer_request()  # as facemask.runtimes.openvino
    quantized = model.inputs[0].get_element_type().get_type_name() == "u8"
    if quantized:  # the int8 .tflite: uint8 pixels in, uint8 probabilities (scale 1/256) out
        return lambda x: next(iter(request.infer({0: x.astype(np.uint8)}).values())).astype(np.float32) / 256
    return lambda x: next(iter(request.infer({0: x.astype(np.float32)}).values()))


def pipelines(cfg: Config, baseline: Config, data: DatasetImages) -> None:
    padded = FramePipeline(cfg)
    padded.classifier.backend = PaddedTFLite(resolve(cfg.classifier.model), 1, cfg.classifier.max_batch)
    systems = {"facemask": FramePipeline(cfg), "facemask, padded batches": padded, "facemask before": FramePipeline(baseline)}
    fns = {n: (lambda image, pipe=pipe: pipe.process(image, image="x")) for n, pipe in systems.items()}
    times, _ = interleaved(fns, data.images)
    print(f"Photo pipeline (detect + classify), {len(data.images)} images, one thread:")
    report(times, "facemask before", {})


def classifiers(cfg: Config, data: DatasetImages) -> None:
    det = build_detector(cfg)
    clf = MaskClassifier(cfg.classifier)
    crops = [c for c in (clf.crops(image, det.detect(image, cfg.images.min_score)) for image in data.images) if len(c)]
    int8, onnx_path = resolve(cfg.classifier.model), resolve("ofm_classifier_onnx")
    fns: dict[str, Callable] = {
        "litert int8 (pieces)": TFLiteBackend(int8, 1, cfg.classifier.max_batch),
        "litert int8 padded (before)": PaddedTFLite(int8, 1, cfg.classifier.max_batch),
        "onnxruntime float32": OnnxBackend(onnx_path, 1, cfg.classifier.max_batch),
    }
    for name, path in (("openvino float32", onnx_path), ("openvino int8 (the .tflite)", int8)):
        f = openvino_classifier(path, clf.input_size)
        if f is None:
            print(f"  {name:28s} not available: openvino is not installed")
        else:
            fns[name] = f
    times, outs = interleaved(fns, crops)
    ref = "litert int8 (pieces)"
    extra = {}
    for n in fns:
        diff = max(float(np.abs(o[n][:, clf.mask_index] - o[ref][:, clf.mask_index]).max()) for o in outs)
        flips = sum(int(((o[n][:, clf.mask_index] >= 0.5) != (o[ref][:, clf.mask_index] >= 0.5)).sum()) for o in outs)
        extra[n] = f"; max |mask_prob diff| {diff:.4f}, {flips} labels differ"
    print(f"Classifier, {len(crops)} images with faces, {sum(len(c) for c in crops)} faces "
          f"({np.mean([len(c) for c in crops]):.1f} per image), one thread:")
    report(times, ref, extra)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "kaggle853"))
    p.add_argument("--split", default="val")
    p.add_argument("--config", default=str(REPO / "configs" / "config-x86.json"))
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--baseline-set", dest="baseline_overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override the config of 'facemask before' (e.g. classifier.model=FILE: the classifier it had)")
    p.add_argument("--only", choices=("detector", "pipeline", "classifier"))
    p.add_argument("--limit", type=int, default=0, help="the first n images only (0: all)")
    args = p.parse_args()
    cv2.setNumThreads(1)
    items = load_voc(args.data, args.split)
    data = DatasetImages.load(items[: args.limit] if args.limit else items)
    cfg = load_config(args.config, args.overrides + ONE_THREAD)
    print(f"kaggle853 {args.split}, load average {os.getloadavg()[0]:.1f}")
    if args.only in (None, "detector"):
        detectors(cfg, data)
    if args.only in (None, "pipeline"):
        baseline = load_config(args.config, BASELINE + ONE_THREAD + args.baseline_overrides)
        pipelines(cfg, baseline, data)
    if args.only in (None, "classifier"):
        classifiers(cfg, data)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
