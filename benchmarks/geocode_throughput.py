"""Batch geocoding throughput on one CPU core.

The batch is synthetic but realistic: N distinct address strings (no two alike, so no result is
served from the cache) on the streets of the bundled gazetteers, written in the ways sources write
them ("12 rue X", "r. X, 12", "X, 12 bis", directory entries with a name and a trade), with years
spread over 1810–1888. Streets repeat, as in any real list. The process is pinned to one core and
numeric libraries to one thread. Reported: set-up (loading gazetteers, building the name index)
and addresses per second for ``Geocoder.geocode_table`` (parsing, matching, positioning, lon/lat),
in wall-clock time and in CPU time of the process (what one free core gives; the machine is shared,
so the wall-clock figure depends on the load, which is printed).

Run: ``.venv/bin/python -m benchmarks.geocode_throughput [-n 20000]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402

import pandas as pd  # noqa: E402

PATTERNS = ("{n} {s}", "{s}, {n}", "{n}{suf}, {s}", "{p}, {t}, {s}, {n}.", "{s} n° {n}", "{p} ({t}), {s}, {n} {suf}")
PEOPLE = ("Dupont", "Martin (Ve)", "Lefebvre fils", "Moreau et Cie", "Petit (J.-B.)")
TRADES = ("tailleur", "épicier", "md de vins", "serrurier", "fab. de meubles")


def make_batch(n: int, seed: int = 0) -> pd.DataFrame:
    from jadis.geocode.gazetteer import list_gazetteers, load_gazetteer

    names: list[str] = []
    for info in list_gazetteers(include_user=False):
        if info.kind in ("street_network", "address_points"):
            names += sorted(set(load_gazetteer(info).frame["name"].astype(str)))
    rng = random.Random(seed)
    seen: set[str] = set()
    rows = []
    while len(rows) < n:
        text = rng.choice(PATTERNS).format(n=rng.randint(1, 250), s=rng.choice(names), suf=rng.choice(("", " bis", "ter")),
                                           p=rng.choice(PEOPLE), t=rng.choice(TRADES))
        if text in seen:
            continue
        seen.add(text)
        rows.append((text, rng.choice((1810, 1836, 1849, 1888))))
    return pd.DataFrame(rows, columns=["address", "year"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20_000)
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    os.environ["JADIS_HOME"] = os.environ.get("JADIS_BENCH_HOME", "/nonexistent-jadis-home")  # bundled only
    batch = make_batch(args.n)

    from jadis.geocode.geocoder import Geocoder

    t0 = time.perf_counter()
    geocoder = Geocoder()
    setup = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    out = geocoder.geocode_table(batch, "address", year_column="year", progress=False)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    counts = out["match_type"].value_counts().to_dict()
    print(f"addresses: {len(batch)} distinct, years 1810-1888; cores: 1")
    print(f"set-up (load gazetteers + index): {setup:.2f} s")
    print(f"geocode_table: {elapsed:.2f} s wall -> {len(batch) / elapsed:,.0f} addresses/s; "
          f"{cpu:.2f} s CPU -> {len(batch) / cpu:,.0f} addresses per CPU-second")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (the CPU figure is what one free core gives)")
    print(f"match types: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
