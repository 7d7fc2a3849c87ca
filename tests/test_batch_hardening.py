"""The batch commands on bad input: one line, exit code, and nothing of the user's lost.

Each case runs the real command on real files from ../shared and checks the exit code, the
message and which files are left.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import zlib

import cv2
import pytest

from tests.conftest import KAGGLE, REPO, VIDEOS, run_script

FOUR = VIDEOS / "mask_putting_on_4people_diazoniclabs.mp4"
IMAGES = ["maksssksksss1.jpg", "maksssksksss105.jpg"]


def _errors(proc):
    return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


def _warnings(proc):
    return [line for line in proc.stderr.splitlines() if line.startswith("warning:")]


def _partials(folder):
    return sorted(p.name for p in folder.rglob("*") if ".partial" in p.name)


def _copy_images(folder, names=IMAGES):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(KAGGLE / "images" / name, folder / name)


def _video(*args, timeout=300):
    return run_script("inference_video.py", "--no-progress", *args, timeout=timeout)


def _images(*args, timeout=300):
    return run_script("inference_images.py", "--no-progress", *args, timeout=timeout)


# ---------------------------------------------------------------- outputs that would destroy inputs


def test_output_video_equal_to_input_is_refused_and_the_input_kept(tmp_path):
    src = tmp_path / "in.mp4"
    shutil.copy(FOUR, src)
    before = src.read_bytes()
    proc = _video("--input_video_path", src, "--output_video", src)
    assert proc.returncode == 2 and len(_errors(proc)) == 1 and "is the input video" in _errors(proc)[0], proc.stderr
    assert src.read_bytes() == before
    # The same file under another name (a symlink) is the same input.
    link = tmp_path / "link.mp4"
    link.symlink_to(src)
    proc = _video("--input_video_path", src, "--output_video", link)
    assert proc.returncode == 2 and src.read_bytes() == before


def test_output_image_dir_equal_to_input_is_refused(tmp_path):
    src = tmp_path / "in"
    _copy_images(src)
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    proc = _images("--input_image_dir", src, "--output_image_dir", tmp_path / "in" / ".." / "in")
    assert proc.returncode == 2 and "is the input folder" in _errors(proc)[0], proc.stderr
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before


# ---------------------------------------------------------------- outputs checked before the work


def test_output_video_that_is_a_folder_fails_before_processing(tmp_path):
    out = tmp_path / "out.mp4"
    out.mkdir()
    proc = _video("--input_video_path", FOUR, "--output_video", out)
    assert proc.returncode == 2 and "existing folder" in _errors(proc)[0], proc.stderr
    assert "frames" not in proc.stdout  # no summary: nothing was processed
    assert list(out.iterdir()) == [] and not _partials(tmp_path)


def test_output_under_a_file_is_one_line_not_a_codec_error(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    proc = _video("--input_video_path", FOUR, "--output_video", blocker / "out.mp4")
    assert proc.returncode == 2 and len(_errors(proc)) == 1, proc.stderr
    assert "codec" not in _errors(proc)[0] and "cannot create the folder" in _errors(proc)[0]
    proc = _images("--input_image_dir", KAGGLE / "images", "--output_image_dir", blocker / "out")
    assert proc.returncode == 2 and len(_errors(proc)) == 1 and "Traceback" not in proc.stderr, proc.stderr


def test_unwritable_jsonl_leaves_no_partial_video(tmp_path):
    bad = tmp_path / "taken"
    bad.mkdir()
    proc = _video("--input_video_path", FOUR, "--output_video", tmp_path / "out.mp4", "--jsonl", bad)
    assert proc.returncode == 2 and "existing folder" in _errors(proc)[0], proc.stderr
    assert not _partials(tmp_path) and not (tmp_path / "out.mp4").exists()


# ---------------------------------------------------------------- images: one image's failure


def test_unreadable_image_is_one_warning_and_the_rest_processed(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    _copy_images(src)
    secret = src / "secret.jpg"
    if os.geteuid() != 0:
        shutil.copy(KAGGLE / "images" / "maksssksksss121.jpg", secret)
        secret.chmod(0o000)  # permission denied
    else:  # root reads any file: a file whose read fails (EIO) stands in for it
        secret.symlink_to("/proc/self/mem")
    proc = _images("--input_image_dir", src, "--output_image_dir", out)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    warnings = _warnings(proc)
    assert len(warnings) == 1 and "secret.jpg" in warnings[0] and "cannot read" in warnings[0], proc.stderr
    assert any(line.split() == ["failed:", "1"] for line in proc.stdout.splitlines()), proc.stdout
    assert len((out / "results.jsonl").read_text().splitlines()) == len(IMAGES)


def test_symlinks_and_sub_folders_are_warned_about_or_searched(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    _copy_images(src, IMAGES[:1])
    (src / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (src / "loop.jpg").symlink_to(src / "loop.jpg")
    _copy_images(src / "more", IMAGES[1:])
    proc = _images("--input_image_dir", src, "--output_image_dir", out)
    assert proc.returncode == 0, proc.stderr
    text = "\n".join(_warnings(proc))
    assert "dangling.jpg" in text and "loop.jpg" in text and "sub-folder" in text and "--recursive" in text
    assert len((out / "results.jsonl").read_text().splitlines()) == 1
    proc = _images("--input_image_dir", src, "--output_image_dir", tmp_path / "out2", "--recursive")
    assert proc.returncode == 0, proc.stderr
    names = [line.split('"image":"')[1].split('"')[0] for line in (tmp_path / "out2" / "results.jsonl").read_text().splitlines()]
    assert names == [IMAGES[0], f"more/{IMAGES[1]}"]
    assert (tmp_path / "out2" / "more" / IMAGES[1]).is_file()


def _png_claiming(width: int, height: int) -> bytes:
    """A small real PNG whose header claims another size (what a decompression bomb looks like
    before it is decoded)."""
    ok, buf = cv2.imencode(".png", cv2.imread(str(KAGGLE / "images" / IMAGES[0])))
    assert ok
    data = bytearray(buf.tobytes())
    data[16:20], data[20:24] = width.to_bytes(4, "big"), height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def test_huge_image_is_refused_by_the_pixel_limit(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    _copy_images(src, IMAGES[:1])
    (src / "bomb.png").write_bytes(_png_claiming(30000, 20000))
    proc = _images("--input_image_dir", src, "--output_image_dir", out)
    assert proc.returncode == 0, proc.stderr
    warnings = _warnings(proc)
    assert len(warnings) == 1 and "bomb.png" in warnings[0] and "30000x20000" in warnings[0], proc.stderr
    proc = _images("--input_image_dir", src, "--output_image_dir", tmp_path / "out2", "--set", "input.max_pixels=10000")
    assert len(_warnings(proc)) == 2  # the real photo is over this limit too


# ---------------------------------------------------------------- videos: truncated, interrupted


def test_truncated_video_reports_frames_expected_and_read(tmp_path):
    data = FOUR.read_bytes()
    src = tmp_path / "half.mp4"
    src.write_bytes(data[: len(data) // 2])
    # a light detector setting: this is about the frames counted, not about the faces found
    proc = _video("--input_video_path", src, "--output_video", tmp_path / "out.mp4",
                  "--set", "detector.upscale=1.0", "--set", "detector.max_side=640")
    assert proc.returncode == 0, proc.stderr  # what could be read is processed and written
    warnings = [w for w in _warnings(proc) if "truncated" in w]
    assert len(warnings) == 1 and " of 414 frames" in warnings[0], proc.stderr
    assert "frames_expected" in proc.stdout


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_video_leaves_no_partial_file(tmp_path, signum):
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen([sys.executable, str(REPO / "inference_video.py"), "--input_video_path", str(FOUR),
                             "--output_video", str(out)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _partials(tmp_path):  # the run has started writing
        time.sleep(0.1)
    assert _partials(tmp_path), "the run never started"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == (143 if signum == signal.SIGTERM else 130), err
    assert "interrupted" in err and "Traceback" not in err
    assert not _partials(tmp_path) and not out.exists()


def test_output_folder_inside_the_input_is_neither_warned_about_nor_read(tmp_path):
    src = tmp_path / "in"
    _copy_images(src, IMAGES[:1])
    for _ in range(2):  # the second run finds the first run's outputs inside the input folder
        proc = _images("--input_image_dir", src, "--output_image_dir", src / "out", "--recursive")
        assert proc.returncode == 0 and not _warnings(proc), proc.stderr
        assert len((src / "out" / "results.jsonl").read_text().splitlines()) == 1
