#!/usr/bin/env python3
"""Thin wrapper: see `python inference_video.py --help`."""

import sys

from facemask.cli import main_video

if __name__ == "__main__":
    sys.exit(main_video())
