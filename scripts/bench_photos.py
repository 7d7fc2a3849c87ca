#!/usr/bin/env python3
"""Photos, side by side in one run: facemask as configured, facemask as it was (the baseline
settings below), and the peer UltraFace-masked RFB-640 (its own face / masked-face classes).

Everything runs on one thread (OpenCV, ONNX Runtime, LiteRT), one image at a time, the same
images for every system, in one process, so times can be compared as ratios. Two sets:

* kaggle853 ``--split`` (val by default: measuring only): detection recall (IoU 0.5), faces
  < 32 px, precision, AP50; faces found but left without a label; classifier accuracy on matched
  faces (mask vs no mask); TNR (unmasked faces found and called unmasked, of all unmasked) and
  FNR (found masked faces called unmasked); ms per image (detect + classify, mean);
* the large-face check (``facemask.evaluation.large_faces``: the split's faces >= 32 px enlarged
  to 128-512 px onto its other scenes, photos up to 4032x3024): recall for masked and unmasked
  faces, ms per image.

``--runtimes`` also times YuNet alone on each runtime (OpenCV DNN, ONNX Runtime, OpenVINO) on
the kaggle853 images, interleaved image by image (``scripts/bench_runtimes.py``), and checks they
find the same faces.

    python scripts/bench_photos.py                       # val, the x86 config
    python scripts/bench_photos.py --split train --limit-large 200 --set detector.large_side=480
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from facemask.config import Config, load_config, parse_config  # noqa: E402
from facemask.detectors import build_detector  # noqa: E402
from facemask.evaluation import large_faces  # noqa: E402
from facemask.evaluation.data import image_eval, load_voc  # noqa: E402
from facemask.evaluation.detector_sweep import DatasetImages, threshold_table  # noqa: E402
from facemask.evaluation.metrics import (  # noqa: E402
    ImageEval,
    binary_classification,
    detection_report,
    match_all,
    matched_pairs,
    pipeline_rates,
)
from facemask.pipeline import FramePipeline  # noqa: E402
from facemask.types import MASK, NO_MASK, UNKNOWN  # noqa: E402

# facemask before scale-aware detection, box correction and photo labelling (the defaults of
# the commit this script came with, less those three, on the runtime it had).
BASELINE = ["detector.runtime=opencv", "detector.large_side=0", "detector.box_correction=none",
            "images.label_every_face=false"]
ONE_THREAD = ["detector.num_threads=1", "classifier.num_threads=1"]


def run_facemask(cfg: Config, data: DatasetImages) -> tuple[list[ImageEval], list[float]]:
    pipe = FramePipeline(cfg)
    pipe.process(data.images[0], image="warm-up")
    evals, times = [], []
    for item, image in zip(data.items, data.images):
        t0 = time.perf_counter()
        result = pipe.process(image, image=item.name)
        times.append((time.perf_counter() - t0) * 1e3)
        evals.append(image_eval(item, result.to_json()["faces"]))
    return evals, times


def run_ultraface(data: DatasetImages) -> tuple[list[ImageEval], list[float]]:
    det = build_detector(parse_config({"detector": {"type": "ultraface", "num_threads": 1}}))
    det.detect(data.images[0])
    evals, times = [], []
    for item, image in zip(data.items, data.images):
        t0 = time.perf_counter()
        faces, masked = det.detect_with_masks(image)
        times.append((time.perf_counter() - t0) * 1e3)
        evals.append(ImageEval(item.name, item.boxes, list(item.labels), np.array([f.box for f in faces]).reshape(-1, 4),
                               np.array([f.score for f in faces]), [MASK if m >= 0.5 else NO_MASK for m in masked],
                               masked.astype(np.float64)))
    return evals, times


def photo_row(evals: list[ImageEval], times: list[float]) -> dict:
    match_all(evals, 0.5)
    det = detection_report(evals)
    gt, prob, _ = matched_pairs(evals)
    rates = pipeline_rates(evals)
    labels = [lab for e in evals for lab in e.pred_labels]
    return {"recall": det["all"]["recall"], "recall<32": det["<32"]["recall"], "precision": det["all"]["precision"],
            "ap50": det["all"]["ap50"], "unlabelled": sum(lab == UNKNOWN for lab in labels), "found": len(labels),
            "accuracy": binary_classification(gt, prob)["accuracy"], "tnr": rates["unmasked_found_rate"],
            "fnr": rates["masked_called_unmasked_rate"], "ms": float(np.mean(times))}


def large_row(evals: list[ImageEval], times: list[float]) -> dict:
    match_all(evals, 0.5)
    out = {"ms": float(np.mean(times))}
    for cls in (MASK, NO_MASK, None):
        hit = [int(e.match.max(initial=-1) >= 0) for e in evals if cls is None or e.gt_labels[0] == cls]
        out[cls or "all"] = (float(np.mean(hit)) if hit else float("nan"), len(hit))
    return out


def runtimes(cfg: Config, data: DatasetImages) -> None:
    """YuNet alone on each runtime: scripts/bench_runtimes.py's interleaved timing (one home)."""
    from bench_runtimes import detectors  # imported here: bench_runtimes imports this module

    print()
    detectors(cfg, data)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "kaggle853"))
    p.add_argument("--split", default="val")
    p.add_argument("--config", default=str(REPO / "configs" / "config-x86.json"))
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override the facemask config (not the baseline)")
    p.add_argument("--limit-large", type=int, default=0, help="every n-th large-face scene only, to this many (0: all)")
    p.add_argument("--runtimes", action="store_true", help="also time YuNet on each runtime")
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--thresholds", action="store_true",
                   help="only YuNet's recall / precision by score threshold on the split (how images.min_score was chosen)")
    args = p.parse_args()
    cv2.setNumThreads(1)
    items = load_voc(args.data, args.split)
    kaggle = DatasetImages.load(items)
    if args.thresholds:
        cfg = load_config(args.config, args.overrides + ONE_THREAD)
        for thr, r in threshold_table(cfg, kaggle, thresholds=(0.3, 0.35, 0.4, 0.45, 0.5)).items():
            print(f"score >= {thr}: recall {r['recall']:.3f} (< 32 px {r['recall<32']:.3f}), precision {r['precision']:.3f}, "
                  f"AP50 {r['ap50']:.3f}")
        return 0
    large = large_faces.build(items)
    if args.limit_large and len(large.items) > args.limit_large:
        step = len(large.items) // args.limit_large
        large = DatasetImages(large.items[::step], large_faces.Scenes(items, large.images.scenes[::step]))
    labels = [it.labels[0] for it in large.items]
    print(f"kaggle853 {args.split}: {len(kaggle.items)} images, {sum(len(i.boxes) for i in items)} faces; "
          f"large-face check: {len(large.items)} scenes ({labels.count(MASK)} masked, {labels.count(NO_MASK)} unmasked "
          f"faces of 128-512 px, photos up to 4032x3024); one thread; load average {os.getloadavg()[0]:.1f}")
    systems = {"facemask": load_config(args.config, args.overrides + ONE_THREAD)}
    if not args.no_baseline:
        systems["facemask before"] = load_config(args.config, BASELINE + ONE_THREAD)
    rows = {}
    for name, cfg in systems.items():
        rows[name] = (photo_row(*run_facemask(cfg, kaggle)), large_row(*run_facemask(cfg, large)))
        print(f"  ran {name}", flush=True)
    rows["UltraFace-masked"] = (photo_row(*run_ultraface(kaggle)), large_row(*run_ultraface(large)))

    print(f"\n{'system':18s}{'recall':>8s}{'<32 px':>8s}{'prec.':>7s}{'AP50':>7s}{'unlabelled':>13s}{'accuracy':>10s}"
          f"{'TNR':>7s}{'FNR':>7s}{'ms/img':>8s} | {'large: recall':>13s}{'masked':>8s}{'unmasked':>9s}{'ms/img':>8s}")
    for name, (r, lg) in rows.items():
        print(f"{name:18s}{r['recall']:8.3f}{r['recall<32']:8.3f}{r['precision']:7.3f}{r['ap50']:7.3f}"
              f"{r['unlabelled']:>6d} of {r['found']:<5d}{r['accuracy']:10.3f}{r['tnr']:7.3f}{r['fnr']:7.3f}{r['ms']:8.1f}"
              f" | {lg['all'][0]:13.3f}{lg[MASK][0]:8.3f}{lg[NO_MASK][0]:9.3f}{lg['ms']:8.1f}")
    fm = rows["facemask"]
    ratios = []
    if "facemask before" in rows:
        b = rows["facemask before"]
        ratios.append(f"facemask / before: kaggle {fm[0]['ms'] / b[0]['ms']:.2f}, large {fm[1]['ms'] / b[1]['ms']:.2f}")
    u = rows["UltraFace-masked"]
    ratios.append(f"facemask / UltraFace-masked: kaggle {fm[0]['ms'] / u[0]['ms']:.2f}, large {fm[1]['ms'] / u[1]['ms']:.2f}")
    print("time ratios (same run): " + "; ".join(ratios))
    if args.runtimes:
        runtimes(systems["facemask"], kaggle)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
