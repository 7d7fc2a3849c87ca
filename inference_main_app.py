#!/usr/bin/env python3
"""Thin wrapper: see `python inference_main_app.py --help`."""

import sys

from facemask.web.main import main

if __name__ == "__main__":
    sys.exit(main())
