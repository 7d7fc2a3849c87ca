#!/usr/bin/env python3
"""Build the classifier's TensorRT engine from its ONNX export (see facemask/training/tensorrt_build.py).

    python scripts/build_trt_engine.py --onnx facemask/weights/ofm_classifier.onnx --out engines/ofm_classifier.engine
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facemask.training.tensorrt_build import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
