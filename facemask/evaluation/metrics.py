"""Detection and classification metrics on labelled images, plain numpy.

Matching is per image (a box can only ever match a ground truth of its own image), greedy by
score: each prediction, best score first, takes the unmatched ground truth it overlaps most, if
that IoU reaches the threshold; otherwise it is a false positive (duplicates included).

Face size is the smaller side of the box in pixels (as ``Face.size``). Metrics by size follow
COCO's rule: a size bin counts the ground truths of that size, the predictions matched to them,
and the unmatched predictions of that size; predictions matched to faces of another size are
left out of the bin rather than called false positives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..geometry import box_iou, box_sizes
from ..types import MASK, NO_MASK

# name, lower bound (inclusive), upper bound (exclusive), in pixels of the smaller box side
SIZE_BINS: tuple[tuple[str, float, float], ...] = (
    ("<16", 0.0, 16.0),
    ("16-32", 16.0, 32.0),
    ("32-64", 32.0, 64.0),
    (">=64", 64.0, float("inf")),
)


def match_image(pred_boxes: np.ndarray, pred_scores: np.ndarray, gt_boxes: np.ndarray,
                iou_threshold: float = 0.5) -> np.ndarray:
    """Index of the matched ground truth for each prediction (-1: false positive)."""
    pred_boxes = np.asarray(pred_boxes, np.float64).reshape(-1, 4)
    matched = np.full(len(pred_boxes), -1, np.int64)
    if len(pred_boxes) == 0 or len(gt_boxes) == 0:
        return matched
    iou = box_iou(pred_boxes, gt_boxes)
    taken = np.zeros(iou.shape[1], bool)
    for i in np.argsort(-np.asarray(pred_scores, np.float64), kind="stable"):
        cand = np.where(taken, -1.0, iou[i])
        j = int(np.argmax(cand))
        if cand[j] >= iou_threshold:
            matched[i], taken[j] = j, True
    return matched


@dataclass
class ImageEval:
    """Ground truth and predictions of one image, and how they matched."""

    name: str
    gt_boxes: np.ndarray
    gt_labels: list[str]
    pred_boxes: np.ndarray
    pred_scores: np.ndarray
    pred_labels: list[str] = field(default_factory=list)
    pred_mask_prob: np.ndarray | None = None  # nan where a face was not classified
    match: np.ndarray | None = None  # per prediction: matched gt index or -1

    def __post_init__(self) -> None:
        self.gt_boxes = np.asarray(self.gt_boxes, np.float64).reshape(-1, 4)
        self.pred_boxes = np.asarray(self.pred_boxes, np.float64).reshape(-1, 4)
        self.pred_scores = np.asarray(self.pred_scores, np.float64).reshape(-1)
        if self.pred_mask_prob is None:
            self.pred_mask_prob = np.full(len(self.pred_boxes), np.nan)
        if not self.pred_labels:
            self.pred_labels = ["unknown"] * len(self.pred_boxes)


def match_all(images: list[ImageEval], iou_threshold: float = 0.5) -> None:
    for im in images:
        im.match = match_image(im.pred_boxes, im.pred_scores, im.gt_boxes, iou_threshold)


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the PR curve with the precision envelope (all-point, PASCAL VOC 2010+)."""
    if len(recall) == 0:
        return 0.0
    r = np.concatenate([[0.0], recall, [recall[-1]]])
    p = np.concatenate([[1.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    return float(np.sum((r[1:] - r[:-1]) * p[1:]))


@dataclass
class DetectionResult:
    n_gt: int
    n_pred: int  # predictions counted (true + false positives)
    tp: int
    recall: float
    precision: float
    ap: float
    curve_recall: np.ndarray  # cumulative, predictions by descending score
    curve_precision: np.ndarray

    def summary(self) -> dict:
        return {"n_gt": self.n_gt, "n_pred": self.n_pred, "tp": self.tp, "recall": round(self.recall, 4),
                "precision": round(self.precision, 4), "ap50": round(self.ap, 4)}


def detection_metrics(images: list[ImageEval], size_range: tuple[float, float] | None = None,
                      score_threshold: float = 0.0) -> DetectionResult:
    """Recall, precision and AP over all images (``match_all`` must have run).

    ``size_range`` restricts to one size bin (see the module docstring). Predictions under
    ``score_threshold`` are left out of recall and precision but, as usual, AP uses them all.
    """
    scores, tps, n_gt = [], [], 0
    for im in images:
        assert im.match is not None, "call match_all first"
        gt_in = np.ones(len(im.gt_boxes), bool)
        pred_in = np.ones(len(im.pred_boxes), bool)
        if size_range is not None:
            lo, hi = size_range
            gs, ps = box_sizes(im.gt_boxes), box_sizes(im.pred_boxes)
            gt_in = (gs >= lo) & (gs < hi)
            hit = im.match >= 0
            pred_in = np.where(hit, gt_in[np.maximum(im.match, 0)], (ps >= lo) & (ps < hi))
        n_gt += int(gt_in.sum())
        scores.append(im.pred_scores[pred_in])
        tps.append(im.match[pred_in] >= 0)
    s = np.concatenate(scores) if scores else np.zeros(0)
    t = np.concatenate(tps) if tps else np.zeros(0, bool)
    order = np.argsort(-s, kind="stable")
    s, t = s[order], t[order]
    ctp = np.cumsum(t)
    curve_r = ctp / max(n_gt, 1)
    curve_p = ctp / np.arange(1, len(t) + 1)
    keep = s >= score_threshold
    tp, n_pred = int(t[keep].sum()), int(keep.sum())
    return DetectionResult(
        n_gt=n_gt, n_pred=n_pred, tp=tp,
        recall=tp / n_gt if n_gt else float("nan"),
        precision=tp / n_pred if n_pred else float("nan"),
        ap=average_precision(curve_r, curve_p) if n_gt else float("nan"),
        curve_recall=curve_r, curve_precision=curve_p,
    )


def detection_report(images: list[ImageEval], score_threshold: float = 0.0) -> dict:
    """Overall and per-size-bin detection metrics as a JSON-ready dict."""
    out = {"all": detection_metrics(images, None, score_threshold).summary()}
    for name, lo, hi in SIZE_BINS:
        out[name] = detection_metrics(images, (lo, hi), score_threshold).summary()
    out["<32"] = detection_metrics(images, (0.0, 32.0), score_threshold).summary()
    return out


# ---------------------------------------------------------------- classification

def roc_curve(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct threshold (positives: y_true == 1)."""
    y_true = np.asarray(y_true, bool)
    score = np.asarray(score, np.float64)
    order = np.argsort(-score, kind="stable")
    y, s = y_true[order], score[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # last index of each distinct score
    tp = np.cumsum(y)[last]
    fp = np.cumsum(~y)[last]
    P, N = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    return np.r_[0.0, fp / N], np.r_[0.0, tp / P]


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    y_true = np.asarray(y_true, bool)
    score = np.asarray(score, np.float64)
    n_pos, n_neg = int(y_true.sum()), int((~y_true).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(score)
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    xs = x[order]
    ranks = np.empty(len(x), np.float64)
    starts = np.r_[0, np.nonzero(np.diff(xs))[0] + 1]
    ends = np.r_[starts[1:], len(xs)]
    for a, b in zip(starts, ends):
        ranks[order[a:b]] = (a + b + 1) / 2.0  # 1-based average rank of the tie group
    return ranks


def binary_classification(gt_labels: list[str], mask_prob: np.ndarray, threshold: float = 0.5) -> dict:
    """Accuracy and ROC AUC of mask_prob against 'mask' (positive) / 'no_mask' (negative) labels.

    Labels other than those two (and nan probabilities) are left out.
    """
    y = np.array([lab == MASK for lab in gt_labels], bool)
    keep = np.array([lab in (MASK, NO_MASK) for lab in gt_labels], bool) & ~np.isnan(np.asarray(mask_prob, np.float64))
    y, p = y[keep], np.asarray(mask_prob, np.float64)[keep]
    pred = p >= threshold
    return {
        "n": int(keep.sum()), "n_mask": int(y.sum()), "n_no_mask": int((~y).sum()),
        "accuracy": round(float((pred == y).mean()), 4) if len(y) else float("nan"),
        "mask_recall": round(float(pred[y].mean()), 4) if y.any() else float("nan"),
        "no_mask_recall": round(float((~pred[~y]).mean()), 4) if (~y).any() else float("nan"),
        "roc_auc": round(roc_auc(y, p), 4),
    }


def matched_pairs(images: list[ImageEval]) -> tuple[list[str], np.ndarray, list[str]]:
    """(gt label, predicted mask_prob, predicted label) for every true positive."""
    gt, prob, lab = [], [], []
    for im in images:
        if im.match is None or im.pred_mask_prob is None:
            raise ValueError(f"{im.name}: predictions not matched to the ground truth yet")
        for i in np.nonzero(im.match >= 0)[0]:
            gt.append(im.gt_labels[im.match[i]])
            prob.append(im.pred_mask_prob[i])
            lab.append(im.pred_labels[i])
    return gt, np.array(prob, np.float64), lab


def pipeline_rates(images: list[ImageEval]) -> dict:
    """What a mask-compliance user sees, counting detection and classification together.

    - unmasked_found_rate (true-negative rate, 'unmasked' being the negative class): unmasked
      faces that were detected and called unmasked, over all unmasked faces;
    - masked_called_unmasked_rate (false-negative rate): detected masked faces called unmasked,
      over detected masked faces;
    - estimated_pct_masked: masked share among the predictions labelled mask or no_mask (what the
      pipeline would report, false positives included) vs true_pct_masked among labelled faces.
    """
    gt_all = [lab for im in images for lab in im.gt_labels]
    n_unmasked = sum(lab == NO_MASK for lab in gt_all)
    n_masked = sum(lab == MASK for lab in gt_all)
    gt, _, pred = matched_pairs(images)
    unmasked_hit = sum(g == NO_MASK and p == NO_MASK for g, p in zip(gt, pred))
    masked_found = [p for g, p in zip(gt, pred) if g == MASK and p in (MASK, NO_MASK)]
    called = [lab for im in images for lab in im.pred_labels if lab in (MASK, NO_MASK)]

    def ratio(a: float, b: float) -> float:
        return round(a / b, 4) if b else float("nan")

    return {
        "unmasked_found_rate": ratio(unmasked_hit, n_unmasked),
        "masked_called_unmasked_rate": ratio(sum(p == NO_MASK for p in masked_found), len(masked_found)),
        "estimated_pct_masked": ratio(100.0 * sum(lab == MASK for lab in called), len(called)),
        "true_pct_masked": ratio(100.0 * n_masked, n_masked + n_unmasked),
        "n_called": len(called),
    }
