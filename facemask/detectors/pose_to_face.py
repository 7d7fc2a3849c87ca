"""Face boxes from body keypoints (COCO's 17, as PoseNet, MoveNet and OpenPifPaf give them).

In CCTV a face is a handful of pixels while the body is large, so a pose estimator sees people a
face detector misses, including people who look away. Three ways to place the face, chosen by
``face.methods`` in the detector config. With ``face.combine`` = "median" (the default) the face
is the median box of every listed method that applies; with "first", the first that applies wins
(measured on kaggle853 train, the median is the better of the two for PoseNet and MoveNet):

``head``
    eyes, ears and nose. The face's width is the largest one implied by any visible pair of
    head keypoints divided by that pair's typical 3D distance in face widths (a projection only
    shortens a distance, so the largest estimate is the least foreshortened one). Works for
    faces seen from the side or from behind (ears) as long as two head keypoints are visible.
``shoulders``
    after Neuralet's face-mask app: the distance from the eyes (or nose) down to the shoulder line
    sets the size, the eyes set the position. Needs both shoulders and an eye or the nose.
``chest``
    after Tryolabs' mask detector: the size comes from the neck-to-hip distance (the neck being
    the shoulders' midpoint), which does not change when the head turns; the head keypoints, when
    visible, set the position, else the torso line continued upwards.

Scale factors turning those distances into kaggle853-style face boxes (forehead to chin) were
measured on kaggle853's train split by ``scripts/calibrate_pose_faces.py``; ``face.box_scale``
scales every box for datasets labelled differently.

A face made here has ``keypoints`` (only the keypoints at or above ``keypoint_threshold``, so
"both eyes present" means both eyes seen) and, when both eyes are seen, five ``landmarks`` in
YuNet's order: the two eyes and the nose as the pose gives them (the nose from the 5-point
ArcFace template when the pose lacks it) and the mouth corners from that template placed on the
eyes. With one eye or none, ``landmarks`` is None.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..types import Face
from .configs import PoseFaceConfig, PoseMethod

KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
NOSE, L_EYE, R_EYE, L_EAR, R_EAR, L_SHOULDER, R_SHOULDER = range(7)
L_HIP, R_HIP = 11, 12
HEAD = (NOSE, L_EYE, R_EYE, L_EAR, R_EAR)

# Typical 3D distances between head keypoints, in face widths (face width ~ 140 mm; eyes 63 mm
# apart, ears ~150 mm apart, eye to ear of the same side ~95 mm, nose tip to eye ~60 mm, nose tip
# to ear ~125 mm).
HEAD_PAIRS: tuple[tuple[int, int, float], ...] = (
    (L_EYE, R_EYE, 0.45), (L_EAR, R_EAR, 1.07), (L_EYE, L_EAR, 0.68), (R_EYE, R_EAR, 0.68),
    (NOSE, L_EYE, 0.43), (NOSE, R_EYE, 0.43), (NOSE, L_EAR, 0.9), (NOSE, R_EAR, 0.9),
    (L_EYE, R_EAR, 1.0), (R_EYE, L_EAR, 1.0),
)

# The 5-point ArcFace template in eye coordinates: origin between the eyes, unit = eye distance,
# u along the eye line (towards the left eye), v perpendicular to it (down the face).
# Order as YuNet: right eye, left eye, nose tip, right mouth corner, left mouth corner.
TEMPLATE_UV = np.array([[-0.5, 0.0], [0.5, 0.0], [0.0, 0.57], [-0.415, 1.16], [0.415, 1.16]], np.float32)

Method = PoseMethod


@dataclass(frozen=True)
class Geometry:
    """Turns a method's (reference point, size) into a box: width = scale * size,
    height = aspect * width, centre = ref + (0, dy * width)."""

    scale: float
    dy: float
    aspect: float


# Measured on kaggle853 train with scripts/calibrate_pose_faces.py (medians over matched faces).
GEOMETRY: dict[str, Geometry] = {
    "head": Geometry(scale=1.02, dy=0.21, aspect=1.10),
    "shoulders": Geometry(scale=0.80, dy=0.28, aspect=1.09),
    "chest": Geometry(scale=0.335, dy=0.20, aspect=1.09),
}


@dataclass
class Estimate:
    """A method's raw answer: a reference point, a size in pixels and the keypoints it used."""

    ref: np.ndarray  # (2,) x, y
    size: float
    used: tuple[int, ...]


def _visible(kps: np.ndarray, threshold: float) -> np.ndarray:
    return kps[:, 2] >= threshold


def _head_ref(kps: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]] | None:
    head = tuple(i for i in HEAD if seen[i])
    if not head:
        return None
    return kps[list(head), :2].mean(axis=0), head


def estimate_head(kps: np.ndarray, threshold: float) -> Estimate | None:
    seen = _visible(kps, threshold)
    ref = _head_ref(kps, seen)
    sizes = [np.linalg.norm(kps[a, :2] - kps[b, :2]) / d for a, b, d in HEAD_PAIRS if seen[a] and seen[b]]
    if ref is None or not sizes or max(sizes) <= 0:
        return None
    return Estimate(ref[0], float(max(sizes)), ref[1])


def estimate_shoulders(kps: np.ndarray, threshold: float) -> Estimate | None:
    seen = _visible(kps, threshold)
    if not (seen[L_SHOULDER] and seen[R_SHOULDER]):
        return None
    eyes = [i for i in (L_EYE, R_EYE) if seen[i]] or ([NOSE] if seen[NOSE] else [])
    if not eyes:
        return None
    ref = kps[eyes, :2].mean(axis=0)
    neck = kps[[L_SHOULDER, R_SHOULDER], :2].mean(axis=0)
    size = float(np.linalg.norm(neck - ref))
    if size <= 0:
        return None
    return Estimate(ref, size, tuple(eyes) + (L_SHOULDER, R_SHOULDER))


def estimate_chest(kps: np.ndarray, threshold: float) -> Estimate | None:
    seen = _visible(kps, threshold)
    hips = [i for i in (L_HIP, R_HIP) if seen[i]]
    if not (seen[L_SHOULDER] and seen[R_SHOULDER]) or not hips:
        return None
    neck = kps[[L_SHOULDER, R_SHOULDER], :2].mean(axis=0)
    hip = kps[hips, :2].mean(axis=0)
    torso = float(np.linalg.norm(neck - hip))
    if torso <= 0:
        return None
    used = (L_SHOULDER, R_SHOULDER) + tuple(hips)
    head = _head_ref(kps, seen)
    if head is not None:
        return Estimate(head[0], torso, used + head[1])
    # No head keypoint: the head sits on the torso line, about a third of the torso above the neck.
    return Estimate(neck + (neck - hip) * 0.3, torso, used)


ESTIMATORS = {"head": estimate_head, "shoulders": estimate_shoulders, "chest": estimate_chest}


def face_landmarks(kps: np.ndarray, threshold: float) -> np.ndarray | None:
    """YuNet-order (5, 2) landmarks when both eyes are seen (see the module docstring)."""
    if kps[L_EYE, 2] < threshold or kps[R_EYE, 2] < threshold:
        return None
    right, left = kps[R_EYE, :2].astype(np.float32), kps[L_EYE, :2].astype(np.float32)
    u = left - right
    v = np.array([-u[1], u[0]], np.float32)  # u turned 90 degrees: down the face for an upright one
    out = (right + left) / 2 + TEMPLATE_UV[:, :1] * u + TEMPLATE_UV[:, 1:] * v
    out[0], out[1] = right, left
    if kps[NOSE, 2] >= threshold:
        out[2] = kps[NOSE, :2]
    return out.astype(np.float32)


def _box(method: str, est: Estimate, box_scale: float) -> np.ndarray:
    """cx, cy, w, h of the face a method's estimate implies."""
    geo = GEOMETRY[method]
    w = geo.scale * est.size * box_scale
    return np.array([est.ref[0], est.ref[1] + geo.dy * w, w, w * geo.aspect])


def pose_to_face(kps: np.ndarray, cfg: PoseFaceConfig, source: str,
                 frame_size: tuple[int, int] | None = None) -> Face | None:
    """One pose (17, 3) x, y, score in frame pixels -> a Face, or None when no method applies."""
    found = []
    for method in cfg.methods:
        est = ESTIMATORS[method](kps, cfg.keypoint_threshold)
        if est is not None:
            found.append((_box(method, est, cfg.box_scale), est.used))
            if cfg.combine == "first":
                break
    if not found:
        return None
    cx, cy, w, h = np.median([b for b, _ in found], axis=0)
    used = sorted({i for _, u in found for i in u})
    box = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], np.float32)
    if frame_size is not None:
        fw, fh = frame_size
        box = np.clip(box, 0, [fw, fh, fw, fh]).astype(np.float32)
    if min(box[2] - box[0], box[3] - box[1]) < max(cfg.min_size, 1e-3):
        return None
    seen = _visible(kps, cfg.keypoint_threshold)
    return Face(
        box=box,
        score=float(np.mean(kps[used, 2])),
        landmarks=face_landmarks(kps, cfg.keypoint_threshold),
        keypoints={KEYPOINTS[i]: (float(kps[i, 0]), float(kps[i, 1]), float(kps[i, 2]))
                   for i in range(len(KEYPOINTS)) if seen[i]},
        source=source,
    )


def poses_to_faces(poses: np.ndarray, cfg: PoseFaceConfig, source: str,
                   frame_size: tuple[int, int] | None = None) -> list[Face]:
    faces = (pose_to_face(kps, cfg, source, frame_size) for kps in poses)
    return [f for f in faces if f is not None]
