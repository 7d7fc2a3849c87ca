"""The batch commands as a user runs them: real images, real videos, every bad-input case."""

import json
import os

import cv2
import pytest

from tests.conftest import KAGGLE, VIDEOS, run_script

VAL_IMAGES = ["maksssksksss1.jpg", "maksssksksss105.jpg", "maksssksksss121.jpg"]


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if ".partial" in p.name]


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    src = tmp_path_factory.mktemp("in")
    for name in VAL_IMAGES:
        os.symlink(KAGGLE / "images" / name, src / name)
    (src / "notes.txt").write_text("not an image")
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    out = tmp_path_factory.mktemp("out")
    proc = run_script("inference_images.py", "--config", "configs/config-x86.json",
                      "--input_image_dir", src, "--output_image_dir", out, "--no-progress")
    return proc, out


def test_images_are_annotated_with_same_names(image_run):
    proc, out = image_run
    assert proc.returncode == 0, proc.stderr
    for name in VAL_IMAGES:
        annotated = cv2.imread(str(out / name))
        assert annotated is not None and annotated.shape == cv2.imread(str(KAGGLE / "images" / name)).shape
    assert not _leftovers(out)


def test_images_jsonl_has_faces_in_original_pixels(image_run):
    _, out = image_run
    rows = _jsonl(out / "results.jsonl")
    assert [r["image"] for r in rows] == sorted(VAL_IMAGES)
    assert sum(len(r["faces"]) for r in rows) >= 10
    for row in rows:
        assert row["time_ms"] > 0
        for face in row["faces"]:
            x1, y1, x2, y2 = face["box"]
            assert 0 <= x1 < x2 <= row["width"] and 0 <= y1 < y2 <= row["height"]
            # photos: every face labelled, with its confidence (doubtful ones marked, not unknown)
            assert face["label"] in ("mask", "no_mask", "mask_incorrect")
            assert 0.0 <= face["mask_prob"] <= 1.0 and 0.5 <= face["confidence"] <= 1.0
            assert face.get("low_confidence") in (None, "too_small", "at_edge", "low_score", "not_frontal", "uncertain")


def test_bad_images_are_one_warning_each_and_counted(image_run):
    proc, _ = image_run
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2 and any("notes.txt" in w for w in warnings) and any("broken.jpg" in w for w in warnings)
    assert "failed: 2" in proc.stdout and "images: 3" in proc.stdout


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_video_is_annotated_with_jsonl(tmp_path, suffix):
    out = tmp_path / f"vtest{suffix}"
    proc = run_script("inference_video.py", "--config", "configs/config-x86.json", "--input_video_path",
                      VIDEOS / "vtest_480x360.avi", "--output_video", out, "--max-frames", "12", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    cap = cv2.VideoCapture(str(out))
    frames = 0
    while cap.read()[0]:
        frames += 1
    assert frames == 12 and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 480
    rows = _jsonl(out.with_suffix(".jsonl"))
    assert [r["frame"] for r in rows] == list(range(12))
    assert all(r["width"] == 480 and r["height"] == 360 for r in rows)
    assert "frames: 12" in proc.stdout and "fps:" in proc.stdout
    assert not _leftovers(tmp_path)


@pytest.mark.parametrize("case", ["missing", "empty", "corrupt", "folder"])
def test_bad_video_exits_2_and_leaves_nothing(tmp_path, case):
    src = tmp_path / "in.mp4"
    if case == "empty":
        src.write_bytes(b"")
    elif case == "corrupt":
        src.write_bytes(os.urandom(4096))
    elif case == "folder":
        src.mkdir()
    out_dir = tmp_path / "out"
    proc = run_script("inference_video.py", "--input_video_path", src, "--output_video", out_dir / "o.mp4")
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "in.mp4" in errors[0]
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_bad_config_and_missing_model_are_one_line(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"detector": {"type": "yunet", "tiles": [2]}}))
    proc = run_script("inference_images.py", "--config", cfg, "--input_image_dir", tmp_path, "--output_image_dir", tmp_path / "o")
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "detector.tiles" in proc.stderr
    proc = run_script("inference_images.py", "--set", "classifier.model=nowhere/none.tflite",
                      "--input_image_dir", tmp_path, "--output_image_dir", tmp_path / "o")
    assert proc.returncode == 2 and "model file not found: nowhere/none.tflite" in proc.stderr
