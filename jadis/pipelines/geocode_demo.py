"""The geocoding part of ``jadis demo`` (a pipeline: the bundled directory addresses onto a map's year,
with the map read as the gazetteer of its year)."""

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
    map_gazetteer: Path | None = None  #: street names read on the sample map, when it was segmented
    map_names: int = 0


def bundled_addresses_path() -> Path:
    from jadis.paths import data_dir

    return data_dir() / ADDRESSES


def geocode_bundled_addresses(out_dir: Path, year: int, gazetteers: list[str] | None = None, *,
                              map_layers: Path | None = None, map_image: Path | None = None,
                              map_georef: Path | None = None) -> DemoGeocoding:
    """Geocode the bundled address list for ``year``; write ``addresses_<year>.csv`` and ``.gpkg``.

    With a segmented, georeferenced map (``map_layers`` in pixels, ``map_image``, ``map_georef``),
    the street names read on it are added as the gazetteer of ``year`` (written to
    ``map_gazetteer_<year>.gpkg``): the map is the gazetteer of its year.
    """
    from jadis.errors import JadisError
    from jadis.geocode.gazetteer import Gazetteer, GazetteerInfo, load_gazetteers
    from jadis.geocode.geocoder import MATCH_TYPES, Geocoder
    from jadis.geocode.tables import read_table, write_results

    source = bundled_addresses_path()
    if not source.is_file():
        raise JadisError(f"{source}: bundled address list not found (is data/ complete?)")
    table = read_table(source)
    out_dir = Path(out_dir)
    loaded = load_gazetteers(gazetteers)
    map_path, map_names = None, 0
    if map_layers is not None and map_image is not None and map_georef is not None:
        from jadis.io.vector import write_layers
        from jadis.pipelines.map_gazetteer import read_map

        reading = read_map(map_layers, map_image, georef_path=map_georef, year=year, progress=False)
        if len(reading.streets):
            info = GazetteerInfo(name=f"map_{Path(map_image).stem}", kind="street_network", file="", years=(year, year),
                                 title=f"street names read on {Path(map_image).name}", bundled=False)
            loaded.append(Gazetteer(info, reading.streets))
            map_names = int(reading.streets["name"].nunique())
        if reading.numbers is not None and len(reading.numbers):  # house numbers read: address points
            info = GazetteerInfo(name=f"map_{Path(map_image).stem}_numbers", kind="address_points", file="",
                                 years=(year, year), title=f"house numbers read on {Path(map_image).name}",
                                 bundled=False)
            loaded.append(Gazetteer(info, reading.numbers[["name", "number", "source_id", "geometry"]]))
        map_path = write_layers(out_dir / f"map_gazetteer_{year}.gpkg",
                                {"streets": reading.streets, "labels": reading.readings,
                                 "house_numbers": reading.numbers})
    result = Geocoder(loaded).geocode_table(table, "entry", year=year, progress=False)
    csv_path = write_results(result, out_dir / f"addresses_{year}.csv")
    gpkg_path = write_results(result, out_dir / f"addresses_{year}.gpkg")
    counts = result["match_type"].value_counts()
    summary = ", ".join(f"{counts.get(t, 0)} {t}" for t in MATCH_TYPES if t in counts or not t.startswith("modern"))
    return DemoGeocoding(csv_path, gpkg_path, len(result), summary, map_path, map_names)
