"""Multi-person PoseNet decoding: heatmaps + short-range offsets + mid-range displacements -> poses.

PoseNet (Papandreou et al., "PersonLab", ECCV 2018; TF.js ``decodeMultiplePoses``) predicts, on a
grid of stride ``s``:

- ``heatmaps`` (H, W, 17): per-keypoint logits;
- ``short offsets`` (H, W, 34): from a cell to the nearest keypoint of each type, in input pixels,
  all 17 y components first, then the 17 x components;
- ``mid offsets`` (H, W, 64): from a keypoint to its neighbour along each of the 16 tree edges,
  in input pixels, as [forward y (16)][forward x (16)][backward y (16)][backward x (16)].

Decoding is part-based and greedy: every local maximum of a heatmap is a candidate root, strongest
first; a root within ``nms_radius`` of the same keypoint of an already decoded person is skipped
(keypoint NMS); otherwise the whole skeleton is grown from it by following the mid-range
displacements along the tree and refining each landing point with the short-range offsets. A
person's score is the mean keypoint probability, not counting keypoints that an earlier (stronger)
person already claimed (soft keypoint NMS), so that duplicates built from one person's leftovers
score low. This is the algorithm of the Coral Edge TPU decoder op, run in numpy; positions are
sampled bilinearly on the grid.
"""

from __future__ import annotations

import numpy as np

NUM_KEYPOINTS = 17
# The PoseNet tree, (parent, child) keypoint indices in COCO order. Edge e's forward displacement
# (parent -> child) is in mid-offset channels e (y) and 16 + e (x); its backward one in 32 + e, 48 + e.
POSE_TREE: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 3), (0, 2), (2, 4), (0, 5), (5, 7), (7, 9), (5, 11),
    (11, 13), (13, 15), (0, 6), (6, 8), (8, 10), (6, 12), (12, 14), (14, 16),
)
NUM_EDGES = len(POSE_TREE)


def _neighbours() -> list[list[tuple[int, int]]]:
    """Per keypoint: (neighbour, displacement index) of the edges that lead away from it.

    Displacement index e < 16 is edge e forwards (parent -> child), 16 + e edge e backwards."""
    out: list[list[tuple[int, int]]] = [[] for _ in range(NUM_KEYPOINTS)]
    for e, (parent, child) in enumerate(POSE_TREE):
        out[parent].append((child, e))
        out[child].append((parent, NUM_EDGES + e))
    return out


NEIGHBOURS = _neighbours()


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def _sample(t: np.ndarray, y: float, x: float) -> np.ndarray:
    """Bilinear sample of an (H, W, ...) tensor at grid point (y, x), clamped to the grid."""
    h, w = t.shape[:2]
    y = min(max(y, 0.0), h - 1.0)
    x = min(max(x, 0.0), w - 1.0)
    y0, x0 = int(y), int(x)
    y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
    fy, fx = y - y0, x - x0
    top = (1 - fx) * t[y0, x0] + fx * t[y0, x1]
    bottom = (1 - fx) * t[y1, x0] + fx * t[y1, x1]
    return (1 - fy) * top + fy * bottom


def _root_candidates(heatmaps: np.ndarray, short: np.ndarray, min_logit: float) -> list[tuple[float, int, float, float]]:
    """Local maxima (3x3, per keypoint) at or above ``min_logit``: (logit, keypoint, y, x), strongest first.

    Positions are refined by the short-range offsets ((H, W, 17, 2), in grid units)."""
    h, w = heatmaps.shape[:2]
    padded = np.pad(heatmaps, ((1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    local_max = np.max([padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)], axis=0)
    ys, xs, ks = np.nonzero((heatmaps >= min_logit) & (heatmaps >= local_max))
    scores = heatmaps[ys, xs, ks]
    ry = np.clip(ys + short[ys, xs, ks, 0], 0, h - 1)
    rx = np.clip(xs + short[ys, xs, ks, 1], 0, w - 1)
    order = np.argsort(-scores, kind="stable")
    return [(float(scores[i]), int(ks[i]), float(ry[i]), float(rx[i])) for i in order]


def _grow_pose(root: tuple[float, int, float, float], heatmaps: np.ndarray, short: np.ndarray,
               disp: np.ndarray, refine_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """All 17 keypoints (grid y, x) and logits of the person rooted at ``root``.

    ``short`` is (H, W, 17, 2) and ``disp`` (H, W, 32, 2), both (y, x) in grid units. The pose
    graph is a tree, so each keypoint is reached from exactly one decoded neighbour and the
    visiting order does not change the result: a plain breadth-first walk suffices."""
    h, w = heatmaps.shape[:2]
    logit, k0, y0, x0 = root
    points = np.full((NUM_KEYPOINTS, 2), np.nan)
    logits = np.full(NUM_KEYPOINTS, -np.inf)
    points[k0], logits[k0] = (y0, x0), logit
    queue = [k0]
    while queue:
        src = queue.pop(0)
        sy, sx = points[src]
        for dst, edge in NEIGHBOURS[src]:
            if not np.isnan(points[dst, 0]):
                continue
            dy, dx = _sample(disp, sy, sx)[edge]
            y, x = min(max(sy + dy, 0.0), h - 1.0), min(max(sx + dx, 0.0), w - 1.0)
            for _ in range(refine_steps):
                oy, ox = _sample(short, y, x)[dst]
                y, x = min(max(y + oy, 0.0), h - 1.0), min(max(x + ox, 0.0), w - 1.0)
            points[dst] = (y, x)
            logits[dst] = float(_sample(heatmaps, y, x)[dst])
            queue.append(dst)
    return points, logits


def decode_multiple_poses(
    heatmaps: np.ndarray,
    short_offsets: np.ndarray,
    mid_offsets: np.ndarray,
    stride: int,
    *,
    max_poses: int = 20,
    part_threshold: float = 0.5,
    pose_threshold: float = 0.15,
    nms_radius: float = 20.0,
    refine_steps: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode every person in one PoseNet output.

    ``heatmaps`` are logits (H, W, 17); offsets are in input pixels (see the module docstring).
    ``part_threshold`` is the probability a heatmap peak needs to seed a person,
    ``pose_threshold`` the mean keypoint probability a person needs to be kept, ``nms_radius``
    is in input pixels. Returns keypoints (N, 17, 3) as x, y (input pixels) and probability,
    and the (N,) person scores, best first.
    """
    heatmaps = np.asarray(heatmaps, np.float32)
    if heatmaps.ndim != 3 or heatmaps.shape[2] != NUM_KEYPOINTS:
        raise ValueError(f"heatmaps must be (H, W, {NUM_KEYPOINTS}), got {heatmaps.shape}")
    h, w = heatmaps.shape[:2]
    if short_offsets.shape != (h, w, 2 * NUM_KEYPOINTS) or mid_offsets.shape != (h, w, 4 * NUM_EDGES):
        raise ValueError(f"offsets must be ({h}, {w}, 34) and ({h}, {w}, 64), "
                         f"got {short_offsets.shape} and {mid_offsets.shape}")
    # Work in grid units, with each vector's (y, x) side by side.
    short = np.asarray(short_offsets, np.float32).reshape(h, w, 2, NUM_KEYPOINTS).transpose(0, 1, 3, 2) / stride
    disp = np.asarray(mid_offsets, np.float32).reshape(h, w, 2, 2, NUM_EDGES).transpose(0, 1, 2, 4, 3)
    disp = disp.reshape(h, w, 2 * NUM_EDGES, 2) / stride  # [forward edges..., backward edges...]
    radius2 = (nms_radius / stride) ** 2
    min_logit = float(np.log(part_threshold / (1.0 - part_threshold))) if 0 < part_threshold < 1 else (
        -np.inf if part_threshold <= 0 else np.inf)

    points: list[np.ndarray] = []  # per person (17, 2) grid y, x
    probs: list[np.ndarray] = []
    for root in _root_candidates(heatmaps, short, min_logit):
        if len(points) >= max_poses:
            break
        k, y, x = root[1], root[2], root[3]
        if points and np.min(np.sum((np.array([p[k] for p in points]) - (y, x)) ** 2, axis=1)) <= radius2:
            continue  # this keypoint already belongs to a decoded person
        pts, logits = _grow_pose(root, heatmaps, short, disp, refine_steps)
        p = sigmoid(logits)
        if p.mean() >= pose_threshold:
            points.append(pts)
            probs.append(p)
    if not points:
        return np.zeros((0, NUM_KEYPOINTS, 3), np.float32), np.zeros(0, np.float32)

    # Soft keypoint NMS: a keypoint lying on a stronger person's same keypoint does not count.
    pts_all, p_all = np.stack(points), np.stack(probs)
    first = np.argsort(-p_all.mean(axis=1), kind="stable")
    scores = np.zeros(len(points))
    for rank, i in enumerate(first):
        stronger = first[:rank]
        occluded = np.zeros(NUM_KEYPOINTS, bool)
        if len(stronger):
            occluded = np.any(np.sum((pts_all[stronger] - pts_all[i]) ** 2, axis=2) <= radius2, axis=0)
        scores[i] = p_all[i][~occluded].sum() / NUM_KEYPOINTS
    order = [i for i in np.argsort(-scores, kind="stable") if scores[i] >= pose_threshold]
    out = np.zeros((len(order), NUM_KEYPOINTS, 3), np.float32)
    out[:, :, 0] = pts_all[order, :, 1] * stride
    out[:, :, 1] = pts_all[order, :, 0] * stride
    out[:, :, 2] = p_all[order]
    return out, scores[order].astype(np.float32)
