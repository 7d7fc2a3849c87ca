"""Train / export the mask classifier: ``python model_main.py --config configs/config-x86.json [--export]``."""

import sys

from facemask.training.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
