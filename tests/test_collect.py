"""``python -m facemask collect``: a few crops per tracked person from a real video, with an index."""

from __future__ import annotations

import csv
from collections import Counter

import cv2
import numpy as np
import pytest

from facemask.__main__ import main as facemask_main
from facemask.training.collect import HEADER, Candidate, pick_spread, write_index
from facemask.types import Face

from .conftest import REPO, VIDEOS

VIDEO = VIDEOS / "mask_putting_on_4people_diazoniclabs.mp4"
PER_PERSON, SIZE = 3, 48


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    out = tmp_path_factory.mktemp("collect")
    rc = facemask_main(["collect", "--config", str(REPO / "configs" / "config-x86.json"), "--video", str(VIDEO),
                        "--out", str(out), "--per-person", str(PER_PERSON), "--size", str(SIZE),
                        "--max-frames", "120", "--no-progress"])
    assert rc == 0
    with open(out / "index.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return out, rows


def test_a_few_crops_per_person(collected):
    _, rows = collected
    per_track = Counter(r["track"] for r in rows)
    assert len(per_track) >= 4  # the 4 people (the painting may be a fifth track)
    assert max(per_track.values()) <= PER_PERSON
    assert sum(n == PER_PERSON for n in per_track.values()) >= 3
    for track in per_track:  # spread over the track's life: distinct frames
        frames = [int(r["frame"]) for r in rows if r["track"] == track]
        assert len(set(frames)) == len(frames)


def test_crops_decode_and_match_the_index(collected):
    out, rows = collected
    files = {p.name for p in (out / "unlabeled").iterdir()}
    assert files == {r["file"].split("/", 1)[1] for r in rows}  # no .part left, no file without a row
    for r in rows:
        image = cv2.imread(str(out / r["file"]))
        assert image is not None and image.shape == (SIZE, SIZE, 3)
        assert r["file"] == f"unlabeled/{VIDEO.stem}_t{r['track']}_f{r['frame']}.jpg"
        x1, y1, x2, y2 = (float(r[k]) for k in ("x1", "y1", "x2", "y2"))
        assert 0 <= x1 < x2 and 0 <= y1 < y2 and 0.0 <= float(r["mask_prob"]) <= 1.0
        assert image.std() > 5  # a face, not a blank fill


def test_pick_spread_takes_the_best_of_each_stretch():
    def cand(frame, sharp):
        face = Face(box=np.array([0, 0, 20, 20], np.float32), score=1.0)
        return Candidate(frame, frame / 25, face, np.zeros((8, 8, 3), np.uint8), sharp)

    cands = [cand(i, s) for i, s in enumerate([1, 9, 2, 3, 8, 1, 7, 2, 1])]
    assert [c.frame for c in pick_spread(cands, 3)] == [1, 4, 6]
    assert len(pick_spread(cands[:2], 3)) == 2


def test_index_keeps_other_videos_rows(tmp_path):
    def row(video, track):
        return [f"unlabeled/{video}_t{track}_f0.jpg", video, track, 0, 0.0, 0, 0, 1, 1, 1, 0.9, 0.5, 10]

    write_index(tmp_path, "a", [row("a", 1), row("a", 2)])
    write_index(tmp_path, "b", [row("b", 1)])
    path = write_index(tmp_path, "a", [row("a", 3)])  # a second run of "a" replaces its rows
    with open(path, newline="") as fh:
        got = list(csv.reader(fh))
    assert got[0] == HEADER
    assert sorted((r[1], r[2]) for r in got[1:]) == [("a", "3"), ("b", "1")]


def test_missing_video_is_one_line(tmp_path, capsys):
    rc = facemask_main(["collect", "--video", str(tmp_path / "none.mp4"), "--out", str(tmp_path / "o"),
                        "--config", str(REPO / "configs" / "config-x86.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "no such file" in err[0]
