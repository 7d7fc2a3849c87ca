"""Evaluation metrics on hand-made cases with known answers, and the dataset / prediction readers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from facemask.errors import InputError
from facemask.evaluation.coco import coco_ap
from facemask.evaluation.data import join_predictions, load_csv, load_dataset, load_predictions
from facemask.evaluation.metrics import (ImageEval, average_precision, binary_classification, box_iou,
                                         detection_metrics, detection_report, match_all, match_image,
                                         pipeline_rates, roc_auc, roc_curve)

KAGGLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kaggle853"

A = [10, 10, 30, 30]  # 20 px face
B = [100, 100, 200, 200]  # 100 px face
C = [300, 50, 310, 60]  # 10 px face


def image(gt, pred, scores=None, name="a.jpg", gt_labels=None, pred_labels=None, mask_prob=None) -> ImageEval:
    return ImageEval(name, np.array(gt, float).reshape(-1, 4), gt_labels or ["mask"] * len(gt),
                     np.array(pred, float).reshape(-1, 4),
                     np.array(scores if scores is not None else [0.9] * len(pred), float),
                     pred_labels or [], None if mask_prob is None else np.array(mask_prob, float))


def det(images, **kw):
    match_all(images, kw.pop("iou", 0.5))
    return detection_metrics(images, **kw)


def test_box_iou_known_values():
    others = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]])
    iou = box_iou(np.array([[0, 0, 10, 10]]), others)
    np.testing.assert_allclose(iou[0], [1.0, 50 / 150, 0.0, 0.0])


def test_perfect_predictions():
    r = det([image([A, B], [A, B]), image([C], [C], name="b.jpg")])
    assert (r.tp, r.n_gt, r.recall, r.precision, r.ap) == (3, 3, 1.0, 1.0, 1.0)


def test_empty_predictions_and_empty_ground_truth():
    r = det([image([A, B], [])])
    assert r.recall == 0.0 and math.isnan(r.precision) and r.ap == 0.0
    r = det([image([], [A])])
    assert r.n_gt == 0 and r.precision == 0.0 and math.isnan(r.recall)


def test_duplicate_is_a_false_positive_and_the_best_score_takes_the_face():
    shifted = [11, 11, 31, 31]  # IoU with A ~0.82: would match on its own
    im = image([A], [shifted, A], scores=[0.95, 0.6])
    r = det([im])
    assert (r.tp, r.n_pred, r.recall, r.precision) == (1, 2, 1.0, 0.5)
    assert list(im.match) == [0, -1]  # the higher score matched, the duplicate did not
    assert r.ap == 1.0  # the true positive ranks first


def test_misses_and_average_precision_by_hand():
    # ranked: TP (0.9), FP (0.8), TP (0.7); 3 faces -> PR points (1/3, 1), (1/3, 1/2), (2/3, 2/3)
    far = [500, 500, 520, 520]
    r = det([image([A, B, C], [A, far, B], scores=[0.9, 0.8, 0.7])])
    assert (r.tp, r.recall) == (2, pytest.approx(2 / 3))
    assert r.ap == pytest.approx(1 / 3 * 1.0 + 1 / 3 * 2 / 3)
    assert average_precision(np.array([0.5, 1.0]), np.array([1.0, 1.0])) == 1.0


def test_box_on_a_face_of_another_image_is_ignored():
    # b.jpg has no face; its box sits exactly where a.jpg's face is and must not match it.
    r = det([image([A], [], name="a.jpg"), image([], [A], name="b.jpg")])
    assert (r.tp, r.recall, r.precision) == (0, 0.0, 0.0)


def test_iou_threshold_decides():
    half = [20, 10, 40, 30]  # IoU 1/3 with A
    assert det([image([A], [half])], iou=0.5).tp == 0
    assert det([image([A], [half])], iou=0.3).tp == 1


def test_size_bins_follow_coco_rules():
    big_fp = [400, 400, 480, 480]  # unmatched 80 px box: a false positive of the >=64 bin only
    images = [image([A, B, C], [A, big_fp], scores=[0.9, 0.8])]
    match_all(images)
    rep = detection_report(images)
    assert rep["16-32"] == {"n_gt": 1, "n_pred": 1, "tp": 1, "recall": 1.0, "precision": 1.0, "ap50": 1.0}
    assert rep["<16"]["n_gt"] == 1 and rep["<16"]["recall"] == 0.0 and rep["<16"]["n_pred"] == 0
    assert rep[">=64"]["n_gt"] == 1 and rep[">=64"]["tp"] == 0 and rep[">=64"]["n_pred"] == 1
    assert rep["<32"]["n_gt"] == 2 and rep["<32"]["recall"] == 0.5
    assert rep["all"]["n_pred"] == 2 and rep["all"]["precision"] == 0.5


def test_score_threshold_cuts_recall_and_precision():
    r = det([image([A, B], [A, B], scores=[0.9, 0.3])], score_threshold=0.5)
    assert (r.tp, r.n_pred, r.recall) == (1, 1, 0.5)


def test_greedy_matching_takes_the_best_overlap_left():
    # two faces side by side; one box overlaps both, the better-scored exact box takes its own face first
    f1, f2 = [0, 0, 10, 10], [8, 0, 18, 10]
    m = match_image(np.array([[1, 0, 11, 10], f2]), np.array([0.5, 0.9]), np.array([f1, f2]), 0.5)
    assert list(m) == [0, 1]


def test_roc_auc_and_curve():
    assert roc_auc(np.array([1, 1, 0, 0]), np.array([0.9, 0.8, 0.3, 0.1])) == 1.0
    assert roc_auc(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.3, 0.1])) == 0.75
    assert roc_auc(np.array([1, 0]), np.array([0.5, 0.5])) == 0.5  # ties count half
    assert math.isnan(roc_auc(np.array([1, 1]), np.array([0.2, 0.3])))
    fpr, tpr = roc_curve(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.3, 0.1]))
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1.0, 1.0])


def test_binary_classification_skips_other_labels_and_unclassified():
    r = binary_classification(["mask", "mask", "no_mask", "mask_incorrect", "no_mask"],
                              np.array([0.9, 0.4, 0.2, 0.9, np.nan]))
    assert (r["n"], r["n_mask"], r["n_no_mask"]) == (3, 2, 1)
    assert r["accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert (r["mask_recall"], r["no_mask_recall"], r["roc_auc"]) == (0.5, 1.0, 1.0)


def test_pipeline_rates():
    far = [500, 500, 520, 520]
    im = image([A, B, C], [A, B, far], gt_labels=["no_mask", "mask", "no_mask"],
               pred_labels=["no_mask", "no_mask", "mask"], mask_prob=[0.1, 0.3, 0.9])
    match_all([im])
    r = pipeline_rates([im])
    assert r["unmasked_found_rate"] == 0.5  # A found and called unmasked; C missed
    assert r["masked_called_unmasked_rate"] == 1.0  # B found and called unmasked
    assert r["estimated_pct_masked"] == pytest.approx(100 / 3, abs=1e-3)  # the false positive counts too
    assert r["true_pct_masked"] == pytest.approx(100 / 3, abs=1e-3)


def test_coco_ap_perfect_and_shifted():
    perfect = coco_ap([image([A, B], [A, B])])
    assert perfect["all"]["ap"] == 1.0 and perfect[">=64"]["ap"] == 1.0 and math.isnan(perfect["32-64"]["ap"])
    # a box 5 px off on a 100 px face: IoU 0.905, so it counts at IoU 0.5..0.9 but not at 0.95
    shifted = coco_ap([image([B], [[105, 100, 205, 200]])])
    assert shifted["all"]["ap50"] == 1.0 and shifted["all"]["ap"] == pytest.approx(0.9, abs=1e-3)
    assert coco_ap([image([A], [])])["all"]["ap"] == 0.0


# ---------------------------------------------------------------- readers

def test_csv_boxes(tmp_path: Path):
    csv = tmp_path / "boxes.csv"
    csv.write_text("image,class,x,y,w,h\nimg1.jpg,with_mask,10,20,30,40\nimg1.jpg,no_mask,0,0,5,5\nimg2.jpg,,,,,\n")
    items = {a.name: a for a in load_dataset(csv)}
    assert set(items) == {"img1.jpg", "img2.jpg"}
    np.testing.assert_allclose(items["img1.jpg"].boxes, [[10, 20, 40, 60], [0, 0, 5, 5]])
    assert items["img1.jpg"].labels == ["mask", "no_mask"]  # VOC class names become canonical labels
    assert items["img2.jpg"].boxes.shape == (0, 4) and items["img1.jpg"].image_path == tmp_path / "img1.jpg"


@pytest.mark.parametrize("text, message", [
    ("file,label\n", "header"),
    ("image,class,x,y,w,h\na.jpg,mask,1,2,3\n", "boxes.csv:2: expected 6 columns"),
    ("image,class,x,y,w,h\na.jpg,mask,1,2,three,4\n", "boxes.csv:2: x, y, w, h must be numbers"),
    ("image,class,x,y,w,h\na.jpg,mask,1,2,0,4\n", "boxes.csv:2: box width and height must be positive"),
])
def test_csv_bad_input_is_one_clear_line(tmp_path: Path, text: str, message: str):
    csv = tmp_path / "boxes.csv"
    csv.write_text(text)
    with pytest.raises(InputError, match=message):
        load_csv(csv)


def test_voc_split():
    val = load_dataset(KAGGLE, "val")
    assert len(val) == 171 and sum(len(a.boxes) for a in val) == 768
    assert {lab for a in val for lab in a.labels} == {"mask", "no_mask", "mask_incorrect"}
    assert all(a.image_path.is_file() for a in val[:5])
    with pytest.raises(InputError, match="no split 'nope'"):
        load_dataset(KAGGLE, "nope")


def test_predictions_jsonl(tmp_path: Path):
    path = tmp_path / "pred.jsonl"
    records = [{"image": "a.jpg", "width": 50, "height": 50,
                "faces": [{"box": A, "score": 0.8, "label": "no_mask", "mask_prob": 0.1}]},
               {"image": "other.jpg", "width": 50, "height": 50, "faces": [{"box": A, "score": 0.9}]}]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    csv = tmp_path / "gt.csv"
    csv.write_text("image,class,x,y,w,h\na.jpg,without_mask,10,10,20,20\nb.jpg,with_mask,1,1,20,20\n")
    images, unknown = join_predictions(load_dataset(csv), load_predictions(path))
    assert unknown == ["other.jpg"]  # its box matches a.jpg's face, but it belongs to another image
    match_all(images)
    assert detection_metrics(images).tp == 1 and detection_metrics(images).recall == 0.5
    assert images[0].pred_labels == ["no_mask"] and images[0].pred_mask_prob[0] == 0.1
    path.write_text('{"image": "a.jpg", "faces": [{"box": [1, 2, 3]}]}\n')
    with pytest.raises(InputError, match="pred.jsonl:1"):
        load_predictions(path)


# ---------------------------------------------------------------- commands

def run_eval(*argv: str) -> int:
    from facemask.evaluation.cli import main

    return main(list(argv))


def test_eval_scores_a_predictions_file(tmp_path: Path, capsys):
    """Predictions equal to the ground truth of 10 val images, classifier outputs right: every
    metric at its best, and the report files written."""
    val = load_dataset(KAGGLE, "val")[:10]
    lines = []
    for a in val:
        faces = [{"box": b.tolist(), "score": 0.9, "label": lab, "mask_prob": 0.9 if lab == "mask" else 0.1}
                 for b, lab in zip(a.boxes, a.labels)]
        lines.append(json.dumps({"image": a.name, "width": a.width, "height": a.height, "faces": faces}))
    pred = tmp_path / "pred.jsonl"
    pred.write_text("\n".join(lines) + "\n")
    out = tmp_path / "eval"
    assert run_eval(str(KAGGLE), "--split", "val", "--limit", "10", "--predictions", str(pred), "--out", str(out)) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert report["detection"]["all"]["recall"] == 1.0 and report["detection"]["all"]["precision"] == 1.0
    assert report["coco"]["all"]["ap"] == 1.0
    assert report["classification_matched"]["accuracy"] == 1.0
    p = report["pipeline"]
    assert p["unmasked_found_rate"] == 1.0 and p["masked_called_unmasked_rate"] == 0.0
    assert p["estimated_pct_masked"] == p["true_pct_masked"]
    assert (out / "pr_curve.png").stat().st_size > 0 and (out / "roc_curve.png").stat().st_size > 0
    assert "recall" in capsys.readouterr().out


def test_eval_runs_the_pipeline(tmp_path: Path):
    out = tmp_path / "eval"
    argv = [str(KAGGLE), "--split", "val", "--limit", "3", "--out", str(out), "--no-plots", "--no-progress"]
    assert run_eval(*argv) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert report["images"] == 3 and report["detection"]["all"]["n_gt"] > 0
    assert report["detection"]["all"]["tp"] > 0
    records = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [r["image"] for r in records] == [a.name for a in load_dataset(KAGGLE, "val")[:3]]


def test_eval_bad_input_is_one_line(tmp_path: Path, capsys):
    assert run_eval(str(tmp_path / "missing.csv"), "--out", str(tmp_path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.csv" in err[0]


def test_bench_times_every_stage(tmp_path: Path):
    from facemask.evaluation.bench import main

    video = KAGGLE.parents[1] / "videos" / "vtest_480x360.avi"
    out = tmp_path / "bench.json"
    argv = ["--video", str(video), "--max-frames", "3", "--warmup", "1", "--json", str(out),
            "--set", "tracker.detect_every=1"]  # every timed frame runs every stage
    assert main(argv) == 0
    r = json.loads(out.read_text())
    assert {"decode", "detect", "classify", "track", "draw", "encode"} <= set(r["sequential"]["stages"])
    assert r["sequential"]["frames"] == 3 and r["pipelined"]["frames"] == 3 and r["peak_rss_mb"] > 0
