"""Evaluation report: one JSON-ready dict, a terminal table, PR and ROC curves as PNG."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np

from ..types import INCORRECT, MASK, NO_MASK
from .coco import coco_ap
from .metrics import (SIZE_BINS, ImageEval, binary_classification, detection_metrics, detection_report,
                      match_all, matched_pairs, pipeline_rates, roc_curve)

SIZE_ROWS = ["all"] + [name for name, _, _ in SIZE_BINS] + ["<32"]


def relabel(labels: list[str], incorrect: str) -> list[str]:
    """Map 'mask_incorrect' for the mask / no-mask metrics: to 'mask', to 'no_mask' or leave it
    out ('ignore' keeps it as its own class, which the binary metrics skip)."""
    if incorrect == "ignore":
        return list(labels)
    return [incorrect if lab == INCORRECT else lab for lab in labels]


def relabelled(images: list[ImageEval], incorrect: str) -> list[ImageEval]:
    """The images with ground-truth and predicted labels mapped by :func:`relabel` (matches kept)."""
    return [ImageEval(im.name, im.gt_boxes, relabel(im.gt_labels, incorrect), im.pred_boxes, im.pred_scores,
                      relabel(im.pred_labels, incorrect), im.pred_mask_prob, im.match) for im in images]


def evaluate(images: list[ImageEval], iou: float = 0.5, incorrect: str = "ignore", mask_threshold: float = 0.5,
             gt_crops: tuple[list[str], list[float]] | None = None) -> dict:
    """Every metric of ``python -m facemask eval`` on matched images."""
    match_all(images, iou)
    report: dict = {
        "images": len(images), "iou": iou, "incorrect_as": incorrect,
        "detection": detection_report(images),
        "coco": coco_ap(images),
    }
    classified = any(lab in (MASK, NO_MASK, INCORRECT) for im in images for lab in im.pred_labels)
    if classified:
        mapped = relabelled(images, incorrect)
        gt, prob, _ = matched_pairs(mapped)
        report["classification_matched"] = binary_classification(gt, prob, mask_threshold)
        report["pipeline"] = pipeline_rates(mapped)
    if gt_crops is not None and gt_crops[0]:
        report["classification_gt_crops"] = binary_classification(
            relabel(gt_crops[0], incorrect), np.asarray(gt_crops[1], np.float64), mask_threshold)
    return report


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def format_table(report: dict) -> str:
    det, coco = report["detection"], report["coco"]
    lines = [f"detection, {report['images']} images, IoU {report['iou']}",
             f"{'faces':<8}{'n_gt':>6}{'recall':>8}{'prec.':>8}{'AP50':>8}{'COCO AP':>9}{'AP50':>7}{'AP75':>7}"]
    for row in SIZE_ROWS:
        d, c = det[row], coco.get(row, {})
        lines.append(f"{row:<8}{d['n_gt']:>6}{_fmt(d['recall']):>8}{_fmt(d['precision']):>8}{_fmt(d['ap50']):>8}"
                     f"{_fmt(c.get('ap')):>9}{_fmt(c.get('ap50')):>7}{_fmt(c.get('ap75')):>7}")
    lines.append("(size: smaller box side in px; COCO columns bin by area = side^2)")
    for key, title in (("classification_matched", "matched faces"), ("classification_gt_crops", "ground-truth crops")):
        if key in report:
            c = report[key]
            lines.append(f"classification, {title}: n {c['n']} (mask {c['n_mask']}, no mask {c['n_no_mask']}), "
                         f"accuracy {_fmt(c['accuracy'])}, ROC AUC {_fmt(c['roc_auc'])}, "
                         f"recall mask {_fmt(c['mask_recall'])} / no mask {_fmt(c['no_mask_recall'])}")
    if "pipeline" in report:
        p = report["pipeline"]
        lines.append(f"pipeline: unmasked faces found and called unmasked {_fmt(p['unmasked_found_rate'])}, "
                     f"masked faces called unmasked {_fmt(p['masked_called_unmasked_rate'])}, "
                     f"% masked estimated {_fmt(p['estimated_pct_masked'])} vs true {_fmt(p['true_pct_masked'])}")
    else:
        lines.append("classification: none (no classifier output in the predictions)")
    return "\n".join(lines)


def _save_figure(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def plot_curves(images: list[ImageEval], report: dict, out_dir: Path, incorrect: str = "ignore",
                gt_crops: tuple[list[str], list[float]] | None = None) -> list[Path]:
    """pr_curve.png (overall and by size) and, with classifier outputs, roc_curve.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for name, rng in [("all", None)] + [(n, (lo, hi)) for n, lo, hi in SIZE_BINS]:
        d = detection_metrics(images, rng)
        if d.n_gt:
            ax.plot(d.curve_recall, d.curve_precision, label=f"{name} (n={d.n_gt}, AP50 {d.ap:.2f})",
                    lw=2 if rng is None else 1)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
           title=f"Face detection PR, IoU {report['iou']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    _save_figure(fig, out_dir / "pr_curve.png")
    plt.close(fig)
    written.append(out_dir / "pr_curve.png")

    curves = []
    if "classification_matched" in report:
        gt, prob, _ = matched_pairs(relabelled(images, incorrect))
        curves.append(("matched faces", gt, prob, report["classification_matched"]["roc_auc"]))
    if "classification_gt_crops" in report and gt_crops is not None:
        curves.append(("ground-truth crops", relabel(gt_crops[0], incorrect), np.asarray(gt_crops[1]),
                       report["classification_gt_crops"]["roc_auc"]))
    if curves:
        fig, ax = plt.subplots(figsize=(5, 4.5))
        for title, labels, prob, auc in curves:
            keep = np.array([lab in (MASK, NO_MASK) for lab in labels]) & ~np.isnan(prob)
            y = np.array([lab == MASK for lab in labels])[keep]
            if y.any() and (~y).any():
                fpr, tpr = roc_curve(y, prob[keep])
                ax.plot(fpr, tpr, label=f"{title} (AUC {auc:.3f})")
        ax.plot([0, 1], [0, 1], ls=":", c="grey")
        ax.set(xlabel="false positive rate (no mask called mask)", ylabel="true positive rate (mask called mask)",
               title="Mask classifier ROC", xlim=(0, 1), ylim=(0, 1.02))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        _save_figure(fig, out_dir / "roc_curve.png")
        plt.close(fig)
        written.append(out_dir / "roc_curve.png")
    return written
