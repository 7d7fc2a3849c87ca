"""Privacy on a real clip through the command a user runs: with privacy.blur_faces every face box
of the annotated video and of the snapshots is blurred (measured against the source frames, and
against the same run without blur), boxes and labels kept; with privacy.store_images: false no
image file is written at all."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from tests.conftest import VIDEOS, run_script

CLIP = VIDEOS / "mask_putting_on_4people_diazoniclabs.mp4"
FRAMES = 20


def run(tmp_path, name: str, *sets: str):
    out = tmp_path / f"{name}.mp4"
    args = ["--config", "configs/config-x86.json", "--input_video_path", CLIP, "--output_video", out, "--no-progress",
            "--max-frames", str(FRAMES), "--snapshots"]
    for item in sets:
        args += ["--set", item]
    proc = run_script("inference_video.py", *args)
    assert proc.returncode == 0, proc.stderr
    return out


def frames(path, n=FRAMES):
    cap = cv2.VideoCapture(str(path))
    out = []
    while len(out) < n:
        ok, image = cap.read()
        if not ok:
            break
        out.append(image.astype(np.float32))
    cap.release()
    return out


def inner(box, shrink=0.25):
    """The middle of a face box: clear of its outline and of a label pushed inside it."""
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * shrink, (y2 - y1) * shrink
    return int(x1 + dx), int(y1 + dy), int(np.ceil(x2 - dx)), int(np.ceil(y2 - dy))


def detail(region: np.ndarray) -> float:
    grey = cv2.cvtColor(region.astype(np.uint8), cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("privacy")
    return run(tmp, "plain"), run(tmp, "blurred", "privacy.blur_faces=true"), tmp


def test_every_face_box_of_the_video_is_blurred(runs):
    plain, blurred, _ = runs
    source, plain_frames, blurred_frames = frames(CLIP), frames(plain), frames(blurred)
    assert len(blurred_frames) == len(plain_frames) == FRAMES
    results = [json.loads(line) for line in blurred.with_suffix(".jsonl").read_text().splitlines()]
    checked = 0
    for result in results:
        i = result["frame"]
        for face in result["faces"]:
            x1, y1, x2, y2 = inner(face["box"])
            if x2 - x1 < 4 or y2 - y1 < 4:
                continue
            src = source[i][y1:y2, x1:x2]
            changed = np.abs(blurred_frames[i][y1:y2, x1:x2] - src).mean()
            coded = np.abs(plain_frames[i][y1:y2, x1:x2] - src).mean()  # what compression alone changes
            # blurred: the face's detail is gone and its pixels moved far more than compression moves them
            assert detail(blurred_frames[i][y1:y2, x1:x2]) < 0.25 * detail(src) + 2.0, (i, face)
            assert changed > 2.0 * coded + 1.5, (i, face, changed, coded)
            checked += 1
    assert checked >= 4 * FRAMES  # four people and the painting on most frames


def test_outside_the_faces_the_picture_is_kept(runs):
    plain, blurred, _ = runs
    p, b = frames(plain, 5), frames(blurred, 5)
    h, w = p[0].shape[:2]
    band = (slice(int(h * 0.85), h), slice(0, w))  # below the faces: shirts, hands
    assert max(np.abs(p[i][band] - b[i][band]).mean() for i in range(5)) < 3.0  # codec noise only


def test_snapshots_are_blurred_too(runs):
    _, _, tmp = runs
    sharp = [cv2.imread(str(p)) for p in sorted((tmp / "plain.snapshots" / "plain").glob("*.jpg"))]
    soft = [cv2.imread(str(p)) for p in sorted((tmp / "blurred.snapshots" / "blurred").glob("*.jpg"))]
    assert sharp and soft

    def centre(image):
        h, w = image.shape[:2]
        return image[h // 3: 2 * h // 3, w // 3: 2 * w // 3]

    assert max(detail(centre(s)) for s in soft) < 0.25 * min(detail(centre(s)) for s in sharp)


def test_store_images_false_writes_no_picture(tmp_path):
    out = run(tmp_path, "stats_only", "privacy.store_images=false",
              'alerts=[{"type": "unmasked", "notify": ["page"]}]')
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert not [p for p in written if p.rsplit(".", 1)[-1] in ("mp4", "jpg", "jpeg", "png", "avi", "webm")], written
    assert not out.exists()
    assert "stats_only.jsonl" in written and "stats_only.people.csv" in written


def test_a_snapshot_blurs_the_neighbours_faces_too():
    """A person's snapshot is cut wide (snapshots.pad face sizes): the faces of the people next
    to them in it are blurred as well, not only the person's own."""
    from facemask.config import load_config
    from facemask.detectors import build_detector
    from facemask.io.sinks.snapshots import crop
    from facemask.privacy import hide_faces
    from tests.conftest import REPO

    cfg = load_config(REPO / "configs" / "config-x86.json", ["detector.upscale=1.0", "privacy.blur_faces=true"])
    detector = build_detector(cfg)
    cap = cv2.VideoCapture(str(CLIP))
    image = cap.read()[1]
    cap.release()
    faces = detector.detect(image)
    assert len(faces) >= 4
    face = faces[0]
    # wide enough to take in another face
    pad = min(max(abs(o.box - face.box).max() / face.size for o in faces[1:]), 6.0) + 0.5
    picture, inside = crop(image, face, pad, 4096, faces)
    assert len(inside) >= 2 and len(detector.detect(picture)) >= 2  # the crop holds several faces
    hide_faces(picture, inside, cfg.privacy)
    assert detector.detect(picture) == []
    only_own, own = crop(image, face, pad, 4096)
    hide_faces(only_own, own, cfg.privacy)
    assert len(own) == 1 and detector.detect(only_own)  # the person's own blur alone leaves the others
