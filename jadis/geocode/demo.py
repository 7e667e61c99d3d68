"""The geocoding part of ``jadis demo``: the bundled directory addresses onto a map's year."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Trade-directory entries 1820–1861 (DAS 2022 NER gold, CC BY 4.0; see data/README.md).
ADDRESSES = "addresses_directories_1820_1861.csv"


@dataclass(frozen=True)
class DemoGeocoding:
    csv: Path
    gpkg: Path
    total: int
    summary: str  #: "6 address_point, 19 interpolated, 0 street, 13 none"


def bundled_addresses_path() -> Path:
    from jadis.paths import data_dir

    return data_dir() / ADDRESSES


def geocode_bundled_addresses(out_dir: Path, year: int, gazetteers: list[str] | None = None) -> DemoGeocoding:
    """Geocode the bundled address list for ``year``; write ``addresses_<year>.csv`` and ``.gpkg``."""
    from jadis.errors import JadisError
    from jadis.geocode.gazetteer import load_gazetteers
    from jadis.geocode.geocoder import MATCH_TYPES, Geocoder
    from jadis.geocode.tables import read_table, write_results

    source = bundled_addresses_path()
    if not source.is_file():
        raise JadisError(f"{source}: bundled address list not found (is data/ complete?)")
    table = read_table(source)
    result = Geocoder(load_gazetteers(gazetteers)).geocode_table(table, "entry", year=year, progress=False)
    out_dir = Path(out_dir)
    csv_path = write_results(result, out_dir / f"addresses_{year}.csv")
    gpkg_path = write_results(result, out_dir / f"addresses_{year}.gpkg")
    counts = result["match_type"].value_counts()
    summary = ", ".join(f"{counts.get(t, 0)} {t}" for t in MATCH_TYPES)
    return DemoGeocoding(csv_path, gpkg_path, len(result), summary)
