"""Classification metrics in plain numpy (used by training, evaluation and tests)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> np.ndarray:
    """(true, predicted) counts."""
    m = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(m, (labels.astype(np.int64), preds.astype(np.int64)), 1)
    return m


def summary(labels: np.ndarray, preds: np.ndarray, classes: Sequence[str]) -> dict:
    """Accuracy, per-class recall and balanced accuracy (mean recall over classes present)."""
    m = confusion(labels, preds, len(classes))
    support = m.sum(axis=1)
    recall = {c: (float(m[i, i] / support[i]) if support[i] else None) for i, c in enumerate(classes)}
    present = [r for r in recall.values() if r is not None]
    return {
        "n": int(len(labels)),
        "accuracy": float(np.trace(m) / max(1, m.sum())),
        "balanced_accuracy": float(np.mean(present)) if present else 0.0,
        "recall": recall,
        "support": {c: int(s) for c, s in zip(classes, support)},
        "confusion": m.tolist(),
    }
