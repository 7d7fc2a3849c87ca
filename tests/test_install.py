"""The package as a user installs it: a wheel built from this checkout into a fresh virtual
environment, the base install only. It runs `facemask video` from a folder that has no configs/
and never had TensorFlow (or the other heavy extras) installed.

Needs PyPI (or a pip cache / wheelhouse pip is configured with); deselect with -m "not install".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import MODELS, REPO, VIDEOS

pytestmark = [pytest.mark.install, pytest.mark.heavy]

NOT_IN_BASE = ("tensorflow", "tensorflow-cpu", "keras", "pycocotools", "onnxruntime", "flask", "tf2onnx", "onnx")


def _run(cmd, timeout, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    assert proc.returncode == 0, f"{cmd[:3]} exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", venv], 120)
    pip = venv / "bin" / "pip"
    # build isolation fetches the build backend pinned in pyproject.toml; --no-compile: byte-
    # compiling every installed module (scipy, matplotlib...) is a third of the install's time
    _run([pip, "install", "-q", "--no-compile", "-c", REPO / "constraints.txt", REPO], 1200, cwd=root)
    return venv


def test_base_install_has_no_heavy_extras_and_pip_check_is_clean(base_venv):
    _run([base_venv / "bin" / "pip", "check"], 120)
    listed = _run([base_venv / "bin" / "pip", "list", "--format", "json"], 120).stdout
    names = {p["name"].lower().replace("_", "-") for p in json.loads(listed)}
    assert "facemask" in names and "ai-edge-litert" in names and "opencv-python-headless" in names
    present = sorted(names & set(NOT_IN_BASE))
    assert not present, f"the base install pulled in {present}"


def test_facemask_video_runs_from_any_folder_without_tensorflow(base_venv, tmp_path):
    work = tmp_path / "elsewhere"  # no configs/ here: the packaged default config is used
    work.mkdir()
    env = {**os.environ, "FACEMASK_MODELS_DIR": str(MODELS), "PYTHONPATH": ""}
    out = work / "out.mp4"
    _run([base_venv / "bin" / "facemask", "video", "--input_video_path", VIDEOS / "vtest_480x360.avi",
                 "--output_video", out, "--max-frames", "20", "--no-progress"], 600, cwd=work, env=env)
    assert out.stat().st_size > 0 and (work / "out.jsonl").is_file()
    frames = [json.loads(line) for line in (work / "out.jsonl").read_text().splitlines()]
    assert len(frames) == 20 and frames[0]["width"] == 480
    probe = _run([base_venv / "bin" / "python", "-c",
                  "import importlib.util as u, facemask, sys; "
                  "print(facemask.__file__); print([m for m in ('tensorflow', 'keras', 'pycocotools') if u.find_spec(m)])"],
                 120, cwd=work, env=env).stdout.splitlines()
    assert str(REPO) not in probe[0], "the installed package, not this checkout, must run"
    assert probe[1] == "[]"
    # matplotlib is installed (norfair -> filterpy requires it) but inference must not import it
    loaded = _run([base_venv / "bin" / "python", "-c",
                   "import sys, facemask.pipeline, facemask.tracking, facemask.video; "
                   "print(sorted(m for m in ('matplotlib', 'tensorflow', 'onnxruntime') if m in sys.modules))"],
                  120, cwd=work, env=env).stdout.strip()
    assert loaded == "[]", loaded


def test_missing_extra_is_one_line(base_venv, tmp_path):
    env = {**os.environ, "FACEMASK_MODELS_DIR": str(MODELS), "PYTHONPATH": ""}
    (tmp_path / "in").mkdir()
    proc = subprocess.run([str(base_venv / "bin" / "facemask"), "images", "--input_image_dir", str(tmp_path / "in"),
                           "--output_image_dir", str(tmp_path / "out"), "--set", "classifier.model=ofm_classifier_onnx"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "facemask[onnx]" in lines[0], proc.stderr[-2000:]
