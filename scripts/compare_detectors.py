#!/usr/bin/env python
"""Compare face detectors on kaggle853 val: recall, precision and AP at IoU 0.5, and ms per image.

Every detector runs with its config defaults plus the keys below (YuNet as in
configs/config-x86.json). kaggle853 images are small (~400x300): YuNet upscales them 2x, PoseNet
letterboxes them into its fixed input (721x1281 is a 2.4x upscale) and MoveNet into
``input_size``. Matching and metrics are facemask.evaluation's (greedy by score); recall is also
given for faces under 16 and under 32 px, where pose detectors matter.

    python scripts/compare_detectors.py [--only NAME ...] [--iou 0.5] [--limit N]

Times are medians per image, one image at a time after a warm-up call: wall ms, and CPU ms of
all threads (the steadier number on a shared machine).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from facemask.config import load_config, parse_config  # noqa: E402
from facemask.datasets import load_voc_dataset  # noqa: E402
from facemask.evaluation.detector_sweep import DatasetImages, recall_row  # noqa: E402

YUNET = load_config(REPO / "configs" / "config-x86.json").detector.model_dump()
POSENET_481 = {"type": "posenet", "model": "posenet_mobilenet_v1_075_481_641_quant"}
POSENET_721 = {"type": "posenet", "model": "posenet_mobilenet_v1_075_721_1281_quant"}
MOVENET = {"type": "movenet", "input_size": 512}
CANDIDATES: dict[str, dict] = {
    "yunet": YUNET,
    "posenet-481x641": POSENET_481,
    "posenet-721x1281": POSENET_721,
    "movenet-256": {"type": "movenet", "input_size": 256},
    "movenet-512": MOVENET,
    "fusion-yunet+posenet481": {"type": "fusion", "detectors": [YUNET, POSENET_481]},
    "fusion-yunet+posenet721": {"type": "fusion", "detectors": [YUNET, POSENET_721]},
    "fusion-yunet+movenet512": {"type": "fusion", "detectors": [YUNET, MOVENET]},
}
COLUMNS = ("recall", "precision", "AP50", "r<16", "r<32", "r>=32")


def cells(row: dict) -> list[float]:
    """The COLUMNS of one facemask.evaluation detection report."""
    a, small = row["all"], row["<32"]
    large = (a["tp"] - small["tp"]) / max(a["n_gt"] - small["n_gt"], 1)
    return [a["recall"], a["precision"], a["ap50"], row["<16"]["recall"], small["recall"], large]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "kaggle853"))
    parser.add_argument("--split", default="val")
    parser.add_argument("--only", nargs="*", choices=sorted(CANDIDATES), help="detectors to run (default: all)")
    parser.add_argument("--iou", type=float, default=0.5)
    parser.add_argument("--limit", type=int, default=0, help="first N images only (0: all)")
    args = parser.parse_args(argv)

    items = load_voc_dataset(args.data, args.split)
    data = DatasetImages.load(items[: args.limit] if args.limit else items)
    n_faces = sum(len(a.boxes) for a in data.items)
    print(f"kaggle853 {args.split}: {len(data.items)} images, {n_faces} faces, IoU >= {args.iou}")
    print(f"{'detector':24s}" + "".join(f"{c:>10s}" for c in COLUMNS) + f"{'ms':>8s}{'CPU ms':>8s}")
    for name in args.only or CANDIDATES:
        row = recall_row(parse_config({"detector": CANDIDATES[name]}), data, iou=args.iou)
        print(f"{name:24s}" + "".join(f"{v:10.3f}" for v in cells(row))
              + f"{row['ms_per_image']:8.1f}{row['cpu_ms_per_image']:8.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
