"""Training outputs a person looks at: confusion matrix and ROC curves (PNG), ROC AUC numbers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .metrics import confusion


def roc_curve(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """False and true positive rates over all thresholds, and the area under the curve."""
    order = np.argsort(-scores, kind="stable")
    pos = positive[order].astype(np.float64)
    tp, fp = np.cumsum(pos), np.cumsum(1.0 - pos)
    tpr = np.concatenate([[0.0], tp / max(tp[-1], 1.0)])
    fpr = np.concatenate([[0.0], fp / max(fp[-1], 1.0)])
    return fpr, tpr, float(np.trapz(tpr, fpr))


def _save(fig, path: Path) -> None:
    tmp = path.with_name(path.stem + ".part" + path.suffix)
    fig.savefig(tmp, dpi=100, bbox_inches="tight")
    os.replace(tmp, path)


def write_plots(out_dir: Path, labels: np.ndarray, probs: np.ndarray, classes: list[str], title: str) -> dict:
    """``confusion.png`` and ``roc.png`` in ``out_dir``; returns the one-vs-rest AUC per class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = confusion(labels, probs.argmax(axis=1), len(classes))
    fig, ax = plt.subplots(figsize=(1.6 * len(classes) + 1.5, 1.4 * len(classes) + 1.2))
    rate = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    ax.imshow(rate, cmap="Blues", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if rate[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}: confusion (colour = row recall)")
    _save(fig, out_dir / "confusion.png")
    plt.close(fig)

    auc = {}
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for i, c in enumerate(classes):
        if 0 < (labels == i).sum() < len(labels):
            fpr, tpr, auc[c] = roc_curve(labels == i, probs[:, i])
            ax.plot(fpr, tpr, label=f"{c} (AUC {auc[c]:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"{title}: ROC, one class vs rest")
    ax.legend(loc="lower right")
    _save(fig, out_dir / "roc.png")
    plt.close(fig)
    return auc
