"""Training, data preparation and export on small real subsets (fast: one tiny run)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from facemask.config import parse_config
from facemask.errors import ConfigError, InputError

from .conftest import KAGGLE, SHARED

MASK_CROPS = SHARED / "data" / "mask_crops"


def _mini_sources(root, n_photos: int = 6, n_voc: int = 4):
    """A few real photos of each source, laid out like the shared data."""
    for folder in ("with_mask", "without_mask"):
        (root / "mask_crops" / folder).mkdir(parents=True)
        for path in sorted((MASK_CROPS / folder).glob("*.jpg"))[:n_photos]:
            shutil.copy(path, root / "mask_crops" / folder / path.name)
    voc = root / "voc"
    (voc / "splits").mkdir(parents=True)
    (voc / "annotations").symlink_to(KAGGLE / "annotations")
    (voc / "images").symlink_to(KAGGLE / "images")
    stems = (KAGGLE / "splits" / "train.txt").read_text().split()[:n_voc]
    (voc / "splits" / "train.txt").write_text("\n".join(stems) + "\n")
    (voc / "splits" / "val.txt").write_text("\n".join(stems) + "\n")
    return root / "mask_crops", voc


def _config(tmp_path, **training):
    return parse_config({"training": {"output_dir": str(tmp_path / "run"), **training}})


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """prepare() on mini sources with the face/face-mask folder names."""
    from facemask.training.prepare import prepare

    tmp = tmp_path_factory.mktemp("prep")
    mask_crops, voc = _mini_sources(tmp)
    cfg = _config(tmp, data_dir=str(tmp / "data"), mask_crops_dir=str(mask_crops), voc_dir=str(voc),
                  class_dirs={"mask": "face-mask", "no_mask": "face"}, holdout_fraction=0.3)
    return cfg, prepare(cfg, log=lambda *_: None)


def test_prepare_writes_class_folders_and_report(prepared):
    cfg, out = prepared
    report = json.loads((out / "prepare_report.json").read_text())
    assert {p.name for p in (out / "train").iterdir()} >= {"face-mask", "face"}
    found = sum(s.get("face_found", 0) for s in report["mask_crops"]["photos"].values())
    assert found >= 10  # YuNet finds the subject in (almost) every one of the 12 photos
    assert sum(report["voc"]["faces"].values()) > 0
    import cv2

    img = cv2.imread(str(next((out / "train" / "face").glob("*.png"))))
    assert img.shape == (cfg.training.store_size, cfg.training.store_size, 3)
    assert not list(out.parent.glob("*.part"))  # the temp folder was renamed


def test_video_boxes_add_each_face_cut_where_video_cuts_it(tmp_path):
    """training.voc_video_boxes: each kaggle853 face YuNet finds (as video runs it) is cut a second
    time at YuNet's box, into the same split and class folder as its annotated crop."""
    import cv2

    from facemask.training.prepare import prepare

    mask_crops, voc = _mini_sources(tmp_path, n_photos=1, n_voc=8)
    cfg = _config(tmp_path, data_dir=str(tmp_path / "data"), mask_crops_dir=str(mask_crops), voc_dir=str(voc),
                  voc_video_boxes=True)
    out = prepare(cfg, log=lambda *_: None)
    faces = json.loads((out / "prepare_report.json").read_text())["voc"]["faces"]
    annotated = sum(n for k, n in faces.items() if k in ("mask", "no_mask", "mask_incorrect"))
    video = sum(n for k, n in faces.items() if k.endswith("video box"))
    assert annotated >= 10 and 0.3 * annotated <= video <= annotated, faces
    crops = sorted(out.rglob("voc_*_v.png"))
    assert len(crops) == video
    differ = 0
    for crop in crops:
        twin = crop.with_name(crop.name[:-len("_v.png")] + ".png")
        assert twin.exists()  # same face: same split, same class
        differ += float(np.abs(cv2.imread(str(crop)).astype(int) - cv2.imread(str(twin)).astype(int)).mean()) > 2
    assert differ >= video // 2  # another box, another crop


def test_prepare_refuses_val_split(tmp_path):
    from facemask.training.prepare import prepare

    mask_crops, voc = _mini_sources(tmp_path, 1, 1)
    cfg = _config(tmp_path, data_dir=str(tmp_path / "d"), mask_crops_dir=str(mask_crops), voc_dir=str(voc), voc_split="val")
    with pytest.raises(ConfigError, match="measuring only"):
        prepare(cfg, log=lambda *_: None)
    assert not (tmp_path / "d").exists()


def test_subject_finder_box_is_the_face():
    import cv2

    from facemask.training.prepare import SubjectFinder

    finder = SubjectFinder()
    path = sorted((MASK_CROPS / "without_mask").glob("*.jpg"))[0]
    image = cv2.imread(str(path))
    face = finder(image)
    h, w = image.shape[:2]
    assert face is not None and face.landmarks is not None
    box = face.box
    assert box[0] < face.landmarks[2, 0] < box[2] and box[1] < face.landmarks[2, 1] < box[3]  # nose inside
    assert 0.3 * w < box[2] - box[0] <= 1.2 * w  # the face fills much of a face photo
    assert abs((box[0] + box[2]) / 2 - w / 2) < 0.25 * w
    assert finder(np.full((200, 200, 3), 127, np.uint8)) is None


def test_tiny_training_run_exports_models_that_agree(prepared, tmp_path):
    """1 epoch with synthetic masks and class weights; Keras, TFLite float32 and ONNX agree."""
    import keras

    from facemask.classifiers.runtime import MaskClassifier
    from facemask.config import ClassifierConfig
    from facemask.training.data import load_split
    from facemask.training.export import export_onnx, export_tflite
    from facemask.training.train import train

    cfg, out = prepared
    cfg = cfg.model_copy(update={"training": cfg.training.model_copy(update={
        "epochs": 1, "batch_size": 16, "output_dir": str(tmp_path / "run"),
        "synthetic_masks": 0.5, "class_weight": "balanced"})})
    model_path = train(cfg, log=lambda *_: None)
    metrics = json.loads((model_path.parent / "metrics.json").read_text())
    assert metrics["best"]["epoch"] == 1 and len(metrics["history"]) == 1
    assert (model_path.parent / "confusion.png").stat().st_size > 0 and (model_path.parent / "roc.png").is_file()
    paths = {**export_tflite(cfg, model_path, log=lambda *_: None), "onnx": export_onnx(cfg, model_path, log=lambda *_: None)}
    crops = load_split(out, "validation", ["mask", "no_mask"], cfg.training.class_dirs, 45).images
    probs = {"keras": keras.models.load_model(model_path).predict(crops.astype(np.float32), verbose=0)}
    for kind, path in paths.items():
        clf = MaskClassifier(ClassifierConfig(model=str(path), num_threads=1))
        assert clf.input_size == 45
        probs[kind] = clf.predict(crops)
        assert probs[kind].shape == (len(crops), 2)
    np.testing.assert_allclose(probs["float32"], probs["keras"], atol=1e-4)
    np.testing.assert_allclose(probs["onnx"], probs["keras"], atol=1e-4)
    np.testing.assert_allclose(probs["int8"].sum(axis=1), 1.0, atol=0.02)
    assert np.abs(probs["int8"] - probs["keras"]).mean() < 0.05


def test_synthetic_mask_covers_mouth_not_eyes(prepared):
    import cv2

    from facemask.training.data import LANDMARKS_FILE
    from facemask.training.synthetic import load_templates, put_mask

    _, out = prepared
    key, pts = next(iter(json.loads((out / LANDMARKS_FILE).read_text()).items()))
    face = cv2.imread(str(out / key))[:, :, ::-1]
    pts = np.array(pts, np.float32)
    templates = load_templates(SHARED / "data" / "mask_templates")
    assert len(templates) >= 10
    masked = put_mask(face, pts, templates[0], np.random.default_rng(0))
    changed = np.abs(masked.astype(int) - face.astype(int)).sum(axis=2) > 30

    def around(p):
        x, y = np.round(p).astype(int)
        return changed[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2].mean()

    assert around(pts[3:].mean(axis=0)) > 0.8  # mouth covered
    assert around(pts[0]) < 0.2 and around(pts[1]) < 0.2  # eyes free


def test_missing_data_dir_is_one_clear_error(tmp_path, capsys):
    from facemask.training.main import main

    cfg_file = tmp_path / "c.json"
    cfg_file.write_text(json.dumps({"training": {"data_dir": str(tmp_path / "nope"), "output_dir": str(tmp_path / "r")}}))
    assert main(["--config", str(cfg_file)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nope" in err and "--prepare-data" in err


def test_missing_class_folder_names_it(prepared):
    from facemask.training.data import load_split

    _, out = prepared
    with pytest.raises(InputError, match="with_mask"):
        load_split(out, "train", ["mask", "no_mask"], {"mask": "with_mask", "no_mask": "face"}, 45)
    with pytest.raises(InputError, match="mask_incorrect"):
        load_split(out, "train", ["mask", "no_mask", "mask_incorrect"], {"mask": "face-mask", "no_mask": "face"}, 45)


def test_augmentation_shapes_and_low_resolution():
    from facemask.training.augment import CCTVAugment
    from facemask.training.data import resize

    rng = np.random.default_rng(0)
    crop = np.zeros((64, 64, 3), np.uint8)
    crop[:, ::2] = 255  # one-pixel stripes: survive a plain resize, not a 12 px face
    low = CCTVAugment(45, min_face_px=10, p_lowres=1.0, p_blur=0, p_jpeg=0, p_noise=0, max_rotate_deg=0)
    out = low(crop, rng)
    assert out.shape == (45, 45, 3) and out.dtype == np.uint8
    hi_freq = np.abs(np.diff(out.astype(np.float32), axis=1)).mean()
    plain = np.abs(np.diff(resize(crop, 45).astype(np.float32), axis=1)).mean()
    assert hi_freq < 0.4 * plain  # stripes are averaged away (a plain 64->45 resize keeps ~56)


def test_unknown_backbone_is_a_config_error(tmp_path):
    from facemask.training.train import build_model

    with pytest.raises(ConfigError, match="unknown backbone 'nope'"):
        build_model(_config(tmp_path, backbone="nope"))


def test_metrics_summary():
    from facemask.training.metrics import summary

    m = summary(np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1]), ["mask", "no_mask"])
    assert m["accuracy"] == 0.75 and m["recall"] == {"mask": 2 / 3, "no_mask": 1.0}
    assert m["balanced_accuracy"] == pytest.approx(5 / 6)
    assert m["confusion"] == [[2, 1], [0, 1]]


def test_mobilenetv1_imagenet_backbone_matches_the_extractor():
    """The Keras rebuild with dequantized weights computes the mirror's .tflite embedding."""
    import cv2
    import keras
    from ai_edge_litert.interpreter import Interpreter

    from facemask.models import resolve
    from facemask.training.backbones.mobilenetv1_imagenet import EXTRACTOR, build

    inputs = keras.Input((224, 224, 3))
    model = keras.Model(inputs, build(inputs))
    assert not model.trainable_weights  # frozen: only a head on top is trained
    image = cv2.resize(cv2.imread(str(next((MASK_CROPS / "with_mask").glob("*.jpg")))), (224, 224))[:, :, ::-1]
    it = Interpreter(model_path=str(resolve(EXTRACTOR)))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.ascontiguousarray(image)[None])
    it.invoke()
    out = it.get_output_details()[0]
    scale, zero = out["quantization"]
    ref = (it.get_tensor(out["index"]).astype(np.float32).reshape(-1) - zero) * scale
    ours = model.predict(image[None].astype(np.float32), verbose=0).reshape(-1)
    assert np.corrcoef(ref, ours)[0, 1] > 0.99
    assert np.abs(ref - ours).mean() < 0.1 * np.abs(ref).mean()


def test_class_weights_keep_the_mean_loss_scale():
    from facemask.training.train import _class_weights

    counts = np.array([3786.0, 2144.0, 81.0])
    for mode, ratio in (("balanced", 3786 / 81), ("sqrt", np.sqrt(3786 / 81))):
        w = _class_weights(counts, mode)
        assert (w * counts).sum() == pytest.approx(counts.sum())
        assert w[2] / w[0] == pytest.approx(ratio)
    assert list(_class_weights(counts, "none")) == [1, 1, 1]


def test_occluders_keep_the_eyes_or_the_mouth_they_should(prepared):
    """A hand covers the mouth in skin colour and leaves the eyes; a brim shadow darkens the eyes,
    not the mouth; a head in front hides the chin; hands and heads go on unmasked faces only."""
    import cv2

    from facemask.training.augment import Occlusion
    from facemask.training.data import LANDMARKS_FILE
    from facemask.training.synthetic import put_brim_shadow, put_hand, put_head, skin_colour

    _, out = prepared
    stored = json.loads((out / LANDMARKS_FILE).read_text())
    assert stored
    def at(img, p):
        return img[int(round(p[1])), int(round(p[0]))].astype(np.float32)

    mouth_cover, eyes_kept, darker = [], [], []
    for i, (key, pts) in enumerate(stored.items()):
        face = cv2.imread(str(out / key))[:, :, ::-1].copy()
        pts = np.array(pts, np.float32)
        mouth = pts[3:].mean(axis=0)
        x, y = np.round(mouth).astype(int)
        face[y - 1:y + 2, x - 2:x + 3] = (20, 20, 20)  # a dark mouth: covering it must show
        skin = skin_colour(face, pts)
        eyes_before = np.mean([at(face, p).sum() for p in pts[:2]])
        rng = np.random.default_rng(i)
        for _ in range(4):
            hand = put_hand(face, pts, rng)
            mouth_cover.append(np.abs(at(hand, mouth) - skin).sum() < np.abs(at(face, mouth) - skin).sum())
            eyes_kept.append(all(np.abs(at(hand, p) - at(face, p)).sum() < 1 for p in pts[:2]))
            shade = put_brim_shadow(face, pts, rng)
            eyes = np.mean([at(shade, p).sum() for p in pts[:2]])
            darker.append((eyes < 0.9 * eyes_before, abs(at(shade, mouth).sum() - at(face, mouth).sum()) < 0.2 * eyes_before))
    assert np.mean(mouth_cover) > 0.7, mouth_cover  # some hands sit lower, on the chin only
    assert np.mean(eyes_kept) > 0.9, eyes_kept
    assert np.mean([d[0] for d in darker]) > 0.5  # the line is random: the eyes are shaded most times
    assert np.mean([d[0] and d[1] for d in darker]) > 0.3  # ... often with the mouth left lit

    face, pts = cv2.imread(str(out / key))[:, :, ::-1], np.array(pts, np.float32)
    donor = np.full_like(face, 7)  # a black-haired head in front: it covers the chin, not the eyes
    head = put_head(face, pts, donor, np.random.default_rng(0))
    chin = pts[3:].mean(axis=0) + (pts[3:].mean(axis=0) - pts[:2].mean(axis=0)) * 0.6
    assert at(head, chin).sum() < 40 and np.array_equal(at(head, pts[0]), at(face, pts[0]))

    rng = np.random.default_rng(0)
    for occ in (Occlusion(hand=1.0), Occlusion(crowd=1.0, donors=donor[None])):
        assert np.array_equal(occ(face, False, pts, rng), face)  # masked faces keep their mouth
        assert not np.array_equal(occ(face, True, pts, rng), face)
    assert parse_config({"training": {"occlusion": 0.5, "crowd": 0.2, "shadow": 0.3}}).training.crowd == 0.2
    with pytest.raises(ConfigError):
        parse_config({"training": {"occlusion": 1.5}})


def test_occluded_holdout_stress_test_runs_on_the_holdout(prepared):
    from facemask.classifiers.runtime import MaskClassifier
    from facemask.config import ClassifierConfig
    from facemask.training.synthetic import occluded_holdout

    cfg, out = prepared
    result = occluded_holdout(cfg, MaskClassifier(ClassifierConfig(num_threads=1)))
    n_validation = sum(1 for p in (out / "validation").rglob("*.png"))
    assert result["brim shadow"]["n"] == result["brim shadow, 16 px faces"]["n"] == n_validation
    assert 0 < result["hand (no_mask)"]["n"] == result["head in front (no_mask)"]["n"] < n_validation
    assert all(0.0 <= m["accuracy"] <= 1.0 for m in result.values())


def _video_labels(path, rows):
    from facemask.training.video_crops import VideoLabel, write_labels

    write_labels(path, [VideoLabel(*r) for r in rows])
    return path


# omullan_test1 (one masked woman) and wst54_mask: boxes as collect found them
VIDEO_ROWS = [
    ("omullan_test1.avi", 30, (306.8, 209.8, 324.6, 232.8), "mask", ("dark_mask", "blurred"), 1, "P1"),
    ("omullan_test1.avi", 150, (360.5, 291.0, 392.0, 330.2), "mask", ("dark_mask",), 1, "P1"),
    ("wst54_mask.mp4", 10, (472.0, 13.9, 509.8, 70.5), "mask", (), 1, "P1"),
    ("wst54_mask.mp4", 15, (411.7, 8.0, 454.8, 65.7), "mask", (), 1, "P1"),
    ("wst54_mask.mp4", 95, (355.5, 41.7, 382.2, 79.9), "no_mask", (), 3, "P2"),
    ("wst54_mask.mp4", 105, (359.9, 27.3, 393.5, 71.4), "no_mask", (), 3, "P2"),
    ("wst54_mask.mp4", 215, (605.9, 225.5, 620.6, 244.3), "mask", ("blurred",), 5, "P5"),
    ("wst54_mask.mp4", 110, (876.4, 201.5, 912.0, 240.4), "unclear", (), 4, ""),
    ("nowhere.mp4", 3, (1.0, 1.0, 20.0, 20.0), "mask", (), 1, ""),
]


def test_video_labels_are_recut_and_held_out_per_person(prepared, tmp_path):
    from facemask.training import video_crops
    from facemask.training.prepare import prepare

    cfg, _ = prepared
    labels = _video_labels(tmp_path / "labels.csv", VIDEO_ROWS)
    t = cfg.training.model_copy(update={"data_dir": str(tmp_path / "data"), "video_labels": str(labels),
                                        "video_dirs": [str(SHARED / "data" / "video_people")],
                                        "video_holdout_fraction": 0.5})
    out = prepare(cfg.model_copy(update={"training": t}), log=lambda *_: None)
    report = json.loads((out / "prepare_report.json").read_text())["video"]
    assert report["clips_missing"] == ["nowhere.mp4"] and report["not_trained"] == {"unclear": 1}
    split_of: dict[str, set] = {}
    for path in out.rglob("vid_*.png"):
        split_of.setdefault(path.stem, set()).add(path.parts[-3])
    rows = [r for r in video_crops.read_labels(labels) if r.label in video_crops.TRAINED and r.video != "nowhere.mp4"]
    assert sorted(split_of) == sorted(r.name for r in rows)  # the unclear crop is not written
    people: dict[str, set] = {}
    for r in rows:
        assert len(split_of[r.name]) == 1
        people.setdefault(r.person_key, set()).update(split_of[r.name])
    assert all(len(s) == 1 for s in people.values()) and len(people) == 4  # a person is in one split
    assert {s for v in people.values() for s in v} == {"train", "validation"}
    import cv2

    img = cv2.imread(str(next(out.rglob("vid_*.png"))))
    assert img.shape == (t.store_size, t.store_size, 3)


def test_video_report_counts_each_group(tmp_path):
    from facemask.classifiers.runtime import MaskClassifier
    from facemask.config import ClassifierConfig
    from facemask.training.evaluate import video_report

    labels = _video_labels(tmp_path / "labels.csv", VIDEO_ROWS[:-1])
    cfg = parse_config({"training": {"video_labels": str(labels), "video_holdout_fraction": 0.5,
                                     "video_dirs": [str(SHARED / "data" / "video_people")]}})
    result = video_report(cfg, MaskClassifier(ClassifierConfig(num_threads=1)))
    both = {k: result["holdout"].get(k, {"n": 0})["n"] + result["train"].get(k, {"n": 0})["n"]
            for k in ("all", "label:mask", "label:no_mask", "label:unclear", "dark_mask", "blurred:mask")}
    assert both == {"all": 7, "label:mask": 5, "label:no_mask": 2, "label:unclear": 1, "dark_mask": 2, "blurred:mask": 2}
    assert all(0.0 <= g["accuracy"] <= 1.0 for part in ("holdout", "train") for g in result[part].values())


def test_video_labels_file_is_checked(tmp_path):
    from facemask.training.video_crops import HEADER, read_labels

    bad = tmp_path / "bad.csv"
    bad.write_text(",".join(HEADER) + "\nv.mp4,1,0,0,10,10,masked,,1,,\n")
    with pytest.raises(InputError, match="masked"):
        read_labels(bad)
    bad.write_text(",".join(HEADER) + "\nv.mp4,1,0,0,10,10,mask,sunglasses,1,,\n")
    with pytest.raises(InputError, match="sunglasses"):
        read_labels(bad)
    rows = read_labels("facemask/training/video_labels.csv")  # the committed labels parse
    assert rows and all(r.box[2] > r.box[0] and r.box[3] > r.box[1] for r in rows)


def test_video_crops_are_drawn_video_repeat_times():
    from pathlib import Path

    from facemask.training.data import Split
    from facemask.training.train import _Batches

    names = ["voc_a_0.png", "vid_c_t1_f3.png", "mc_b.png", "vid_c_t2_f9.png"]
    split = Split(np.zeros((4, 64, 64, 3), np.uint8), np.array([0, 1, 0, 1], np.int32),
                  [Path("train/x") / n for n in names], ["mask", "no_mask"])
    cfg = parse_config({"training": {"video_repeat": 4}})
    batches = _Batches(cfg, split, np.random.default_rng(0))
    assert sorted(np.bincount(batches.order).tolist()) == [1, 1, 4, 4]
    assert batches.class_weights[0] > batches.class_weights[1]  # 2 mask vs 8 no_mask draws
