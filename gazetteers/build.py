"""Rebuild the bundled gazetteers from ../shared/data (maintainers only; users never need this).

Every source used here is marked "SHIP: yes" in shared/data/README.md. The whole-city Jacoubet 1836
network and the SoDUCo centre-points are not (no licence): users add them with `jadis gazetteer add`.

Run from the repository root:  .venv/bin/python gazetteers/build.py [--shared PATH]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd

from jadis.geocode.gazetteer import GazetteerInfo, to_standard, write_gazetteer, write_manifest
from jadis.paths import shared_data_dir

HERE = Path(__file__).resolve().parent

CREDIT_PEGAZUS = ("Charly Bernard, PeGazUs (IGN/LASTIG), Licence Ouverte 2.0; geometries ALPAGE and "
                  "GeoHistoricalData")
PEGAZUS = ("PeGazUs, Charly Bernard (charlybernard/pegazus-evaluation, pegazus-extension, "
           "umrlastig/pegazus-ontology); geometries from the ALPAGE and GeoHistoricalData vectorisations")
LO = "Licence Ouverte 2.0 (Etalab)"
FSA = "gazetteers/pegazus_faubourg_saint_antoine"
BAC = "gazetteers/butte_aux_cailles"


def _read(shared: Path, rel: str) -> gpd.GeoDataFrame:
    return gpd.read_file(shared / rel)


def _fix_mojibake(text: str) -> str:
    """'Quai des CÃ©lestins' -> 'Quai des Célestins' (UTF-8 read as Latin-1)."""
    if "Ã" in text or "Â" in text:
        try:
            return text.encode("latin-1").decode("utf-8")
        except UnicodeError:
            return text
    return text


def _network(shared: Path, parts: list[tuple[str, str]], ranges: tuple[str, str, str, str] | None = None):
    frames = []
    for rel, field in parts:
        raw = _read(shared, rel)
        frame, _ = to_standard(raw, name_field=field, range_fields=ranges, kind="street_network", source_path=rel)
        frame["source_id"] = [f"{Path(rel).stem}:{i}" for i in frame["source_id"]]
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    if ranges:
        for col in ("left_from", "left_to", "right_from", "right_to"):
            # 0 and -1 mean "no number on this side" in the Atlas municipal attributes
            out[col] = out[col].where(~out[col].isin(["0", "-1"]), None)
    return gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:2154")


def _points(shared: Path, rel: str, name_field: str, number_field: str):
    frame, _ = to_standard(_read(shared, rel), name_field=name_field, number_field=number_field,
                           kind="address_points", source_path=rel)
    return frame[frame["number"].notna()].reset_index(drop=True)


def _wikidata(shared: Path) -> pd.DataFrame:
    wd = pd.read_csv(shared / "gazetteers/names/wd_paris_landmarks.csv")
    wd = wd[wd["landmarkType"] == "thoroughfare"].copy()
    wd["entity"] = wd["landmarkId"].str.rsplit("/", n=1).str[-1]
    wd["year"] = pd.to_numeric(wd["timeStamp"].str.extract(r"^(-?\d{4})")[0], errors="coerce")
    rows = []
    for (entity, name), grp in wd.groupby(["entity", "nomOff"]):
        start = grp.loc[grp["timeType"] == "start", "year"].min()
        end = grp.loc[grp["timeType"] == "end", "year"].max()
        rows.append({"name": name, "entity": entity, "valid_from": start, "valid_to": end})
    return pd.DataFrame(rows)


def _events(shared: Path) -> pd.DataFrame:
    """Renaming events (pegazus events.json): names made effective / outdated on a date."""
    rows = []
    for zone in ("pegazus_faubourg_saint_antoine", "butte_aux_cailles"):
        data = json.loads((shared / f"gazetteers/{zone}/events.json").read_text(encoding="utf-8"))
        for i, event in enumerate(data.get("events", [])):
            m = re.match(r"(\d{4})", str(event.get("time", {}).get("stamp", "")))
            if not m:
                continue
            year = float(m.group(1))
            entity = f"{zone}:event{i}"
            for landmark in event.get("landmarks", []):
                for change in landmark.get("changes", []):
                    if change.get("attribute") != "name":
                        continue
                    for value in change.get("makes_effective", []):
                        rows.append({"name": value["value"], "entity": entity, "valid_from": year, "valid_to": None})
                    for value in change.get("outdates", []):
                        rows.append({"name": value["value"], "entity": entity, "valid_from": None, "valid_to": year})
    return pd.DataFrame(rows, columns=["name", "entity", "valid_from", "valid_to"])


def _road_names(shared: Path) -> pd.DataFrame:
    lines = (shared / "gazetteers/names/paris_road_name.csv").read_text(encoding="utf-8").splitlines()
    names = sorted({_fix_mojibake(line.strip()) for line in lines if line.strip()})
    return pd.DataFrame({"name": names, "entity": None, "valid_from": None, "valid_to": None})


def build(shared: Path, dest: Path = HERE) -> list[GazetteerInfo]:
    zone_fsa = "Faubourg Saint-Antoine study zone (11e/12e/4e)"
    specs: list[tuple[GazetteerInfo, object]] = [
        (GazetteerInfo("delagrive_1728_fsa", "street_network", "delagrive_1728_fsa.gpkg", (1700, 1760),
                       title=f"Plan de Delagrive (1728), streets — {zone_fsa}", source=PEGAZUS, licence=LO,
                       attribution=CREDIT_PEGAZUS,
                       url="https://github.com/charlybernard/pegazus-evaluation"),
         lambda: _network(shared, [(f"{FSA}/plan_delagrive_1728_voies.geojson", "nom")])),
        (GazetteerInfo("verniquet_1791_fsa", "street_network", "verniquet_1791_fsa.gpkg", (1770, 1804),
                       title=f"Atlas de Verniquet (1791), streets — {zone_fsa}", source=PEGAZUS, licence=LO,
                       attribution=CREDIT_PEGAZUS,
                       url="https://github.com/charlybernard/pegazus-evaluation"),
         lambda: _network(shared, [(f"{FSA}/atlas_verniquet_1791_voies.geojson", "nom")])),
        (GazetteerInfo("vasserot_1810_fsa", "street_network", "vasserot_1810_fsa.gpkg", (1805, 1830),
                       title=f"Atlas de Vasserot (1810–1836), streets — {zone_fsa}", source=PEGAZUS, licence=LO,
                       attribution=CREDIT_PEGAZUS,
                       url="https://github.com/charlybernard/pegazus-evaluation"),
         lambda: _network(shared, [(f"{FSA}/atlas_vasserot_1810_voies.geojson", "nom_entier")])),
        (GazetteerInfo("vasserot_1810_addresses_fsa", "address_points", "vasserot_1810_addresses_fsa.gpkg",
                       (1805, 1830), title=f"Atlas de Vasserot (1810), house numbers on parcels — {zone_fsa}",
                       source=PEGAZUS, licence=LO, attribution=CREDIT_PEGAZUS, url="https://github.com/charlybernard/pegazus-evaluation",
                       notes="1805 numbering (odd/even sides); hand-made by ALPAGE on the Vasserot parcels"),
         lambda: _points(shared, "geocoding/dev/pegazus_faubourg_saint_antoine/atlas_vasserot_1810_adresses.geojson",
                         "nom_entier", "num_voies")),
        (GazetteerInfo("jacoubet_1836_fsa", "street_network", "jacoubet_1836_fsa.gpkg", (1825, 1845),
                       title=f"Atlas de Jacoubet (1827–1836), streets — {zone_fsa}", source=PEGAZUS, licence=LO,
                       attribution=CREDIT_PEGAZUS,
                       url="https://github.com/charlybernard/pegazus-evaluation",
                       notes="only the study zone; the whole-city Jacoubet network has no confirmed licence: "
                             "add it yourself with `jadis gazetteer add`"),
         lambda: _network(shared, [(f"{FSA}/atlas_jacoubet_1836_voies.geojson", "nom_entier")])),
        (GazetteerInfo("jacoubet_1836_addresses_fsa", "address_points", "jacoubet_1836_addresses_fsa.gpkg",
                       (1825, 1845), title=f"Atlas de Jacoubet (1836), house numbers — {zone_fsa}",
                       source=PEGAZUS, licence=LO, attribution=CREDIT_PEGAZUS, url="https://github.com/charlybernard/pegazus-evaluation"),
         lambda: _points(shared, "geocoding/dev/pegazus_faubourg_saint_antoine/atlas_jacoubet_1836_adresses.geojson",
                         "nom_entier", "num_voies")),
        (GazetteerInfo("andriveau_1849", "street_network", "andriveau_1849.gpkg", (1842, 1858),
                       title="Plan d'Andriveau-Goujon (1849), streets — Faubourg Saint-Antoine and Butte-aux-Cailles",
                       source=PEGAZUS, licence=LO, attribution=CREDIT_PEGAZUS, url="https://github.com/charlybernard/pegazus-evaluation"),
         lambda: _network(shared, [(f"{FSA}/plan_andriveau_1849_voies.geojson", "nom_entier"),
                                   (f"{BAC}/plan_andriveau_1849_voies.geojson", "name")])),
        (GazetteerInfo("atlas_municipal_1888", "street_network", "atlas_municipal_1888.gpkg", (1870, 1905),
                       title="Atlas municipal (1888), streets with house-number ranges — Faubourg Saint-Antoine "
                             "and Butte-aux-Cailles", source=PEGAZUS, licence=LO, attribution=CREDIT_PEGAZUS,
                       url="https://github.com/charlybernard/pegazus-extension",
                       notes="left_/right_ from/to: first and last house number on each side of a segment, "
                             "relative to its digitising direction"),
         lambda: _network(shared, [(f"{FSA}/atlas_municipal_1888_voies.geojson", "nom_1888"),
                                   (f"{BAC}/atlas_municipal_1888_voies.geojson", "nom_1888")],
                          ranges=("adr_dg88", "adr_fg88", "adr_dd88", "adr_fd88"))),
        (GazetteerInfo("atlas_municipal_1888_addresses_bac", "address_points",
                       "atlas_municipal_1888_addresses_bac.gpkg", (1870, 1905),
                       title="Atlas municipal (1888), house numbers — Butte-aux-Cailles (13e)", source=PEGAZUS,
                       licence=LO, attribution=CREDIT_PEGAZUS, url="https://github.com/charlybernard/pegazus-extension",
                       notes="points interpolated by PeGazUs from the Atlas's house-number ranges"),
         lambda: _points(shared, "geocoding/dev/pegazus_butte_aux_cailles/"
                                 "butte_aux_cailles_atlas_municipal_1888_adresses.geojson", "normalised", "numbers_va")),
        (GazetteerInfo("wikidata_street_names", "names", "wikidata_street_names.gpkg", None,
                       title="Wikidata: names of Paris thoroughfares with their start/end dates",
                       source="Wikidata (via PeGazUs wd_paris_landmarks.csv)", licence="CC0 1.0",
                       attribution="Wikidata contributors (CC0 1.0)",
                       url="https://www.wikidata.org/"),
         lambda: _wikidata(shared)),
        (GazetteerInfo("pegazus_events", "names", "pegazus_events.gpkg", None,
                       title="Renaming events of the PeGazUs study zones (from Wikipedia)", source=PEGAZUS,
                       licence=LO, attribution=CREDIT_PEGAZUS, url="https://github.com/charlybernard/pegazus-evaluation"),
         lambda: _events(shared)),
        (GazetteerInfo("paris_road_names", "names", "paris_road_names.gpkg", None,
                       title="Current and historical Paris road names (no dates)",
                       source="GeoHistoricalData/historical_geocoding, Copyright (c) 2016 GeoHistoricalData",
                       licence="MIT", url="https://github.com/GeoHistoricalData/historical_geocoding",
                       attribution="Copyright (c) 2016 GeoHistoricalData, MIT licence (see gazetteers/README.md)",
                       notes="5 mojibake lines repaired"),
         lambda: _road_names(shared)),
    ]
    infos = []
    for info, make in specs:
        frame = make()
        if info.kind == "names":
            frame = frame.astype({"valid_from": "float64", "valid_to": "float64"})
        written = write_gazetteer(frame, info, dest)
        print(f"{written.name:38s} {written.kind:15s} {written.features:6d} features", file=sys.stderr)
        infos.append(written)
    write_manifest(dest, infos)
    return infos


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=shared_data_dir())
    args = ap.parse_args()
    if args.shared is None:
        print("../shared/data not found; pass --shared", file=sys.stderr)
        return 1
    build(args.shared)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
