"""Geocoding real historical address lists of the whole city (no ground truth: match rates and
agreement with another geocoder).

The bundled gazetteers cover two study zones only, so this run first adds, as a user would with
`jadis gazetteer add`, the whole-city data of ../shared/data that may not be redistributed: the
Jacoubet 1836 street network and the SoDUCo street centre-points of 1791, 1836, 1849 and 1888
(JADIS_HOME is a temporary folder). Lists:

* the DAS 2022 directory entries (gold.csv, 1798–1861, tags removed) at their directory's year;
* GeoHistoricalData's 29 random Jacoubet addresses and 123 "rue de l'Ourcine" queries (1840);
* three lists geocoded by other (semi-)automatic tools — photographers 1829–1903 (SoDUCo/Pelias),
  trade-directory map makers 1816–1908, 1850 workers of the Richelieu district: the median and
  90th-percentile distance between their point and ours is **agreement, not accuracy**.

Run: ``.venv/bin/python -m benchmarks.geocode_real_lists``
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from jadis.paths import shared_data_dir

CENTERPOINTS = {  # file stem -> (gazetteer name, years)
    "atlas_verniquet_1791": ("soduco_verniquet_1791", "1780-1804"),
    "atlas_jacoubet_1836": ("soduco_jacoubet_1836", "1825-1845"),
    "atlas_andriveaugoujon_1849": ("soduco_andriveau_1849", "1842-1858"),
    "atlas_municipal_1888": ("soduco_municipal_1888", "1870-1905"),
}


def add_whole_city(shared: Path) -> None:
    from jadis.geocode.gazetteer import add_gazetteer

    add_gazetteer(shared / "gazetteers/jacoubet_1836_network/1836_jacoubet.gpkg", "jacoubet_1836", "1825-1845",
                  name_field="nom_entier", licence="no licence stated (not redistributable)")
    for stem, (name, years) in CENTERPOINTS.items():
        add_gazetteer(shared / f"gazetteers/soduco_geocoder_centerpoints/{stem}_streets_centerpoints.csv", name,
                      years, name_field="street", x_field="lon", y_field="lat",
                      licence="no licence stated (not redistributable)")


def summarise(label: str, out: pd.DataFrame, seconds: float, ref: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    types = out["match_type"].value_counts()
    row = {"list": label, "n": len(out), "matched": f"{(out['match_type'] != 'none').mean():.1%}",
           "address_point": types.get("address_point", 0), "interpolated": types.get("interpolated", 0),
           "street": types.get("street", 0), "none": types.get("none", 0),
           "addr/s": f"{len(out) / seconds:,.0f}"}
    if ref is not None:
        rx, ry = ref
        d = np.hypot(out["x"].to_numpy(float) - rx, out["y"].to_numpy(float) - ry)
        d = d[np.isfinite(d)]
        row["agree_median_m"] = f"{np.median(d):.0f}" if len(d) else "-"
        row["agree_p90_m"] = f"{np.percentile(d, 90):.0f}" if len(d) else "-"
        row["compared"] = len(d)
    return row


def _year_of(directory: str) -> int:
    return int(re.search(r"(\d{4})", directory).group(1))


def main() -> int:
    shared = shared_data_dir()
    if shared is None:
        print("needs ../shared/data", file=sys.stderr)
        return 1
    import geopandas as gpd

    from benchmarks.geocode_parse import read_gold
    from jadis.geocode.geocoder import Geocoder

    with tempfile.TemporaryDirectory() as home:
        os.environ["JADIS_HOME"] = home
        add_whole_city(shared)
        geocoder = Geocoder()
        rows = []

        gold = read_gold(shared / "geocoding/dev/ner_directories_das22/gold.csv")
        frame = pd.DataFrame({"entry": [g[1] for g in gold], "year": [_year_of(g[0]) for g in gold]})
        t0 = time.perf_counter()
        out = geocoder.geocode_table(frame, "entry", year_column="year", progress=False)
        rows.append(summarise("DAS 2022 directory entries 1798-1861", out, time.perf_counter() - t0))
        early = out[frame["year"] < 1805]
        rows.append(summarise("  of which before 1805 (sectional numbers)", early, 1.0))

        ex = shared / "geocoding/dev/historical_geocoding_examples"
        for name in ("random_adresses_jacoubet.csv", "rue_oursine.csv"):
            frame = pd.read_csv(ex / name, sep=";")
            t0 = time.perf_counter()
            out = geocoder.geocode_table(frame, "address", year_column="address_date", progress=False)
            rows.append(summarise(name, out, time.perf_counter() - t0))

        auto = shared / "geocoding/dev/automatic_not_ground_truth"
        photo = gpd.read_file(auto / "reference_geocoded_unique.geojson").to_crs("EPSG:2154")
        photo = photo[photo.geometry.notna() & photo["query.street"].notna()].copy()
        photo["address"] = photo["query.number"].fillna("").astype(str) + " " + photo["query.street"].astype(str)
        t0 = time.perf_counter()
        out = geocoder.geocode_table(pd.DataFrame({"address": photo["address"].to_numpy(),
                                                   "year": photo["query.year"].to_numpy()}),
                                     "address", year_column="year", progress=False)
        rows.append(summarise("photographers 1829-1903 vs SoDUCo/Pelias", out, time.perf_counter() - t0,
                              (photo.geometry.x.to_numpy(), photo.geometry.y.to_numpy())))

        carto = pd.read_csv(auto / "cartographes.csv")
        carto = carto[carto["geometry"].str.startswith("POINT (") & (carto["nb_loc"] == 1)].copy()
        pts = gpd.GeoSeries.from_wkt(carto["geometry"], crs="EPSG:2154")
        inside = (pts.x > 640_000) & (pts.x < 665_000) & (pts.y > 6_855_000) & (pts.y < 6_870_000)
        carto, pts = carto[inside.to_numpy()], pts[inside.to_numpy()]
        t0 = time.perf_counter()
        out = geocoder.geocode_table(carto.reset_index(drop=True), "text_ocr", year_column="published", progress=False)
        rows.append(summarise("map makers 1816-1908 vs SoDUCo", out, time.perf_counter() - t0,
                              (pts.x.to_numpy(), pts.y.to_numpy())))

        workers = pd.read_csv(auto / "num_1850.csv")
        wpts = gpd.GeoSeries(gpd.points_from_xy(workers["X"], workers["Y"]), crs="EPSG:4326").to_crs("EPSG:2154")
        t0 = time.perf_counter()
        out = geocoder.geocode_table(workers, "Rue", number_column="Numéro", year=1850, progress=False)
        rows.append(summarise("Richelieu workers 1850 vs adescombes", out, time.perf_counter() - t0,
                              (wpts.x.to_numpy(), wpts.y.to_numpy())))
    table = pd.DataFrame(rows).astype(object).fillna("")
    try:
        print(table.to_markdown(index=False))
    except ImportError:
        print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
