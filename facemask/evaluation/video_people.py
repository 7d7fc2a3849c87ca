"""``python -m facemask eval-video``: people counted on hand-counted clips, against the hand counts.

The truth is a ``people.json``-style file (see the shared ``data/video_people/README.md``): per clip
the people whose face was seen, their mask label (``mask`` / ``no_mask`` / ``unclear``), totals and,
for crowds, a range. Each clip is run through the same :class:`facemask.video.VideoSession` as
``python -m facemask video``; its ``summary()`` is compared with the totals:

* people counted vs truth, the absolute count error and, for exact clips, the relative one; for
  approximate clips whether the count falls in the hand range;
* masked / unmasked / undecided ("unclear") vs mask / no_mask / unclear;
* % masked error (points), where both sides decided someone;
* ``face_not_seen`` (tracks that never showed a face well enough to be judged) beside the hand
  "no face seen" estimate, for reference only.

Outputs: a terminal table, ``--json`` (every number) and ``--docs`` (a generated section of
docs/results.md between ``<!-- eval-video:start -->`` and ``<!-- eval-video:end -->``).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ..config import Config, load_config
from ..errors import InputError

START, END = "<!-- eval-video:start -->", "<!-- eval-video:end -->"


def clip_path(truth_file: Path, name: str, clip: dict, search: list[Path]) -> Path | None:
    """Where a clip is: beside the truth file, in its ``folder`` (``videos`` = the shared videos two
    levels up), or in one of ``search``."""
    here = truth_file.parent
    candidates = [d / name for d in search] + [here / name]
    if clip.get("folder") == "videos":
        candidates += [here.parent.parent / "videos" / name, here.parent / "videos" / name]
    return next((p for p in candidates if p.is_file()), None)


def pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def run_clip(cfg: Config, path: Path, max_frames: int | None = None, reports: Path | None = None) -> dict:
    """Count people on one clip with the public session API; returns summary() plus timing.
    ``reports``: also write the session's reports (summary JSON, one CSV row per track) there."""
    from ..io.sources import VideoFileSource
    from ..video import VideoSession

    n = 0
    t0 = time.perf_counter()
    with VideoFileSource(str(path)) as source:
        session = VideoSession(cfg, source.info.fps)
        for frame in source:
            if max_frames is not None and n >= max_frames:
                break
            session.process(frame)  # a Frame: its time_s drives the session
            n += 1
    session.finish()
    if reports is not None:
        reports.mkdir(parents=True, exist_ok=True)
        session.write_reports(reports / path.stem)
    out = dict(session.summary())
    out.update(frames=n, seconds=round(time.perf_counter() - t0, 2))
    return out


def score_clip(name: str, clip: dict, got: dict) -> dict:
    """Compare one clip's summary with its hand totals."""
    t = clip["totals"]
    truth_people = int(t["people"])
    lo, hi = t.get("people_range", [truth_people, truth_people])
    people = int(got.get("people", 0))
    masked, unmasked, undecided = int(got.get("masked", 0)), int(got.get("unmasked", 0)), int(got.get("undecided", 0))
    decided = masked + unmasked
    truth_pct = t.get("pct_masked")
    got_pct = pct(masked, decided)
    pct_error = None if truth_pct is None or got_pct is None else round(got_pct - truth_pct, 2)
    exact = clip.get("confidence") == "exact"
    count_error = people - truth_people
    return {
        "clip": name, "confidence": clip.get("confidence"),
        "truth": {"people": truth_people, "range": [lo, hi], "mask": t["mask"], "no_mask": t["no_mask"],
                  "unclear": t["unclear"], "pct_masked": truth_pct, "no_face_seen": clip.get("no_face_seen"),
                  "static_faces": clip.get("static_faces")},
        "got": {"people": people, "masked": masked, "unmasked": unmasked, "undecided": undecided,
                "pct_masked": got_pct, "face_not_seen": got.get("face_not_seen"),
                "static_faces": got.get("static_faces"), "frames": got.get("frames"), "seconds": got.get("seconds")},
        "count_error": count_error, "abs_count_error": abs(count_error),
        "rel_count_error": (round(abs(count_error) / truth_people, 3) if truth_people else None),
        "in_range": lo <= people <= hi,
        # exact clips: within 10 % (at least no error when the truth is under 10 people)
        "count_ok": (abs(count_error) <= math.floor(0.1 * truth_people)) if exact else lo <= people <= hi,
        "pct_error": pct_error,
        "pct_checked": decided >= 5 and truth_pct is not None,
        "pct_ok": None if not (decided >= 5 and truth_pct is not None and pct_error is not None) else abs(pct_error) <= 5.0,
    }


def overall(rows: list[dict]) -> dict:
    exact = [r for r in rows if r["confidence"] == "exact"]
    checked = [r for r in rows if r["pct_checked"]]
    return {
        "clips": len(rows),
        "abs_count_error": sum(r["abs_count_error"] for r in rows),
        "abs_count_error_exact": sum(r["abs_count_error"] for r in exact),
        "people_exact": sum(r["got"]["people"] for r in exact),
        "truth_people_exact": sum(r["truth"]["people"] for r in exact),
        "count_ok": sum(bool(r["count_ok"]) for r in rows),
        "in_range": sum(r["in_range"] for r in rows),
        "pct_checked": len(checked),
        "pct_ok": sum(bool(r["pct_ok"]) for r in checked),
        "mean_abs_pct_error": (round(sum(abs(r["pct_error"]) for r in checked) / len(checked), 2) if checked else None),
    }


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v)


HEADER = ["clip", "conf.", "people (truth)", "masked / unmasked / unclear (truth)", "counted",
          "masked / unmasked / undecided", "face not seen", "count error", "% masked truth / got / error", "ok"]


def table_rows(rows: list[dict]) -> list[list[str]]:
    out = []
    for r in rows:
        t, g = r["truth"], r["got"]
        truth_people = str(t["people"]) if t["range"][0] == t["range"][1] else f"{t['people']} ({t['range'][0]}–{t['range'][1]})"
        ok = ("count ok" if r["count_ok"] else "COUNT") + ("" if r["pct_ok"] is None else (", % ok" if r["pct_ok"] else ", %"))
        out.append([
            r["clip"], t and r["confidence"][:6], truth_people, f"{t['mask']} / {t['no_mask']} / {t['unclear']}",
            str(g["people"]), f"{g['masked']} / {g['unmasked']} / {g['undecided']}", _fmt(g["face_not_seen"]),
            f"{r['count_error']:+d}", f"{_fmt(t['pct_masked'])} / {_fmt(g['pct_masked'])} / {_fmt(r['pct_error'])}", ok,
        ])
    return out


def markdown(rows: list[dict], total: dict, command: str) -> str:
    lines = [START, "", "### People counted on hand-counted clips (`python -m facemask eval-video`)", "",
             f"Generated by `{command}`. Truth: the clip's hand totals (people whose face was seen; crowds "
             "marked approximate carry a range: `count ok` there means inside it). Exact clips: `count ok` = count "
             "error at most 10 % of the truth. `%`: % masked within 5 points, checked where at least 5 people are "
             "decided. *face not seen*: tracks never judged (not people; the hand counts have their own estimate).",
             "", "| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(rows)]
    lines += ["", (f"Overall: count ok on {total['count_ok']} of {total['clips']} clips; absolute count error "
                   f"{total['abs_count_error']} ({total['abs_count_error_exact']} on exact clips: "
                   f"{total['people_exact']} counted vs {total['truth_people_exact']}); % masked within 5 points "
                   f"on {total['pct_ok']} of {total['pct_checked']} checked clips (mean error "
                   f"{_fmt(total['mean_abs_pct_error'])} points)."), "", END]
    return "\n".join(lines) + "\n"


def write_docs(path: Path, section: str) -> None:
    """Replace the generated section of ``path`` (or append it)."""
    from ..io.sinks import AtomicFile

    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        new = head + section + tail
    else:
        new = text.rstrip("\n") + ("\n\n" if text else "") + section
    with AtomicFile(path) as fh:
        fh.write(new)


def print_table(rows: list[dict], total: dict) -> None:
    body = [HEADER] + table_rows(rows)
    widths = [max(len(r[i]) for r in body) for i in range(len(HEADER))]
    for k, r in enumerate(body):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
        if k == 0:
            print("  ".join("-" * w for w in widths))
    print()
    print(f"count ok: {total['count_ok']}/{total['clips']} clips; abs count error {total['abs_count_error']} "
          f"(exact clips {total['abs_count_error_exact']}: {total['people_exact']} vs {total['truth_people_exact']}); "
          f"% masked ok: {total['pct_ok']}/{total['pct_checked']} (mean |error| {_fmt(total['mean_abs_pct_error'])})")


def _job(args: tuple) -> tuple[str, dict]:
    config, overrides, name, path, max_frames, reports = args
    cfg = load_config(config, overrides)
    return name, run_clip(cfg, Path(path), max_frames, reports)


def evaluate(truth_file: Path, config: str, overrides: list[str], clips: list[str] | None = None,
             search: list[Path] | None = None, max_frames: int | None = None, jobs: int = 1,
             progress=None, reports: Path | None = None) -> tuple[list[dict], dict]:
    data = json.loads(Path(truth_file).read_text(encoding="utf-8"))
    todo = []
    for name, clip in data["clips"].items():
        if clips and not any(c in name for c in clips):
            continue
        path = clip_path(Path(truth_file), name, clip, search or [])
        if path is None:
            raise InputError(f"{name}: clip not found beside {truth_file} nor in its folder")
        todo.append((config, overrides, name, str(path), max_frames, reports))
    results: dict[str, dict] = {}
    if jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(jobs) as pool:
            for name, got in pool.map(_job, todo):
                results[name] = got
                if progress:
                    progress(name, got)
    else:
        for job in todo:
            name, got = _job(job)
            results[name] = got
            if progress:
                progress(name, got)
    rows = [score_clip(name, data["clips"][name], results[name]) for name, *_ in ((j[2],) for j in todo)]
    return rows, overall(rows)


def main(argv: list[str] | None = None) -> int:
    from ..cli import report_errors

    p = argparse.ArgumentParser(prog="python -m facemask eval-video",
                                description="Count people on hand-counted clips and compare with the hand counts.")
    p.add_argument("truth", help="people.json-style file (clips beside it or in its 'folder')")
    p.add_argument("--config", default="configs/config-x86.json", help="JSON config (default: %(default)s)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value (repeatable)")
    p.add_argument("--clips", nargs="*", help="only clips whose name contains one of these")
    p.add_argument("--videos", action="append", default=[], type=Path, help="another folder to look for clips in")
    p.add_argument("--max-frames", type=int, default=None, help="stop each clip after this many frames")
    p.add_argument("--jobs", type=int, default=1, help="clips processed in parallel (default: %(default)s)")
    p.add_argument("--json", type=Path, help="write every number here")
    p.add_argument("--reports", type=Path, help="write each clip's summary JSON and per-track CSV into this folder")
    p.add_argument("--docs", type=Path, help="replace the eval-video section of this markdown file (docs/results.md)")
    args = p.parse_args(argv)

    def run() -> int:
        load_config(args.config, args.overrides)  # fail early on a bad config
        rows, total = evaluate(Path(args.truth), args.config, args.overrides, args.clips, args.videos,
                               args.max_frames, args.jobs, reports=args.reports,
                               progress=lambda n, g: print(f"  {n}: {g.get('people')} people, {g.get('seconds')} s", flush=True))
        print_table(rows, total)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"config": args.config, "overrides": args.overrides, "clips": rows,
                                             "overall": total}, indent=1) + "\n", encoding="utf-8")
        if args.docs:
            cmd = " ".join(["python -m facemask eval-video", "../shared/data/video_people/people.json"]
                           + [f"--set {o}" for o in args.overrides]
                           + ([] if args.config == "configs/config-x86.json" else [f"--config {args.config}"]))
            write_docs(args.docs, markdown(rows, total, cmd))
        return 0

    return report_errors(run)
