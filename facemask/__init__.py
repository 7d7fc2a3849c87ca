"""facemask: face-mask detection for real-world CCTV video."""

__version__ = "0.1.0"
