"""Address parsing accuracy on hand-checked trade-directory entries (DAS 2022 NER gold, 1798–1861).

Each gold line is a directory entry with NER tags. We strip the tags, parse the plain text with
:func:`jadis.geocode.parse.parse_address` and compare the primary address with the first ``<LOC>``
(street) and the first ``<CARDINAL>`` that follows it (house number):

* street exact: the normalised names (type + core, :func:`jadis.geocode.normalize.normalize`) are equal;
* street fuzzy: the normalised cores are ≥ 90 % similar (rapidfuzz ratio) — OCR noise inside a
  name is the matcher's job, not the parser's;
* number: the house numbers (with bis/ter) are equal; entries without a gold number must give none.

Run: ``.venv/bin/python -m benchmarks.geocode_parse [--gold PATH] [--show N]``
"""

from __future__ import annotations

import argparse
import csv
import html
import re
import sys
import time
from collections import Counter
from pathlib import Path

from rapidfuzz import fuzz

from jadis.geocode.normalize import street_name
from jadis.geocode.parse import parse_address
from jadis.paths import shared_data_dir

_TAG = re.compile(r"</?([A-Z]+)>")


def gold_path() -> Path | None:
    root = shared_data_dir()
    path = root / "geocoding/dev/ner_directories_das22/gold.csv" if root else None
    return path if path and path.exists() else None


def read_gold(path: Path) -> list[tuple[str, str, str | None, str | None]]:
    """(directory, plain text, gold street, gold number) per entry."""
    out = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh, skipinitialspace=True):
            if len(row) < 2:
                continue
            tagged, directory = row[0], row[1].strip()
            street = number = None
            loc = re.search(r"<LOC>(.*?)</LOC>", tagged, re.S)
            if loc:
                street = html.unescape(loc.group(1)).strip()
                after = tagged[loc.end():]
                nxt = re.search(r"<LOC>", after)
                card = re.search(r"<CARDINAL>(.*?)</CARDINAL>", after[: nxt.start()] if nxt else after, re.S)
                if card:
                    number = card.group(1)
            plain = html.unescape(_TAG.sub("", tagged))
            out.append((directory, plain, street, number))
    return out


def norm_number(text: str | None) -> str | None:
    if text is None:
        return None
    m = re.search(r"(\d{1,4})\s*(bis|ter|quater|[a-d])?\b", text, re.I)
    return f"{m.group(1)}{(m.group(2) or '').lower()}" if m else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, default=gold_path())
    ap.add_argument("--show", type=int, default=0, help="print N failures of each kind")
    args = ap.parse_args(argv)
    if args.gold is None or not args.gold.exists():
        print("gold.csv not found (needs ../shared/data)", file=sys.stderr)
        return 1
    rows = read_gold(args.gold)
    t0 = time.perf_counter()
    parsed = [parse_address(text) for _, text, _, _ in rows]
    elapsed = time.perf_counter() - t0

    with_loc = street_exact = street_fuzzy = 0
    num_total = num_ok = 0
    per_dir: Counter[str] = Counter()
    per_dir_ok: Counter[str] = Counter()
    fails_street, fails_number = [], []
    for (directory, text, gstreet, gnum), p in zip(rows, parsed, strict=True):
        if gstreet is None:
            continue
        with_loc += 1
        per_dir[directory] += 1
        g, q = street_name(gstreet), street_name(p.street or "")
        exact = g.key == q.key or (g.core == q.core and (g.type is None or q.type is None))
        fuzzy = exact or (bool(q.core) and fuzz.ratio(g.core, q.core) >= 90)
        street_exact += exact
        street_fuzzy += fuzzy
        if not fuzzy:
            fails_street.append((text, gstreet, p.street))
        expected = norm_number(gnum)
        got = f"{p.number}{p.suffix}" if p.number is not None else None
        num_total += 1
        ok = expected == got
        num_ok += ok
        if ok and exact:
            per_dir_ok[directory] += 1
        if not ok:
            fails_number.append((text, gnum, got))

    n = len(rows)
    print(f"entries: {n}  with a street (LOC): {with_loc}  parse time: {elapsed:.2f} s "
          f"({n / elapsed:,.0f} entries/s)")
    print(f"street exact (normalised):   {street_exact / with_loc:.1%}  ({street_exact}/{with_loc})")
    print(f"street fuzzy (core ≥ 90):    {street_fuzzy / with_loc:.1%}  ({street_fuzzy}/{with_loc})")
    print(f"house number (incl. none):   {num_ok / num_total:.1%}  ({num_ok}/{num_total})")
    print("per directory (street exact and number right):")
    for directory in sorted(per_dir):
        print(f"  {directory:32s} {per_dir_ok[directory] / per_dir[directory]:6.1%}  (n={per_dir[directory]})")
    for title, fails in (("street", fails_street), ("number", fails_number)):
        for text, gold, got in fails[: args.show]:
            print(f"[{title}] gold={gold!r} got={got!r} :: {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
