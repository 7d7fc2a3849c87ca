"""A small CIF/CAF decoder for OpenPifPaf's ONNX outputs (numpy, no GPU, no openpifpaf).

An OpenPifPaf export (``python -m openpifpaf.export_onnx``, see docs/jetson.md) has two outputs
on a grid of stride ``s`` (in eval mode the heads already apply the sigmoid, add the grid index
to the vectors and the softplus to the scales):

- ``cif`` (1, 17, 5, H, W): per keypoint type and cell: spread b, confidence c, the keypoint's
  position x, y (grid units) and its scale;
- ``caf`` (1, 19, 8, H, W): per skeleton connection and cell: b, c, both joints' positions
  x1, y1, x2, y2 (grid units) and their scales.

This is a light version of OpenPifPaf's own decoder, enough for faces from poses:

1. *keypoints*: every CIF vector above ``seed_threshold`` votes for its position; votes of one
   keypoint type closer than ``radius`` (in cells) to a stronger one are merged into it
   (confidence-weighted mean position, best confidence as score);
2. *people*: the strongest keypoint not yet in a person starts one; the person grows along
   the skeleton, strongest link first: from a known joint, the CAF vectors of a connection whose
   near end lies within ``radius`` of it point (confidence-weighted, Gaussian in distance) to the
   far joint, which takes the nearest free keypoint of that type within ``radius`` of it.

A person's score is the mean of its 17 keypoint scores (0 for missing ones).
"""

from __future__ import annotations

import heapq

import numpy as np

# COCO person skeleton as OpenPifPaf orders its CAF fields (0-based keypoint indices).
SKELETON: tuple[tuple[int, int], ...] = tuple((a - 1, b - 1) for a, b in (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8), (7, 9),
    (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
))
NUM_KEYPOINTS = 17


def keypoint_candidates(cif: np.ndarray, seed_threshold: float, radius: float) -> list[np.ndarray]:
    """Per keypoint type: (M, 3) x, y (grid units), score, strongest first."""
    out = []
    for field in cif:  # (5, H, W)
        c = field[1].ravel()
        sel = np.nonzero(c >= seed_threshold)[0]
        sel = sel[np.argsort(-c[sel], kind="stable")]
        xs, ys, cs = field[2].ravel()[sel], field[3].ravel()[sel], c[sel]
        peaks: list[list[float]] = []  # x*w, y*w, weight, score
        for x, y, conf in zip(xs, ys, cs):
            for p in peaks:
                if (p[0] / p[2] - x) ** 2 + (p[1] / p[2] - y) ** 2 <= radius ** 2:
                    p[0] += conf * x
                    p[1] += conf * y
                    p[2] += conf
                    break
            else:
                peaks.append([conf * x, conf * y, conf, conf])
        out.append(np.array([[p[0] / p[2], p[1] / p[2], p[3]] for p in peaks], np.float64).reshape(-1, 3))
    return out


def _follow(caf_field: np.ndarray, near: int, source: np.ndarray, caf_threshold: float,
            radius: float) -> tuple[np.ndarray, float] | None:
    """Where a connection's CAF vectors starting near ``source`` point to, and their confidence.

    ``near`` is 0 when the source is the connection's first joint, 1 when it is the second."""
    c = caf_field[1]
    near_xy = caf_field[2 + 2 * near: 4 + 2 * near]
    far_xy = caf_field[4 - 2 * near: 6 - 2 * near]
    d2 = (near_xy[0] - source[0]) ** 2 + (near_xy[1] - source[1]) ** 2
    sel = (c >= caf_threshold) & (d2 <= radius ** 2)
    if not sel.any():
        return None
    w = c[sel] * np.exp(-0.5 * d2[sel] / max(radius / 2, 1e-6) ** 2)
    target = np.array([np.sum(w * far_xy[0][sel]), np.sum(w * far_xy[1][sel])]) / w.sum()
    return target, float(c[sel].max())


def decode_cifcaf(cif: np.ndarray, caf: np.ndarray, stride: float, *, seed_threshold: float = 0.3,
                  caf_threshold: float = 0.2, radius: float = 1.5, pose_threshold: float = 0.1,
                  max_poses: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """CIF (17, 5, H, W) and CAF (19, 8, H, W) fields -> keypoints (N, 17, 3) x, y (pixels),
    score and (N,) person scores, best first. ``radius`` is in grid cells."""
    cif = np.asarray(cif, np.float64)
    caf = np.asarray(caf, np.float64)
    if cif.ndim == 5:
        cif, caf = cif[0], caf[0]
    if cif.shape[:2] != (NUM_KEYPOINTS, 5) or caf.shape[:2] != (len(SKELETON), 8):
        raise ValueError(f"expected cif (17, 5, H, W) and caf (19, 8, H, W), got {cif.shape} and {caf.shape}")
    cands = keypoint_candidates(cif, seed_threshold, radius)
    free = [np.ones(len(c), bool) for c in cands]
    links: list[list[tuple[int, int, int]]] = [[] for _ in range(NUM_KEYPOINTS)]  # (other, caf, near end)
    for i, (a, b) in enumerate(SKELETON):
        links[a].append((b, i, 0))
        links[b].append((a, i, 1))

    seeds = sorted(((float(c[j, 2]), k, j) for k, c in enumerate(cands) for j in range(len(c))), reverse=True)
    poses: list = []
    for score, k, j in seeds:
        if len(poses) >= max_poses:
            break
        if not free[k][j]:
            continue
        pose = np.zeros((NUM_KEYPOINTS, 3))
        pose[k], free[k][j] = cands[k][j], False
        frontier = [(-score, k, other, field, near) for other, field, near in links[k]]
        heapq.heapify(frontier)
        while frontier:
            _, src, dst, field, near = heapq.heappop(frontier)
            if pose[dst, 2] > 0:
                continue
            hit = _follow(caf[field], near, pose[src, :2], caf_threshold, radius)
            if hit is None or not free[dst].any():
                continue
            target, link_conf = hit
            d2 = np.sum((cands[dst][:, :2] - target) ** 2, axis=1)
            d2[~free[dst]] = np.inf
            m = int(np.argmin(d2))
            if d2[m] > radius ** 2:
                continue
            pose[dst], free[dst][m] = cands[dst][m], False
            for other, f, n in links[dst]:
                if pose[other, 2] == 0:
                    heapq.heappush(frontier, (-pose[dst, 2] * link_conf, dst, other, f, n))
        poses.append(pose)

    if not poses:
        return np.zeros((0, NUM_KEYPOINTS, 3), np.float32), np.zeros(0, np.float32)
    kps = np.stack(poses)
    scores = kps[:, :, 2].mean(axis=1)
    order = [i for i in np.argsort(-scores, kind="stable") if scores[i] >= pose_threshold]
    kps = kps[order]
    kps[:, :, :2] *= stride
    return kps.astype(np.float32), scores[order].astype(np.float32)
