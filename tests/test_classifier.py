"""The committed classifier, through the inference runtime and the catalog, on real val faces."""

from __future__ import annotations

import numpy as np
import pytest

from facemask.classifiers.runtime import MaskClassifier
from facemask.config import ClassifierConfig
from facemask.models import resolve

from .conftest import KAGGLE

SUBSET_IMAGES = 60  # the first images of kaggle853 splits/val.txt: a fixed subset (230 faces)
# Floors a few points under what the committed model measures on this subset
# (accuracy 0.957, no_mask recall 0.931 of 58 faces, faces < 32 px 0.938; see MODEL_CARD.md).
ACC_FLOOR = 0.93
NO_MASK_RECALL_FLOOR = 0.87
SMALL_ACC_FLOOR = 0.91


@pytest.fixture(scope="module")
def val_faces():
    from facemask.training.evaluate import voc_face_crops

    faces = voc_face_crops(KAGGLE, "val", 45, ClassifierConfig().crop_pad, limit_images=SUBSET_IMAGES)
    keep = np.array([label in ("mask", "no_mask") for label in faces.labels])
    faces.crops, faces.sizes = faces.crops[keep], faces.sizes[keep]
    faces.labels = [lab for lab, k in zip(faces.labels, keep) if k]
    return faces


@pytest.fixture(scope="module")
def classifiers():
    return {kind: MaskClassifier(ClassifierConfig(model=f"ofm_classifier_{kind}", num_threads=1))
            for kind in ("int8", "float32", "onnx")}


def test_catalog_resolves_bundled_weights():
    for name in ("ofm_classifier_int8", "ofm_classifier_float32", "ofm_classifier_onnx"):
        path = resolve(name, download=False)
        assert path.parent.name == "weights" and path.stat().st_size < 2_000_000


def test_default_config_uses_the_int8_model():
    assert ClassifierConfig().model == "ofm_classifier_int8"


def test_accuracy_on_val_subset_above_measured_floor(val_faces, classifiers):
    from facemask.training.evaluate import evaluate

    result = evaluate(classifiers["int8"], val_faces)
    assert result["all"]["n"] == len(val_faces.labels) > 150
    assert result["all"]["accuracy"] >= ACC_FLOOR
    assert result["all"]["recall"]["no_mask"] >= NO_MASK_RECALL_FLOOR
    assert result["small_lt32px"]["accuracy"] >= SMALL_ACC_FLOOR


def test_int8_agrees_with_float32_and_onnx_with_float32(val_faces, classifiers):
    from facemask.training.evaluate import evaluate

    p8 = classifiers["int8"].predict(val_faces.crops)
    p32 = classifiers["float32"].predict(val_faces.crops)
    assert (p8.argmax(axis=1) == p32.argmax(axis=1)).mean() >= 0.97
    assert np.abs(p8 - p32).mean() < 0.03
    acc = {k: evaluate(classifiers[k], val_faces)["all"]["accuracy"] for k in ("int8", "float32")}
    assert acc["int8"] >= acc["float32"] - 0.01  # quantization costs at most one point
    np.testing.assert_allclose(classifiers["onnx"].predict(val_faces.crops), p32, atol=1e-4)


def test_batch_equals_single(val_faces, classifiers):
    clf = classifiers["int8"]
    batch = clf.predict(val_faces.crops[:5])
    single = np.concatenate([clf.predict(val_faces.crops[i:i + 1]) for i in range(5)])
    np.testing.assert_allclose(batch, single, atol=1e-6)


def test_mirrored_face_gets_the_same_label(val_faces, classifiers):
    clf = classifiers["float32"]
    p = clf.predict(val_faces.crops).argmax(axis=1)
    q = clf.predict(np.ascontiguousarray(val_faces.crops[:, :, ::-1])).argmax(axis=1)
    assert (p == q).mean() >= 0.95


def test_evaluate_command_writes_metrics(tmp_path, capsys):
    import json

    from facemask.training.evaluate import main

    from .conftest import REPO

    out = tmp_path / "m.json"
    assert main(["--config", str(REPO / "configs" / "config-x86.json"), "--set", f"training.voc_dir={KAGGLE}",
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["all"]["n"] == 740 and result["not_in_classes"]["n"] == 28  # kaggle853 val faces
    assert result["all"]["accuracy"] >= ACC_FLOOR
    assert "small_lt32px" in capsys.readouterr().out


def test_speed_script_prints_faces_per_second(capsys):
    from facemask.training.speed import main

    assert main(["--models", "ofm_classifier_int8", "--batches", "4", "--seconds", "0.05"]) == 0
    assert "faces/s" in capsys.readouterr().out


# andrewendlesss_mask.mp4 (shared data/video_people): a man in a grey vest, head down, white mask
# worn properly, 16-17 px wide. YuNet's boxes (video: no box correction) on five frames.
ANDREW = KAGGLE.parent / "video_people" / "andrewendlesss_mask.mp4"
ANDREW_MASKED = {305: (112, 270, 129, 286), 308: (105, 271, 121, 288), 311: (97, 271, 113, 287),
                 314: (87, 270, 103, 287), 318: (74, 270, 91, 287)}


def test_video_box_of_a_masked_face_ends_at_the_mask(x86_config):
    """Small blurred masks on video: YuNet's box stops near the mask's top edge, so the mask is cut
    off at the crop's bottom edge. The width-1.0 classifier read these five crops "no mask"
    (median 0.2); the one trained with the video crops (faces of this clip among them) reads them
    "mask" from the default crop, and classifier.crop_shift, which centres the crop lower, surer
    still. (The shift stays 0 by default: on other clips it turns chins, hands and masks under the
    chin into masks; see docs/results.md.)"""
    import cv2

    cap = cv2.VideoCapture(str(ANDREW))
    frames = {}
    for i in range(max(ANDREW_MASKED) + 1):
        ok, frame = cap.read()
        assert ok
        if i in ANDREW_MASKED:
            frames[i] = frame
    cap.release()
    assert x86_config.classifier.crop_shift == 0.0

    def probs(shift: float) -> np.ndarray:
        clf = MaskClassifier(x86_config.classifier.model_copy(update={"crop_shift": shift}))
        return np.array([clf.predict(clf.crops(frames[i], [_face(box)]))[0, clf.mask_index]
                         for i, box in ANDREW_MASKED.items()])

    default, shifted = probs(0.0), probs(0.25)
    assert np.median(default) > 0.6 and np.median(shifted) > 0.8 and np.median(shifted) > np.median(default)


def _face(box):
    from facemask.types import Face

    return Face(box=np.array(box, np.float32), score=0.8)


def test_batches_are_split_into_powers_of_two_not_padded(val_faces):
    from facemask.classifiers.runtime import _pieces

    assert _pieces(5, 64) == [4, 1] and _pieces(7, 64) == [4, 2, 1] and _pieces(8, 64) == [8]
    assert _pieces(100, 64) == [64, 32, 4] and _pieces(3, 1) == [1, 1, 1] and _pieces(0, 64) == []
    clf = MaskClassifier(ClassifierConfig(num_threads=1, max_batch=16))
    crops = val_faces.crops[:37]
    batch = clf.predict(crops)
    single = np.concatenate([clf.predict(crops[i:i + 1]) for i in range(len(crops))])
    np.testing.assert_allclose(batch, single, atol=1e-6)
    assert sorted(clf.backend._interpreters) == [1, 4, 16]  # 37 = 16 + 16 + 4 + 1
