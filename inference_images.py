#!/usr/bin/env python3
"""Thin wrapper: see `python inference_images.py --help`."""

import sys

from facemask.cli import main_images

if __name__ == "__main__":
    sys.exit(main_images())
