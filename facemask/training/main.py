"""``python model_main.py --config CONFIG [--prepare-data] [--export] [--install]``.

Without flags it trains. ``--prepare-data`` builds the folder dataset first (and stops there
unless ``--train`` is also given). ``--export`` writes float32 and int8 .tflite files and an .onnx file
after training; ``--export-only`` exports the model already in ``training.output_dir``. ``--install``
copies the exported files into facemask/weights/ and records them in the catalog.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import load_config
from ..errors import InputError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="model_main.py", description="train and export the mask classifier")
    p.add_argument("--config", required=True, help="configs/*.json")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. training.epochs=5 (repeatable)")
    p.add_argument("--prepare-data", action="store_true", help="build the folder dataset in training.data_dir")
    p.add_argument("--train", action="store_true", help="train after --prepare-data")
    p.add_argument("--export", action="store_true", help="export .tflite float32 + int8 and .onnx after training")
    p.add_argument("--export-only", action="store_true", help="export the trained model without training")
    p.add_argument("--install", action="store_true", help="copy the exported files into facemask/weights + catalog")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    cfg = load_config(args.config, args.set)
    if args.prepare_data:
        from .prepare import prepare

        prepare(cfg)
        if not (args.train or args.export):
            return
    from .train import MODEL_FILE, train

    if args.export_only:
        model_path = Path(cfg.training.output_dir) / MODEL_FILE
        if not model_path.is_file():
            raise InputError(f"no trained model at {model_path} (train first, or set training.output_dir)")
    else:
        model_path = train(cfg)
    if args.export or args.export_only or args.install:
        from .export import export_onnx, export_tflite, install

        paths = export_tflite(cfg, model_path)
        paths["onnx"] = export_onnx(cfg, model_path)
        if args.install:
            t = cfg.training
            install(paths, f"{t.backbone} backbone x{t.width:g} + {t.head} head, {t.input_size}x{t.input_size}, "
                           f"classes {'/'.join(cfg.classifier.classes)}")


def main(argv: list[str] | None = None) -> int:
    from ..cli import report_errors

    args = parse_args(argv)
    return report_errors(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
