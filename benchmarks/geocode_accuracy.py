"""Geocoding accuracy on hand-made address points used as ground truth.

Truth sets (../shared/data/geocoding/dev): the 1810 (Vasserot) and 1836 (Jacoubet) house numbers of
the Faubourg Saint-Antoine, and the 1888 Atlas municipal numbers of the Butte-aux-Cailles. Each
truth row becomes the query "<number> <street>" with the set's year; the error is the distance
between the geocoded point and the truth point (EPSG:2154).

The bundled gazetteer that contains the truth set is always left out. Configurations:

* ``all``      — every other bundled gazetteer (other years' address points, networks, names);
* ``networks`` — street networks (+ name history) only: positions come from interpolation;
* ``baseline`` — naive: exact normalised name in the network of the year (nearest in time) →
  centroid of the street's segments.

Reported: match rate, median / p90 error (m) over matched rows, share within 10/25/50 m, how often
the true point lies within the reported ``uncertainty_m``, and the mix of match types.

Run: ``.venv/bin/python -m benchmarks.geocode_accuracy``
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jadis.geocode.gazetteer import list_gazetteers, load_gazetteer
from jadis.geocode.geocoder import Geocoder
from jadis.geocode.normalize import normalize
from jadis.paths import shared_data_dir


@dataclass(frozen=True)
class TruthSet:
    label: str
    path: str
    year: int
    street: str
    number: str
    bundled_as: str


TRUTH = (
    TruthSet("Faubourg Saint-Antoine 1810 (Vasserot)", "geocoding/dev/pegazus_faubourg_saint_antoine/"
             "atlas_vasserot_1810_adresses.geojson", 1810, "nom_entier", "num_voies", "vasserot_1810_addresses_fsa"),
    TruthSet("Faubourg Saint-Antoine 1836 (Jacoubet)", "geocoding/dev/pegazus_faubourg_saint_antoine/"
             "atlas_jacoubet_1836_adresses.geojson", 1836, "nom_entier", "num_voies", "jacoubet_1836_addresses_fsa"),
    TruthSet("Butte-aux-Cailles 1888 (Atlas municipal)", "geocoding/dev/pegazus_butte_aux_cailles/"
             "butte_aux_cailles_atlas_municipal_1888_adresses.geojson", 1888, "normalised", "numbers_va",
             "atlas_municipal_1888_addresses_bac"),
)


def load_truth(ts: TruthSet) -> pd.DataFrame:
    import geopandas as gpd

    root = shared_data_dir()
    assert root is not None
    gdf = gpd.read_file(root / ts.path).to_crs("EPSG:2154")
    gdf = gdf[gdf[ts.street].notna() & gdf[ts.number].notna()].copy()
    pts = gdf.geometry.centroid
    return pd.DataFrame({
        "query": gdf[ts.number].astype(str).str.replace(r"\.0$", "", regex=True) + " " + gdf[ts.street].astype(str),
        "street": gdf[ts.street].astype(str), "tx": pts.x.to_numpy(), "ty": pts.y.to_numpy()})


def baseline(truth: pd.DataFrame, year: int, exclude: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact normalised name -> centroid of the street in the network nearest in time."""
    import shapely

    nets = [i for i in list_gazetteers(include_user=False) if i.kind == "street_network" and i.name != exclude]
    nets.sort(key=lambda i: i.years_from(year))
    lookup: dict[str, tuple[float, float]] = {}
    for info in reversed(nets):  # nearest in time wins
        frame = load_gazetteer(info).frame
        keys = frame["name"].map(normalize)
        for key, geoms in frame.geometry.groupby(keys):
            c = shapely.union_all(geoms.values).centroid
            lookup[key] = (c.x, c.y)
    xy = np.array([lookup.get(normalize(s), (np.nan, np.nan)) for s in truth["street"]])
    return xy[:, 0], xy[:, 1]


def summarise(label: str, truth: pd.DataFrame, x: np.ndarray, y: np.ndarray, unc: np.ndarray | None,
              types: pd.Series | None, seconds: float) -> dict:
    matched = np.isfinite(x)
    err = np.hypot(x - truth["tx"].to_numpy(), y - truth["ty"].to_numpy())[matched]
    row = {"config": label, "n": len(truth), "matched": f"{matched.mean():.1%}",
           "median_m": f"{np.median(err):.1f}" if len(err) else "-",
           "p90_m": f"{np.percentile(err, 90):.1f}" if len(err) else "-",
           "≤10m": f"{np.mean(err <= 10):.0%}" if len(err) else "-",
           "≤25m": f"{np.mean(err <= 25):.0%}" if len(err) else "-",
           "≤50m": f"{np.mean(err <= 50):.0%}" if len(err) else "-",
           "in_unc": f"{np.mean(err <= unc[matched]):.0%}" if unc is not None and len(err) else "-",
           "addr/s": f"{len(truth) / seconds:,.0f}" if seconds > 0 else "-"}
    if types is not None:
        counts = types.value_counts()
        row["types"] = " ".join(f"{k}:{v}" for k, v in counts.items())
    return row


def run(ts: TruthSet, show_worst: int = 0) -> list[dict]:
    truth = load_truth(ts)
    infos = [i for i in list_gazetteers(include_user=False) if i.name != ts.bundled_as]
    rows = []
    for label, keep in (("all", lambda i: True),
                        ("networks", lambda i: i.kind in ("street_network", "names"))):
        geocoder = Geocoder([load_gazetteer(i) for i in infos if keep(i)])
        t0 = time.perf_counter()
        res = geocoder.geocode_many(truth["query"], float(ts.year), progress=False)
        seconds = time.perf_counter() - t0
        x = np.array([r.x if r.x is not None else np.nan for r in res], dtype=float)
        y = np.array([r.y if r.y is not None else np.nan for r in res], dtype=float)
        unc = np.array([r.uncertainty_m if r.uncertainty_m is not None else np.nan for r in res], dtype=float)
        types = pd.Series([r.match_type for r in res])
        rows.append(summarise(label, truth, x, y, unc, types, seconds))
        if show_worst:
            err = np.hypot(x - truth["tx"].to_numpy(), y - truth["ty"].to_numpy())
            order = np.argsort(-np.nan_to_num(err, nan=1e9))[:show_worst]
            for k in order:
                print(f"  [{label}] {err[k]:8.1f} m  {truth['query'].iat[k]!r}: {res[k].explanation}", file=sys.stderr)
    t0 = time.perf_counter()
    bx, by = baseline(truth, ts.year, ts.bundled_as)
    rows.append(summarise("baseline", truth, bx, by, None, None, time.perf_counter() - t0))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worst", type=int, default=0, help="print the N worst errors per configuration")
    args = ap.parse_args(argv)
    if shared_data_dir() is None:
        print("needs ../shared/data", file=sys.stderr)
        return 1
    for ts in TRUTH:
        print(f"\n### {ts.label}: truth excluded = {ts.bundled_as}, year {ts.year}")
        table = pd.DataFrame(run(ts, args.worst))
        print(table.to_markdown(index=False) if _has_tabulate() else table.to_string(index=False))
    return 0


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    raise SystemExit(main())
