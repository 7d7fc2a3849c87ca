#!/usr/bin/env python3
"""Benchmark (not a test): prints the numbers behind docs/results.md.

    python scripts/benchmark.py [--config configs/config-x86.json] [--json out.json] [--quick]

1. detector small-face settings: recall by face size on kaggle853 val (IoU 0.5) and ms per
   image; detector ms and faces found per frame on 1080p CCTV (towncentre) for each max_side;
2. score thresholds of the configured detector on kaggle853 *train* (how the default was chosen:
   val is for measuring only);
3. classifier faces/s, batch 1 and 32: int8 and float32 TFLite, float32 ONNX (those installed);
4. the configured pipeline on kaggle853 val (detection + classification metrics);
5. end to end: ``python -m facemask bench`` on towncentre_clip_1080p.mp4 (detecting every frame,
   also with detector.max_side=1440, and as configured) and vtest_480x360.avi, each in its own
   process (its own peak memory).

Timings on a shared machine move with other people's load: each one is printed with the load
average, and CPU ms (all threads of the process) sit beside wall ms as the steadier number.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
KAGGLE = SHARED / "data" / "kaggle853"
VIDEOS = SHARED / "videos"
# (video, config overrides): 1080p detecting every frame (the 10 fps target), the same with the
# faster big-frame option, then the configured pipeline (tracker.detect_every as configured).
EVERY_FRAME = "tracker.detect_every=1"
E2E_RUNS = (("towncentre_clip_1080p.mp4", (EVERY_FRAME,)),
            ("towncentre_clip_1080p.mp4", (EVERY_FRAME, "detector.max_side=1440")),
            ("towncentre_clip_1080p.mp4", ()),
            ("vtest_480x360.avi", ()))
sys.path.insert(0, str(REPO))
os.environ.setdefault("FACEMASK_MODELS_DIR", str(SHARED / "models"))

from facemask.config import Config, load_config  # noqa: E402
from facemask.errors import ModelError  # noqa: E402


def log(msg: str) -> None:
    print(msg, flush=True)


def detector_section(cfg: Config, quick: bool) -> dict:
    from facemask.evaluation.data import load_voc
    from facemask.evaluation.detector_sweep import (DatasetImages, box_convention, read_frames, sweep,
                                                    threshold_table)

    val = DatasetImages.load(load_voc(KAGGLE, "val"))
    frames = read_frames(VIDEOS / "towncentre_clip_1080p.mp4", 10 if quick else 40)
    log(f"== detector settings: kaggle853 val ({len(val.items)} images), towncentre 1080p ({len(frames)} frames) ==")
    out = sweep(cfg, val, frames, log=log)
    train = DatasetImages.load(load_voc(KAGGLE, "train")[: 150 if quick else None])
    log(f"== score threshold of the configured detector on kaggle853 train ({len(train.items)} images) ==")
    out["thresholds_train"] = threshold_table(cfg, train)
    for thr, row in out["thresholds_train"].items():
        log(f"score >= {thr}: recall {row['recall']:.3f} (<32 px {row['recall<32']:.3f}) "
            f"precision {row['precision']:.3f} F1 {row['f1']:.3f}")
    log("== box convention: YuNet boxes moved by median offsets fit on train, recall on val ==")
    out["box_convention"] = box_convention(cfg, train, val)
    log(json.dumps(out["box_convention"]))
    return out


def classifier_section(cfg: Config, quick: bool) -> dict:
    import numpy as np

    from facemask.classifiers import build_classifier

    log("== classifier throughput (random crops, classifier.num_threads from the config) ==")
    out = {}
    for model in ("ofm_classifier_int8", "ofm_classifier_float32", "ofm_classifier_onnx"):
        try:  # backend "auto": the runtime that the file's suffix calls for
            clf = build_classifier(cfg.classifier.model_copy(update={"model": model, "backend": "auto"}))
        except ModelError as exc:
            log(f"{model}: not available ({exc})")
            continue
        rng = np.random.default_rng(0)
        for batch in (1, 32):
            crops = rng.integers(0, 256, (batch, clf.input_size, clf.input_size, 3), dtype=np.uint8)
            clf.predict(crops)
            calls = max(3, (30 if quick else 300) // batch)
            t0 = time.perf_counter()
            for _ in range(calls):
                clf.predict(crops)
            fps = calls * batch / (time.perf_counter() - t0)
            out[f"{model} batch {batch}"] = round(fps, 1)
            log(f"{model} batch {batch}: {fps:.0f} faces/s")
    return out


def pipeline_section(cfg_path: str, quick: bool) -> dict:
    """The configured pipeline on kaggle853 val, through the eval command's own code."""
    from facemask.evaluation.cli import build_parser, run

    log("== configured pipeline on kaggle853 val (python -m facemask eval) ==")
    with tempfile.TemporaryDirectory() as tmp:
        argv = [str(KAGGLE), "--split", "val", "--config", cfg_path, "--out", tmp, "--no-plots", "--no-progress"]
        if quick:
            argv += ["--limit", "40"]
        run(build_parser().parse_args(argv))
        report = json.loads((Path(tmp) / "metrics.json").read_text())
    report["dataset"] = "../shared/data/kaggle853"  # as seen from the repo: no machine path in saved results
    return report


def e2e_section(cfg_path: str, quick: bool) -> dict:
    out = {}
    for name, overrides in E2E_RUNS:
        sets = [arg for o in overrides for arg in ("--set", o)]
        key = " ".join([name, *overrides])
        log(f"== end to end: python -m facemask bench --video {key} ==")
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "facemask", "bench", "--config", str(Path(cfg_path).resolve()), *sets,
                   "--video", str(VIDEOS / name), "--max-frames", "20" if quick else "90",
                   "--json", str(Path(tmp) / "bench.json")]
            proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
            log(proc.stdout.strip())
            if proc.returncode != 0:
                log(f"bench failed: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            out[key] = {"overrides": list(overrides), **json.loads((Path(tmp) / "bench.json").read_text())}
    return out


PARTS = ("detector", "classifier", "pipeline", "e2e")


def measure(cfg_path: str, quick: bool = False, parts: tuple[str, ...] = PARTS) -> dict:
    """Every part asked for, with the 1-min load average before and after each one."""
    cfg = load_config(cfg_path)
    sections = {"detector": lambda: detector_section(cfg, quick), "classifier": lambda: classifier_section(cfg, quick),
                "pipeline": lambda: pipeline_section(cfg_path, quick), "e2e": lambda: e2e_section(cfg_path, quick)}
    results: dict = {"config": cfg_path, "quick": quick, "cpus": os.cpu_count(), "load_avg": {}}
    for part in parts:
        before = round(os.getloadavg()[0], 2)
        results[part] = sections[part]()
        results["load_avg"][part] = [before, round(os.getloadavg()[0], 2)]
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--config", default="configs/config-x86.json")
    p.add_argument("--quick", action="store_true", help="fewer frames and images (a smoke run, rougher numbers)")
    p.add_argument("--only", nargs="+", choices=PARTS, help="run only these parts")
    p.add_argument("--json", help="write every number to this JSON file")
    args = p.parse_args(argv)
    results = measure(args.config, args.quick, tuple(args.only or PARTS))
    if args.json:
        from facemask.io.sinks import write_json

        write_json(args.json, results)
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
