"""Scoring map reading against a truth set transcribed by eye (format: benchmarks/truth/SPEC.md).

A truth street label is *found* when a named text line with the same name — type and core after
normalisation (:func:`jadis.geocode.normalize.street_name`: case, accents, hyphens, particles and
abbreviations aside) — has its centre within ``radius`` px of the label's box, one line per label;
a named line is *right* when it names a truth label that way. House numbers: the same number within
30 px of a truth number, among the numbers read inside the truth's numbered area.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def load_truth(paths: list[Path]) -> list[dict]:
    """The rows of truth CSVs (missing files skipped), positions as floats."""
    rows = []
    for path in paths:
        if not path.exists():
            continue
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                try:
                    for k in ("cx", "cy", "x0", "y0", "x1", "y1"):
                        row[k] = float(row[k])
                except (TypeError, ValueError):
                    continue
                rows.append(row)
    return rows


def crop_truth(rows: list[dict], x0: float, y0: float, width: float, height: float) -> list[dict]:
    """The truth rows whose centre lies in a crop of the sheet, in the crop's pixels."""
    out = []
    for row in rows:
        if x0 <= row["cx"] < x0 + width and y0 <= row["cy"] < y0 + height:
            moved = dict(row)
            for k in ("cx", "x0", "x1"):
                moved[k] = row[k] - x0
            for k in ("cy", "y0", "y1"):
                moved[k] = row[k] - y0
            out.append(moved)
    return out


def _key(name: str) -> str:
    from jadis.geocode.normalize import street_name

    return street_name(name).key


def _dist_to_box(p: np.ndarray, row: dict) -> float:
    dx = max(row["x0"] - p[0], 0.0, p[0] - row["x1"])
    dy = max(row["y0"] - p[1], 0.0, p[1] - row["y1"])
    return float(np.hypot(dx, dy))


def score(truth: list[dict], lines: list, numbers: list, radius: float, region=None,
          dump: list | None = None) -> dict:
    """Recall and precision of the named lines (and of the house numbers) against ``truth``;
    ``region``: only labels and lines with x in [x0, x1); ``dump``: collects one row per named line."""
    streets = [r for r in truth if r["kind"] == "street" and r["name"]]
    named = [ln for ln in lines if ln.name]
    if region is not None:
        x0, x1 = region
        streets = [r for r in streets if x0 <= r["cx"] < x1]
        named = [ln for ln in named if x0 <= ln.centre[0] < x1]
    keys = [_key(r["name"]) for r in streets]
    pairs = []
    for i, ln in enumerate(named):
        k = _key(ln.name)
        for j, r in enumerate(streets):
            if keys[j] == k:
                d = _dist_to_box(ln.centre, r)
                if d <= radius:
                    pairs.append((d, i, j))
    pairs.sort()
    used_l, used_t = set(), set()
    for _d, i, j in pairs:
        if i not in used_l and j not in used_t:
            used_l.add(i)
            used_t.add(j)
    right_lines = {i for _d, i, _j in pairs}
    if dump is not None:
        for i, ln in enumerate(named):
            dump.append({"text": ln.text, "name": ln.name, "score": ln.score, "how": ln.correction.how,
                         "typed": ln.correction.typed, "pieces": len(ln.words),
                         "ocr": round(float(np.mean([w.score for w in ln.words])), 3),
                         "similarity": round(ln.correction.similarity, 3), "spot": round(ln.correction.spot, 3),
                         "spot_rival": round(ln.correction.spot_rival, 3), "right": i in right_lines})
    out = {"truth_labels": len(streets), "found": len(used_t),
           "recall": round(len(used_t) / max(len(streets), 1), 3),
           "named_lines": len(named), "named_right": len(right_lines),
           "precision": round(len(right_lines) / max(len(named), 1), 3)}
    tnum = [r for r in truth if r["kind"] == "number" and r.get("number")]
    if tnum:
        xs = [min(r["x0"] for r in tnum), max(r["x1"] for r in tnum)]
        ys = [min(r["y0"] for r in tnum), max(r["y1"] for r in tnum)]
        inside = [n for n in numbers if xs[0] - 20 <= n.centre[0] <= xs[1] + 20 and ys[0] - 20 <= n.centre[1] <= ys[1] + 20]
        hit_t, hit_n = set(), set()
        for a, n in enumerate(inside):
            for b, r in enumerate(tnum):
                same = n.number.lower() == str(r["number"]).replace(" ", "").lower()
                if same and np.hypot(n.centre[0] - r["cx"], n.centre[1] - r["cy"]) <= 30:
                    hit_t.add(b)
                    hit_n.add(a)
        out.update({"truth_numbers": len(tnum), "numbers_found": len(hit_t),
                    "number_recall": round(len(hit_t) / len(tnum), 3),
                    "numbers_read_in_box": len(inside),
                    "number_precision": round(len(hit_n) / max(len(inside), 1), 3)})
    return out


