"""Shared fixtures: real data from ../shared (never copied into the repo)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MODELS = SHARED / "models"
VIDEOS = SHARED / "videos"
KAGGLE = SHARED / "data" / "kaggle853"

# Tests run offline against the local model mirror unless the caller chose another.
os.environ.setdefault("FACEMASK_MODELS_DIR", str(MODELS))

if not SHARED.is_dir():  # pragma: no cover - a checkout without the data beside it
    raise pytest.UsageError(f"the shared data folder is missing: expected it at {SHARED}")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running check, skipped unless -m slow")
    config.addinivalue_line("markers", "heavy: runs for many seconds of CPU (training, whole videos, a browser, "
                                       "an install); in make test, deselect with -m 'not heavy' for a quick run")
    config.addinivalue_line("markers", "install: builds and installs the package into a fresh venv (needs PyPI or a pip cache)")


# Tests that run for many seconds of CPU (whole videos, training, a browser, an install): marked
# here, in one place, so `pytest -m "not heavy"` is a quick run and the list is easy to review.
HEAVY = (
    "test_video_people.py::",
    "test_training.py::test_tiny_training_run_exports_models_that_agree",
    "test_export_extra.py::",
    "test_collect.py::",
    "test_web.py::",
    "test_web_processes.py::",
    "test_install.py::",
    "test_cli.py::test_video_is_annotated_with_jsonl",
    "test_no_tensorflow.py::",
    "test_local_search.py::test_frames_between_full_detections",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        nodeid = item.nodeid.split("/")[-1]
        if any(nodeid.startswith(h) for h in HEAVY):
            item.add_marker(pytest.mark.heavy)


@pytest.fixture(scope="session")
def x86_config():
    from facemask.config import load_config

    return load_config(REPO / "configs" / "config-x86.json")


FOUR_PEOPLE = VIDEOS / "mask_putting_on_4people_diazoniclabs.mp4"


@pytest.fixture(scope="session")
def four_people_batch(tmp_path_factory):
    """The 4-people clip through the video command a user runs, with the product config, once
    for the session: the people tests read its outputs and the web app's live run is compared
    with its counts. Returns the finished process and the output video's path."""
    out = tmp_path_factory.mktemp("four") / "four.mp4"
    proc = run_script("inference_video.py", "--config", "configs/config-x86.json", "--input_video_path", FOUR_PEOPLE,
                      "--output_video", out, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return proc, out


def clip_from(video: Path, start: int, out: Path) -> Path:
    """``video`` from frame ``start`` to its end, written to ``out`` (MJPG .avi, the same fps)."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    ok, image = cap.read()
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps, (image.shape[1], image.shape[0]))
    while ok:
        writer.write(image)
        ok, image = cap.read()
    writer.release()
    cap.release()
    return out


def run_script(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run one of the top-level scripts as a user would, from the repo root."""
    return subprocess.run(
        [sys.executable, str(REPO / script), *map(str, args)],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, env={**os.environ},
    )
