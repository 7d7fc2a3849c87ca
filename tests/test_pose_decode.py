"""PoseNet and OpenPifPaf decoders on synthetic network outputs whose poses are known."""

import numpy as np
import pytest

from facemask.detectors.openpifpaf_decode import SKELETON, decode_cifcaf
from facemask.detectors.posenet_decode import NUM_EDGES, POSE_TREE, decode_multiple_poses

STRIDE = 16
H, W = 31, 41  # a 481 x 641 input


def person(x: float, y: float, height: float) -> np.ndarray:
    """17 COCO keypoints (x, y) of an upright person whose nose is at (x, y), in pixels."""
    u = height / 8  # about one head height
    rel = [(0, 0), (0.3, -0.2), (-0.3, -0.2), (0.6, 0), (-0.6, 0), (1, 1.2), (-1, 1.2), (1.2, 2.4),
           (-1.2, 2.4), (1.3, 3.5), (-1.3, 3.5), (0.6, 3.9), (-0.6, 3.9), (0.6, 5.6), (-0.6, 5.6),
           (0.6, 7.2), (-0.6, 7.2)]
    return np.array([(x + dx * u, y + dy * u) for dx, dy in rel])


def posenet_outputs(people: list[np.ndarray], peaks: list[np.ndarray]):
    """Heatmap logits, short offsets and mid displacements (in the model's layout) for people
    whose keypoint k peaks at logit peaks[i][k] on the cell nearest to it."""
    gy, gx = np.mgrid[0:H, 0:W] * STRIDE
    cells = np.stack([gx, gy], axis=-1).astype(np.float64)  # (H, W, 2) x, y in pixels
    heat = np.full((H, W, 17), -8.0)
    short = np.zeros((H, W, 34))
    mid = np.zeros((H, W, 4 * NUM_EDGES))
    nearest = np.full((H, W, 17), np.inf)
    for kps, peak in zip(people, peaks):
        d = np.linalg.norm(cells[:, :, None, :] - kps[None, None], axis=-1) / STRIDE  # (H, W, 17) cells
        heat = np.maximum(heat, peak - d ** 2)
        closer = d < nearest
        nearest = np.where(closer, d, nearest)
        off = kps[None, None] - cells[:, :, None, :]  # (H, W, 17, 2) x, y
        short[:, :, :17] = np.where(closer, off[..., 1], short[:, :, :17])
        short[:, :, 17:] = np.where(closer, off[..., 0], short[:, :, 17:])
        for e, (a, b) in enumerate(POSE_TREE):  # forward from each parent, backward from each child
            for src, dst, ch in ((a, b, e), (b, a, 2 * NUM_EDGES + e)):
                near_src = closer[:, :, src]
                mid[:, :, ch] = np.where(near_src, kps[dst, 1] - kps[src, 1], mid[:, :, ch])
                mid[:, :, ch + NUM_EDGES] = np.where(near_src, kps[dst, 0] - kps[src, 0], mid[:, :, ch + NUM_EDGES])
    return heat, short, mid


def test_posenet_decoder_recovers_known_poses():
    people = [person(120, 60, 300), person(420, 120, 260), person(560, 40, 200)]
    # Different strongest parts: the decoder must walk the tree forwards and backwards.
    peaks = [np.full(17, 3.0) for _ in people]
    peaks[0][0] = 5.0  # nose
    peaks[1][15] = 5.0  # left ankle
    peaks[2][10] = 5.0  # right wrist
    kps, scores = decode_multiple_poses(*posenet_outputs(people, peaks), STRIDE, part_threshold=0.5,
                                        pose_threshold=0.2, nms_radius=20)
    assert len(kps) == len(people)  # 51 local maxima, 3 people: keypoint NMS removed the rest
    for truth in people:
        best = min(kps, key=lambda k: np.abs(k[:, :2] - truth).mean())
        assert np.abs(best[:, :2] - truth).max() < 1.0
        assert best[:, 2].min() > 0.8
    assert np.all(np.diff(scores) <= 0)


def test_posenet_decoder_thresholds():
    people = [person(150, 60, 300), person(450, 60, 300)]
    weak = [np.full(17, 3.0), np.full(17, -1.0)]  # the second person never reaches p = 0.5
    outputs = posenet_outputs(people, weak)
    kps, _ = decode_multiple_poses(*outputs, STRIDE, part_threshold=0.5, pose_threshold=0.2)
    assert len(kps) == 1 and abs(kps[0, 0, 0] - 150) < 1
    kps, _ = decode_multiple_poses(*outputs, STRIDE, part_threshold=0.1, pose_threshold=0.2)
    assert len(kps) == 2
    kps, _ = decode_multiple_poses(*outputs, STRIDE, part_threshold=0.1, pose_threshold=0.2, max_poses=1)
    assert len(kps) == 1


def test_posenet_decoder_rejects_wrong_shapes():
    heat, short, mid = posenet_outputs([person(150, 60, 300)], [np.full(17, 3.0)])
    with pytest.raises(ValueError, match="offsets"):
        decode_multiple_poses(heat, short[:, :, :17], mid, STRIDE)


def pifpaf_fields(people: list[np.ndarray], stride: int = 8, h: int = 61, w: int = 81):
    """CIF and CAF fields as an OpenPifPaf export gives them, for keypoints in pixels."""
    cif = np.zeros((17, 5, h, w))
    caf = np.zeros((len(SKELETON), 8, h, w))
    for kps in people:
        g = kps / stride
        for k, (x, y) in enumerate(g):
            for yy in range(int(round(y)) - 1, int(round(y)) + 2):
                for xx in range(int(round(x)) - 1, int(round(x)) + 2):
                    cif[k, :, yy, xx] = (1.0, 0.9, x, y, 1.0)
        for i, (a, b) in enumerate(SKELETON):
            mx, my = (g[a] + g[b]) / 2
            for yy in range(int(round(my)) - 1, int(round(my)) + 2):
                for xx in range(int(round(mx)) - 1, int(round(mx)) + 2):
                    caf[i, :, yy, xx] = (1.0, 0.8, *g[a], *g[b], 1.0, 1.0)
    return cif[None], caf[None]


def test_cifcaf_decoder_recovers_known_poses():
    people = [person(120, 80, 320), person(400, 60, 300)]
    kps, scores = decode_cifcaf(*pifpaf_fields(people), stride=8)
    assert len(kps) == 2 and np.all(scores > 0.8)
    for truth in people:
        best = min(kps, key=lambda k: np.abs(k[:, :2] - truth).mean())
        assert np.abs(best[:, :2] - truth).max() < 1.0


def test_cifcaf_decoder_does_not_join_people_without_links():
    people = [person(120, 80, 320)]
    cif, caf = pifpaf_fields(people)
    caf[:] = 0.0  # no associations: every keypoint is a person of its own, too weak to keep
    kps, _ = decode_cifcaf(cif, caf, stride=8, pose_threshold=0.1)
    assert len(kps) == 0
    kps, _ = decode_cifcaf(cif, caf, stride=8, pose_threshold=0.0)
    assert len(kps) == 17 and np.all((kps[:, :, 2] > 0).sum(axis=1) == 1)
