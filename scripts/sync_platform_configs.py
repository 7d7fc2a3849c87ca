#!/usr/bin/env python
"""Copy every section of configs/config-x86.json into the platform configs, except their own
``platform``, ``detector`` and ``classifier`` sections (tests/test_pose_platforms.py checks it).

    python scripts/sync_platform_configs.py            # rewrites config-x86-gpu.json, config-edgetpu.json, config-jetson.json
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PLATFORMS = ("x86-gpu", "edgetpu", "jetson")
OWN = ("platform", "detector", "classifier")


def dumps(value, indent: int = 0) -> str:
    """JSON with short objects and lists on one line, as configs/config-x86.json is written."""
    one = json.dumps(value)
    if not isinstance(value, dict) or (indent > 0 and len(one) + indent <= 100):
        return one
    pad = " " * (indent + 2)
    items = [f"{pad}{json.dumps(k)}: {dumps(v, indent + 2)}" for k, v in value.items()]
    return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"


def main() -> int:
    x86 = json.loads((CONFIGS / "config-x86.json").read_text(encoding="utf-8"))
    for name in PLATFORMS:
        path = CONFIGS / f"config-{name}.json"
        own = json.loads(path.read_text(encoding="utf-8"))
        merged = {key: own[key] if key in OWN else value for key, value in x86.items()}
        tmp = path.with_suffix(".json.part")
        tmp.write_text(dumps(merged) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        print(f"{path.name}: {', '.join(k for k in x86 if k not in OWN)} copied from config-x86.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
