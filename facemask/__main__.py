"""``facemask COMMAND ...`` (or ``python -m facemask``): one entry point; the top-level scripts are thin wrappers."""

from __future__ import annotations

import importlib
import sys

# command -> (module, help). Each module has main(argv: list[str] | None) -> int.
COMMANDS = {
    "images": ("facemask.cli", "annotate an image folder"),
    "video": ("facemask.cli", "annotate a video, follow people, count them"),
    "train": ("facemask.training.main", "train / export the mask classifier"),
    "eval": ("facemask.evaluation.cli", "evaluate on a labelled dataset"),
    "bench": ("facemask.evaluation.bench", "time each stage on a video"),
    "app": ("facemask.web.main", "run the web GUI on live sources"),
    "eval-video": ("facemask.evaluation.video_people", "count people on hand-counted clips, compare with the counts"),
    "collect": ("facemask.training.collect", "save a few face crops per tracked person, to label"),
    "worker": ("facemask.broker.worker", "run cameras and image tasks from RabbitMQ"),
    "aggregate": ("facemask.broker.aggregate", "store every worker's events; web page for all cameras"),
    "submit": ("facemask.broker.tasks", "split an image folder into tasks for the workers"),
    "camera": ("facemask.broker.control", "add / remove / update / list broker cameras"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--version":
        from . import __version__

        print(f"facemask {__version__}")
        return 0
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        out = sys.stdout if argv and argv[0] in ("-h", "--help") else sys.stderr
        if argv and argv[0] not in ("-h", "--help"):
            print(f"error: unknown command '{argv[0]}'", file=out)
        print("usage: facemask COMMAND [options]   (facemask COMMAND --help for its options)\n\ncommands:", file=out)
        for name, (_, text) in COMMANDS.items():
            print(f"  {name:10s} {text}", file=out)
        return 0 if out is sys.stdout else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    entry = getattr(module, f"main_{argv[0]}", None) or module.main
    return entry(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
