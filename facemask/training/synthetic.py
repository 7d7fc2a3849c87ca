"""Synthetic masks: a mask template (PNG with alpha) warped onto an unmasked face from its five
YuNet landmarks (right eye, left eye, nose, right and left mouth corner), as in MaskTheFace.

The mask spans from the nose bridge to below the chin and a little wider than the cheeks,
turned with the eye line; its colours are shaded to the face's brightness so a white mask on a
dark, underexposed face does not glow.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError

TEMPLATE_MAX_SIDE = 256
# The mask's box in face units: x across (0 = between the eyes, unit = eye distance), y down
# (0 = eye line, 1 = mouth line).
MASK_X = (-1.3, 1.3)
MASK_Y = (0.3, 1.8)


def load_templates(folder: str | Path) -> list[np.ndarray]:
    """RGBA templates cut to their alpha's bounding box, longest side <= TEMPLATE_MAX_SIDE."""
    folder = Path(folder)
    out = []
    for path in sorted(folder.glob("*.png")):
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None or img.ndim != 3 or img.shape[2] != 4:
            continue
        ys, xs = np.nonzero(img[..., 3] > 10)
        img = img[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        s = TEMPLATE_MAX_SIDE / max(img.shape[:2])
        if s < 1:
            img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        out.append(cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA))
    if not out:
        raise InputError(f"no RGBA mask templates (*.png with alpha) in {folder}")
    return out


def put_mask(face_rgb: np.ndarray, landmarks: np.ndarray, template: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``face_rgb`` with ``template`` placed from ``landmarks`` ((5, 2), same pixel frame)."""
    eyes = (landmarks[0] + landmarks[1]) / 2
    mouth = (landmarks[3] + landmarks[4]) / 2
    across = landmarks[1] - landmarks[0]
    eye_dist = float(np.hypot(*across))
    if eye_dist < 1.0:
        return face_rgb
    ux = across / eye_dist  # face x axis in the image
    down = mouth - eyes  # face y axis, unit = eye-to-mouth distance
    jitter = rng.uniform(0.92, 1.08, 4)
    x0, x1 = MASK_X[0] * jitter[0], MASK_X[1] * jitter[1]
    y0, y1 = MASK_Y[0] * jitter[2], MASK_Y[1] * jitter[3]
    th, tw = template.shape[:2]
    # template corners (0,0), (tw,0), (0,th) -> face points
    dst = np.array([
        eyes + ux * eye_dist * x0 + down * y0,
        eyes + ux * eye_dist * x1 + down * y0,
        eyes + ux * eye_dist * x0 + down * y1,
    ], np.float32)
    m = cv2.getAffineTransform(np.array([[0, 0], [tw, 0], [0, th]], np.float32), dst)
    h, w = face_rgb.shape[:2]
    warped = cv2.warpAffine(template, m, (w, h), flags=cv2.INTER_AREA if tw > w else cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0)).astype(np.float32)
    alpha = warped[..., 3:] / 255.0
    if alpha.max() == 0:
        return face_rgb
    face = face_rgb.astype(np.float32)
    shade = np.clip(face.mean() / 128.0, 0.35, 1.1) * rng.uniform(0.85, 1.05)
    out = face * (1 - alpha) + warped[..., :3] * shade * alpha
    return np.clip(out, 0, 255).astype(np.uint8)


# Occluders that are not masks. CCTV crowds hold hands, fists, phones and drinks in front of the
# mouth and wear caps whose brim shades the eyes; a classifier that has only seen masks cover the
# mouth reads any uniform patch there as a mask. These draw such occluders on a face so that it
# keeps its label: skin in front of the mouth is not a mask, a shaded upper face says nothing.


def _face_axes(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """Eye centre, unit x (across) and y (down) axes, eye distance, eye-to-mouth distance."""
    eyes = (landmarks[0] + landmarks[1]) / 2
    across = landmarks[1] - landmarks[0]
    eye_dist = float(np.hypot(*across))
    ux = across / max(eye_dist, 1e-6)
    uy = np.array([-ux[1], ux[0]], np.float32)  # image y points down
    mouth = (landmarks[3] + landmarks[4]) / 2
    return eyes, ux, uy, eye_dist, max(float(np.dot(mouth - eyes, uy)), 1.0)


def skin_colour(face_rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Median RGB of the nose and both cheeks (between each eye and mouth corner)."""
    h, w = face_rgb.shape[:2]
    eye_dist = _face_axes(landmarks)[3]
    r = max(1, int(round(0.12 * eye_dist)))
    pixels = []
    for p in (landmarks[2], (landmarks[0] + landmarks[3]) / 2, (landmarks[1] + landmarks[4]) / 2):
        x, y = int(round(p[0])), int(round(p[1]))
        patch = face_rgb[max(y - r, 0):min(y + r + 1, h), max(x - r, 0):min(x + r + 1, w)]
        pixels.append(patch.reshape(-1, 3))
    pixels = np.concatenate(pixels)
    return np.median(pixels, axis=0).astype(np.float32) if len(pixels) else face_rgb.reshape(-1, 3).mean(axis=0)


def _blend(face_rgb: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    return np.clip(face_rgb.astype(np.float32) * (1 - a) + colour * a, 0, 255).astype(np.uint8)


def put_hand(face_rgb: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A hand-like, skin-coloured blob (palm or fist, sometimes fingers and a forearm coming from
    below) over part of the mouth and chin; its colour is the face's own skin, lit differently."""
    eyes, ux, uy, eye_dist, eye_mouth = _face_axes(landmarks)
    if eye_dist < 1.0:
        return face_rgb
    h, w = face_rgb.shape[:2]
    ss = 4  # drawn at 4x, then area-averaged: smooth edges on 10-px faces
    shape = np.zeros((h * ss, w * ss), np.float32)

    def pt(p: np.ndarray) -> tuple[int, int]:
        return int(round(p[0] * ss)), int(round(p[1] * ss))

    centre = eyes + uy * eye_mouth * rng.uniform(0.85, 1.5) + ux * eye_dist * rng.uniform(-0.5, 0.5)
    axes = (eye_dist * rng.uniform(0.45, 0.9), eye_mouth * rng.uniform(0.3, 0.6))
    tilt = np.degrees(np.arctan2(ux[1], ux[0])) + rng.uniform(-35, 35)
    cv2.ellipse(shape, pt(centre), (int(axes[0] * ss), int(axes[1] * ss)), float(tilt), 0, 360, (1.0,), -1, cv2.LINE_AA)
    if rng.random() < 0.5:  # fingers across the mouth, from one side of the palm
        side = ux * rng.choice([-1.0, 1.0])
        width = max(1, int(0.2 * eye_dist * ss))
        for k in range(int(rng.integers(2, 5))):
            start = centre + uy * eye_mouth * (k - 1.5) * 0.22
            cv2.line(shape, pt(start), pt(start + side * eye_dist * rng.uniform(0.5, 1.0)), (1.0,), width, cv2.LINE_AA)
    if rng.random() < 0.5:  # the forearm, from the bottom of the crop
        wrist = centre + uy * axes[1] * 0.5
        arm = np.array([rng.uniform(-0.6, 0.6), 1.0], np.float32)
        cv2.line(shape, pt(wrist), pt(wrist + arm * 2 * h), (1.0,), max(1, int(axes[0] * 1.2 * ss)), cv2.LINE_AA)
    alpha = cv2.resize(shape, (w, h), interpolation=cv2.INTER_AREA)
    # own skin with another gain; a light gradient (the hand is nearer the light), blotchy
    # low-frequency texture and darker outlines (knuckles, finger gaps): a flat patch is a mask
    colour = skin_colour(face_rgb, landmarks) * rng.uniform(0.8, 1.2) * rng.uniform(0.95, 1.05, 3)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    direction = rng.normal(size=2)
    ramp = (xs * direction[0] + ys * direction[1]) / (np.hypot(*direction) * max(h, w))
    sigma = max(0.5, 0.15 * eye_dist)
    blotch = np.asarray(cv2.GaussianBlur(rng.normal(size=(h, w)).astype(np.float32), (0, 0), sigma), np.float32)
    blotch *= rng.uniform(0.04, 0.1) / max(float(blotch.std()), 1e-6)
    inner = cv2.GaussianBlur(alpha, (0, 0), sigma)  # ~0.5 on the outline, 1 inside a palm
    light = (1 + rng.uniform(0.1, 0.35) * (ramp - ramp.mean()) + blotch) * (0.7 + 0.3 * inner)
    shaded = colour[None, None, :] * light[..., None]
    out = face_rgb.astype(np.float32) * (1 - alpha[..., None]) + shaded * alpha[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def put_head(face_rgb: np.ndarray, landmarks: np.ndarray, donor_rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Someone in front: the top of another (unmasked) face crop, its hair and forehead, pasted in
    a soft ellipse rising from below over the chin and mouth."""
    eyes, ux, uy, eye_dist, eye_mouth = _face_axes(landmarks)
    if eye_dist < 1.0:
        return face_rgb
    h, w = face_rgb.shape[:2]
    centre = eyes + uy * eye_mouth * rng.uniform(1.4, 2.0) + ux * eye_dist * rng.uniform(-0.8, 0.8)
    axes = np.array([eye_dist * rng.uniform(0.9, 1.8), eye_mouth * rng.uniform(0.8, 1.3)])  # top: nose to chin
    ss = 4
    shape = np.zeros((h * ss, w * ss), np.float32)
    cv2.ellipse(shape, (int(round(centre[0] * ss)), int(round(centre[1] * ss))), (int(axes[0] * ss), int(axes[1] * ss)),
                rng.uniform(-20, 20), 0, 360, (1.0,), -1, cv2.LINE_AA)
    alpha = cv2.resize(shape, (w, h), interpolation=cv2.INTER_AREA)
    top = donor_rgb[: max(2, int(donor_rgb.shape[0] * rng.uniform(0.3, 0.5)))]  # hair and forehead
    if rng.random() < 0.5:
        top = top[:, ::-1]
    x0, y0 = (centre - axes).astype(int)
    x1, y1 = (centre + axes).astype(int)
    layer = np.zeros_like(face_rgb, np.float32)
    patch = cv2.resize(np.ascontiguousarray(top), (max(1, x1 - x0), max(1, y1 - y0)), interpolation=cv2.INTER_LINEAR)
    ox, oy = max(0, -x0), max(0, -y0)
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if cx1 <= cx0 or cy1 <= cy0:
        return face_rgb
    layer[cy0:cy1, cx0:cx1] = patch[oy:oy + cy1 - cy0, ox:ox + cx1 - cx0]
    out = face_rgb.astype(np.float32) * (1 - alpha[..., None]) + layer * alpha[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def put_brim_shadow(face_rgb: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A cap or hat: the upper face darkened down to a tilted line between the forehead and the
    nose (the brim's shadow), sometimes with the brim itself drawn above the eyes."""
    eyes, ux, uy, _, eye_mouth = _face_axes(landmarks)
    h, w = face_rgb.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    rel = np.stack([xs - eyes[0], ys - eyes[1]], axis=-1)
    down = rel @ uy + rng.uniform(-0.2, 0.2) * (rel @ ux)  # face y, with a tilted line
    soft = max(0.5, rng.uniform(0.05, 0.25) * eye_mouth)
    line = eye_mouth * rng.uniform(-0.3, 0.75)
    shadow = 1 / (1 + np.exp(np.clip((down - line) / soft, -30, 30)))
    out = face_rgb.astype(np.float32) * (1 - shadow[..., None] * rng.uniform(0.35, 0.8))
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        brim = 1 / (1 + np.exp(np.clip((down - eye_mouth * rng.uniform(-1.2, -0.5)) / soft, -30, 30)))
        out = _blend(out, brim, rng.uniform(10, 140) * rng.uniform(0.8, 1.2, 3))
    return out


def mean_layout(landmarks: dict) -> np.ndarray:
    """The mean of many faces' landmarks: a stand-in for a crop that has none (face_crop gives
    every crop the same framing)."""
    return np.mean(np.stack(list(landmarks.values())), axis=0).astype(np.float32)


def split_landmarks(path: Path, split_paths: list[Path], scale: float) -> dict[int, np.ndarray]:
    """Landmarks of a loaded split from ``landmarks.json`` (written by --prepare-data): image
    index -> (5, 2) in loaded pixels (``scale`` = loaded size / stored size)."""
    if not path.is_file():
        raise InputError(f"{path} not found (written by --prepare-data; run it again)")
    stored = json.loads(path.read_text())
    out = {}
    for i, p in enumerate(split_paths):
        key = "/".join(p.parts[-3:])
        if key in stored:
            out[i] = np.array(stored[key], np.float32) * scale
    return out


def occluded_holdout(cfg, clf, seed: int = 0, small_face_px: int = 16) -> dict[str, dict]:
    """A stress test built from the training hold-out (never from val or test videos): the hold-out
    unmasked faces with a hand over the mouth or another hold-out face's hair over the lower face
    (the next unmasked crop in the list), and every hold-out face under a cap brim's
    shadow, each at the stored size and shrunk to ``small_face_px`` faces (then resized back, as a
    CCTV face is). Returns {condition: metrics.summary} with argmax labels; fixed ``seed``."""
    from .data import LANDMARKS_FILE, load_split, resize
    from .metrics import summary

    t = cfg.training
    classes = list(cfg.classifier.classes)
    split = load_split(t.data_dir, "validation", classes, t.class_dirs, t.store_size)
    marks = split_landmarks(Path(t.data_dir) / LANDMARKS_FILE, split.paths, 1.0)
    layout = mean_layout(marks)
    no_mask = classes.index("no_mask")
    rng = np.random.default_rng(seed)
    hands = [i for i in marks if split.labels[i] == no_mask]
    donors = split.images[hands]
    sets = {
        "hand (no_mask)": ([put_hand(split.images[i], marks[i], rng) for i in hands], split.labels[hands]),
        "head in front (no_mask)": ([put_head(split.images[i], marks[i], donors[(k + 1) % len(hands)], rng)
                                     for k, i in enumerate(hands)], split.labels[hands]),
        "brim shadow": ([put_brim_shadow(img, marks.get(i, layout), rng) for i, img in enumerate(split.images)],
                        split.labels),
    }
    low = max(2, round(small_face_px * (1 + 2 * cfg.classifier.crop_pad)))
    out = {}
    for name, (images, labels) in sets.items():
        for tag, side in (("", None), (f", {small_face_px} px faces", low)):
            x = np.stack([resize(img if side is None else resize(img, side), clf.input_size) for img in images])
            out[name + tag] = summary(labels, clf.predict(x).argmax(axis=1), classes)
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    from ..classifiers.runtime import MaskClassifier
    from ..config import load_config
    from ..errors import FacemaskError

    p = argparse.ArgumentParser(prog="python -m facemask.training.synthetic",
                                description="Hold-out stress test: unmasked faces behind a hand or a head, "
                                            "faces under a cap brim.")
    p.add_argument("--config", required=True)
    p.add_argument("--model", help="catalog name or .tflite/.onnx path (default: classifier.model)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args(argv)
    try:
        cfg = load_config(args.config, args.set)
        ccfg = cfg.classifier if not args.model else cfg.classifier.model_copy(update={"model": args.model})
        result = occluded_holdout(cfg, MaskClassifier(ccfg))
    except FacemaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"model {ccfg.model} on the occluded hold-out of {cfg.training.data_dir} (argmax)")
    for name, m in result.items():
        recall = " ".join(f"{c} {r:.4f}" for c, r in m["recall"].items() if r is not None)
        print(f"{name:28s} n={m['n']:5d} accuracy {m['accuracy']:.4f} recall: {recall}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
