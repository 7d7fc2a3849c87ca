"""Inference never imports TensorFlow: only training and export may."""

import subprocess
import sys

from tests.conftest import REPO, VIDEOS

CODE = f"""
import sys, cv2
from facemask.config import load_config
from facemask.video import VideoSession
import facemask.web.app, facemask.cli, facemask.evaluation.cli, facemask.detectors as d
d.available()  # imports every detector backend
cfg = load_config("configs/config-x86.json")
cap = cv2.VideoCapture({str(VIDEOS / "vtest_480x360.avi")!r})
session = VideoSession(cfg, 25.0)
for i in range(3):
    ok, frame = cap.read()
    session.draw(frame, session.process(frame, i))
assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "TensorFlow was imported"
print("ok")
"""


def test_inference_does_not_import_tensorflow():
    proc = subprocess.run([sys.executable, "-c", CODE], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-2000:]
