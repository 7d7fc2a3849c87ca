"""``python -m facemask eval``: detector and mask-classifier metrics on a labelled dataset.

    python -m facemask eval ../shared/data/kaggle853 --split val
    python -m facemask eval boxes.csv --images photos/ --predictions results.jsonl

Without ``--predictions`` the configured pipeline runs on every image (detector only when the
classifier's model is not available) and its predictions are saved next to the report, so a
later run can re-score them without running anything.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..config import load_config
from ..errors import InputError
from ..io.sinks import JsonlWriter, write_json
from .data import join_predictions, load_dataset, load_predictions
from .report import evaluate, format_table, plot_curves

log = logging.getLogger("facemask")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m facemask eval", description=__doc__.split("\n")[0])
    p.add_argument("dataset", help="VOC folder (images/, annotations/, splits/) or CSV image,class,x,y,w,h")
    p.add_argument("--split", help="VOC split name (splits/<name>.txt), e.g. val")
    p.add_argument("--images", help="folder of the CSV's images (default: the CSV's folder)")
    p.add_argument("--predictions", help="JSONL of predictions to score instead of running the pipeline")
    p.add_argument("--config", default="configs/config-x86.json",
                   help="config of the pipeline to run (default %(default)s)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value, e.g. --set detector.upscale=1.5 (repeatable)")
    p.add_argument("--iou", type=float, default=0.5, help="IoU for a detection to count (default %(default)s)")
    p.add_argument("--incorrect", choices=["ignore", "mask", "no_mask"], default="ignore",
                   help="'mask worn incorrectly' faces in the mask / no-mask metrics: "
                        "left out (default), or counted as this class")
    p.add_argument("--limit", type=int, help="first N images only (quick checks)")
    p.add_argument("--out", default="output/eval",
                   help="folder for metrics.json, curves and predictions (default %(default)s)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG curves")
    p.add_argument("--no-progress", action="store_true")
    return p


def run(args: argparse.Namespace) -> int:
    if not 0.0 < args.iou <= 1.0:
        raise InputError(f"--iou must be in (0, 1], got {args.iou}")
    dataset = load_dataset(args.dataset, args.split, args.images)
    if args.limit is not None:
        dataset = dataset[: args.limit]
    if not dataset:
        raise InputError(f"{args.dataset}: no labelled image")
    out_dir = Path(args.out)
    cfg = load_config(args.config, args.overrides)
    gt_crops = None
    if args.predictions:
        predictions = load_predictions(args.predictions)
        images, unknown = join_predictions(dataset, predictions)
        if unknown:
            log.warning("%d prediction records name images not in the dataset (left out), e.g. %s",
                        len(unknown), unknown[0])
        missing = len({d.name for d in dataset} - set(predictions))
        if missing:
            log.warning("%d dataset images have no prediction record (counted as no face found)", missing)
        source: dict[str, Any] = {"predictions": str(args.predictions)}
    else:
        from .runner import load_classifier, run_dataset

        classifier = load_classifier(cfg)
        progress = None if args.no_progress else (lambda it: tqdm(it, unit="img", dynamic_ncols=True))
        result = run_dataset(cfg, dataset, classifier, progress=progress)
        if not result.images:
            raise InputError(f"{args.dataset}: no image could be read")
        images = result.images
        gt_crops = (result.gt_crop_labels, result.gt_crop_mask_prob)
        jsonl = JsonlWriter(out_dir / "predictions.jsonl")
        for record in result.predictions:
            jsonl.write(record)
        jsonl.close()
        source = {"config": str(args.config), "overrides": args.overrides, "detector": cfg.detector.model_dump(),
                  "classifier": cfg.classifier.model if classifier is not None else None,
                  "ms_per_image": {k: round(v, 2) for k, v in result.ms_per_image.items()},
                  "unreadable_images": result.skipped}
    report = evaluate(images, args.iou, args.incorrect, cfg.classifier.mask_threshold, gt_crops)
    report = {"dataset": str(args.dataset), "split": args.split, **source, **report}
    print(format_table(report))
    write_json(out_dir / "metrics.json", report)
    written = [out_dir / "metrics.json"]
    if not args.no_plots:
        written += plot_curves(images, report, out_dir, args.incorrect, gt_crops)
    if not args.predictions:
        written.append(out_dir / "predictions.jsonl")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def main(argv: list[str] | None = None) -> int:
    from ..cli import report_errors

    args = build_parser().parse_args(argv)
    return report_errors(lambda: run(args))
