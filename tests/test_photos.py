"""Photo mode: every face found gets a label and a confidence; those video would have left
unclassified are marked low-confidence with the reason; the JSONL carries time_ms."""

import numpy as np

from facemask.config import parse_config
from facemask.evaluation.data import load_voc
from facemask.io.sources import read_image
from facemask.pipeline import FramePipeline
from facemask.types import UNKNOWN
from tests.conftest import KAGGLE


def val_images(n: int):
    return [(item.name, read_image(item.image_path)) for item in load_voc(KAGGLE, "val")[:n]]


def test_every_face_of_a_photo_is_labelled_and_the_doubtful_ones_marked(x86_config):
    pipe = FramePipeline(x86_config)
    reasons, n = set(), 0
    for name, image in val_images(12):
        video = pipe.process(image, frame_index=0)  # video rules: some faces stay unknown
        photo = pipe.process(image, image=name)  # and faces down to images.min_score
        by_box = {tuple(f.box.tolist()): f for f in photo.faces}
        assert len(photo.faces) >= len(video.faces)
        for p in photo.faces:
            n += 1
            assert p.label != UNKNOWN and p.skip_reason is None
            assert 0.5 <= p.confidence <= 1.0
            reasons.add(p.low_confidence)
            if p.score < x86_config.detector.score_threshold:  # only photos report these
                assert p.low_confidence in ("low_score", "too_small", "at_edge")
        for v in video.faces:
            p = by_box[tuple(v.box.tolist())]
            if v.skip_reason:  # what video skips is labelled, and says why it is doubtful
                assert p.low_confidence == v.skip_reason
        record = photo.to_json()
        assert record["time_ms"] > 0
        assert all("confidence" in f for f in record["faces"])
    assert n >= 40
    assert {"too_small", "low_score"} <= reasons and None in reasons, reasons


def test_the_detection_area_still_rules_in_photos(x86_config):
    cfg = parse_config({**x86_config.model_dump(), "filters": {"detection_area": {"left": 0.5}}})
    pipe = FramePipeline(cfg)
    (name, image), = val_images(1)
    faces = pipe.process(image, image=name).faces
    left = [f for f in faces if f.center[0] < 0.5 * image.shape[1]]
    assert left and all(f.label == UNKNOWN and f.skip_reason == "outside_area" for f in left)
    assert all(f.label != UNKNOWN for f in faces if f.center[0] > 0.5 * image.shape[1])


def test_photo_labelling_can_be_turned_off(x86_config):
    cfg = parse_config({**x86_config.model_dump(), "images": {"label_every_face": False}})
    pipe = FramePipeline(cfg)
    labels = [f.label for name, image in val_images(6) for f in pipe.process(image, image=name).faces]
    assert UNKNOWN in labels and np.mean([lab != UNKNOWN for lab in labels]) < 1.0


def test_large_faces_are_reported_down_to_their_own_score_small_ones_not(x86_config):
    """images.large_min_score: a blurred, enlarged face YuNet boxes well but scores low is
    reported (marked low-confidence); no small face under images.min_score is."""
    from facemask.evaluation import large_faces
    from facemask.geometry import box_iou

    im = x86_config.images
    assert im.large_min_score < im.min_score
    data = large_faces.build(load_voc(KAGGLE, "val"))
    pipe = FramePipeline(x86_config)
    gained = 0  # enlarged faces found only thanks to it: matched (IoU >= 0.5) at a score under min_score
    for n in range(0, len(data.items), 6):  # 72 of the 431 scenes
        item, image = data.items[n], data.images[n]
        faces = pipe.process(image, image=item.name).faces
        for f in faces:
            # under min_score: only large faces, marked doubtful (low_score, or at_edge first)
            assert f.score >= im.min_score or (f.size >= im.large_face and f.low_confidence is not None)
        if faces:
            iou = box_iou(np.array([f.box for f in faces], np.float64), item.boxes)[:, 0]
            gained += bool(iou.max() >= 0.5 and faces[int(np.argmax(iou))].score < im.min_score)
    assert gained >= 1
    for name, image in val_images(12):  # real photos: small faces keep images.min_score
        assert all(f.score >= im.min_score for f in pipe.process(image, image=name).faces if f.size < im.large_face)
