"""Gazetteers: the historical reference data the geocoder matches against, and their manifest.

A gazetteer is one GeoPackage in EPSG:2154 with a single layer ``features`` in a fixed schema, plus
an entry in a ``manifest.json`` next to it (source, licence, years valid, kind). Kinds:

* ``street_network`` — street centre-lines (LineStrings) with ``name`` and, optionally, house-number
  ranges per segment (``left_from``/``left_to``/``right_from``/``right_to``, relative to the
  digitising direction, as in the 1888 Atlas municipal);
* ``address_points`` — one point per house number (``name``, ``number``);
* ``street_points`` — one point (or polygon, stored as a point on its surface) per street;
* ``names`` — no geometry: street names with validity years and an ``entity`` id that ties the
  successive names of one street together (Wikidata, renaming events); used for name history.

Bundled gazetteers live in :func:`jadis.paths.gazetteers_dir`; ``jadis gazetteer add`` stores the
user's own under :func:`jadis.paths.user_home` ``/gazetteers`` with their own manifest.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jadis.errors import JadisError
from jadis.io.atomic import atomic_path, atomic_write_text
from jadis.paths import gazetteers_dir, user_home

KINDS = ("street_network", "address_points", "street_points", "names")
CRS = "EPSG:2154"
LAYER = "features"
MANIFEST = "manifest.json"
RANGE_COLUMNS = ("left_from", "left_to", "right_from", "right_to")
#: Broad Île-de-France box in EPSG:2154: a gazetteer outside it almost surely has a wrong CRS.
PARIS_REGION = (560_000.0, 6_760_000.0, 740_000.0, 6_940_000.0)
_NAME_FIELDS = ("name", "nom", "nom_entier", "normalised", "nom_1888", "street", "rue", "voie", "label",
                "nomoff", "nom_voie", "libelle", "street_name", "address_street")
_NUMBER_FIELDS = ("number", "numero", "num", "num_voies", "numbers_va", "housenumber", "house_number",
                  "numero_voie", "num_voie", "no")
_WKT_FIELDS = ("wkt", "geometry", "geom", "the_geom", "wkt_geom")
_XY_FIELDS = (("x", "y"), ("lon", "lat"), ("longitude", "latitude"), ("lng", "lat"), ("easting", "northing"))
_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class GazetteerInfo:
    """A manifest entry: what a gazetteer is, where it comes from, when it is valid."""

    name: str
    kind: str
    file: str
    years: tuple[int, int] | None = None
    title: str = ""
    source: str = ""
    licence: str = ""
    attribution: str = ""
    url: str = ""
    crs: str = CRS
    features: int = 0
    notes: str = ""
    #: "modern" for present-day data (BAN, OpenStreetMap…): its names and numbers are today's, so a
    #: match is reported as such (``modern_address`` / ``modern_street``); "" for historical data.
    era: str = ""
    retrieved: str = ""   #: when a fetched source was downloaded (ISO date), "" otherwise
    checksum: str = ""    #: "sha256:<hex>" of the downloaded file(s) it was made from
    bundled: bool = True
    folder: str = field(default="", compare=False)

    @property
    def path(self) -> Path:
        return Path(self.folder) / self.file

    @property
    def modern(self) -> bool:
        return self.era == "modern"

    def valid_at(self, year: float | None) -> bool:
        return year is None or self.years is None or self.years[0] <= year <= self.years[1]

    def years_from(self, year: float | None) -> float:
        """Years between ``year`` and the validity interval (0 inside it or when unknown)."""
        if year is None or self.years is None:
            return 0.0
        lo, hi = self.years
        return float(max(lo - year, 0, year - hi))

    def years_text(self) -> str:
        return "any year" if self.years is None else f"{self.years[0]}–{self.years[1]}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("folder")
        data.pop("bundled")
        for key in ("era", "retrieved", "checksum"):  # manifests of historical data stay as they were
            if not data[key]:
                data.pop(key)
        data["years"] = list(self.years) if self.years else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], folder: Path, bundled: bool) -> GazetteerInfo:
        known = {f for f in cls.__dataclass_fields__ if f not in ("folder", "bundled")}
        values = {k: v for k, v in data.items() if k in known}
        years = values.get("years")
        values["years"] = (int(years[0]), int(years[1])) if years else None
        return cls(**values, bundled=bundled, folder=str(folder))


@dataclass
class Gazetteer:
    """A loaded gazetteer: its manifest entry and its features (GeoDataFrame, or DataFrame for names)."""

    info: GazetteerInfo
    frame: pd.DataFrame

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def kind(self) -> str:
        return self.info.kind


# --------------------------------------------------------------------------------------------- manifest


def user_gazetteers_dir() -> Path:
    return user_home() / "gazetteers"


def _read_manifest(folder: Path, bundled: bool) -> list[GazetteerInfo]:
    path = folder / MANIFEST
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [GazetteerInfo.from_json(entry, folder, bundled) for entry in data.get("gazetteers", [])]
    except (ValueError, TypeError, KeyError) as exc:
        raise JadisError(f"{path}: unreadable gazetteer manifest ({exc})") from exc


def write_manifest(folder: Path, infos: list[GazetteerInfo]) -> Path:
    """Write ``manifest.json`` for the gazetteers of one folder (atomically)."""
    path = folder / MANIFEST
    payload = {"version": 1, "crs": CRS, "gazetteers": [info.to_json() for info in infos]}
    atomic_write_text(path, json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    return path


def list_gazetteers(include_user: bool = True) -> list[GazetteerInfo]:
    """All gazetteers: the bundled ones, then the user's own."""
    infos = _read_manifest(gazetteers_dir(), bundled=True)
    if include_user:
        infos += _read_manifest(user_gazetteers_dir(), bundled=False)
    return infos


def get_info(name: str) -> GazetteerInfo:
    for info in list_gazetteers():
        if info.name == name:
            return info
    known = ", ".join(i.name for i in list_gazetteers()) or "none"
    raise JadisError(f"unknown gazetteer {name!r} (known: {known}; see `jadis gazetteer list`)")


_CACHE: dict[tuple[str, float], Gazetteer] = {}


def load_gazetteer(info: GazetteerInfo | str) -> Gazetteer:
    """Read a gazetteer's features (cached per file and modification time)."""
    import pyogrio

    if isinstance(info, str):
        info = get_info(info)
    path = info.path
    if not path.exists():
        raise JadisError(f"gazetteer {info.name!r}: file {path} is missing (reinstall, or `jadis gazetteer add` again)")
    key = (str(path), path.stat().st_mtime)
    if key not in _CACHE:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = pyogrio.read_dataframe(path, layer=LAYER, use_arrow=True)
        if "geometry" in getattr(frame, "columns", []) and getattr(frame, "crs", None) is not None \
                and frame.crs.to_epsg() != 2154:
            frame = frame.to_crs(CRS)
        _CACHE[key] = Gazetteer(info, frame)
    return _CACHE[key]


def load_gazetteers(names: list[str] | None = None, kinds: tuple[str, ...] = KINDS) -> list[Gazetteer]:
    """Load the named gazetteers (all when ``names`` is None) of the given kinds."""
    infos = list_gazetteers()
    if names:
        wanted = {n for n in names}
        missing = wanted - {i.name for i in infos}
        if missing:
            get_info(sorted(missing)[0])  # raises with the list of known names
        infos = [i for i in infos if i.name in wanted]
    return [load_gazetteer(i) for i in infos if i.kind in kinds]


# --------------------------------------------------------------------------------------------- reading sources


def parse_years(text: str | int | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"1820-1850"`` -> (1820, 1850); ``"1836"`` -> (1836, 1836); None stays None."""
    if text is None or text == "":
        return None
    if isinstance(text, tuple):
        lo, hi = text
    else:
        m = re.fullmatch(r"\s*(\d{3,4})\s*(?:(?:[-–/:]|\.\.|to)\s*(\d{3,4}))?\s*", str(text))
        if not m:
            raise JadisError(f"years must look like 1820-1850 or 1836, got {text!r}")
        lo = int(m.group(1))
        hi = int(m.group(2) or m.group(1))
    if not (1000 <= lo <= hi <= 2200):
        raise JadisError(f"years {lo}-{hi} are not a valid range (start <= end, between 1000 and 2200)")
    return lo, hi


def _pick_field(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str,
                path: Path, required: bool) -> str | None:
    lower = {c.lower(): c for c in columns}
    if wanted:
        if wanted in columns:
            return wanted
        if wanted.lower() in lower:
            return lower[wanted.lower()]
        raise JadisError(f"{path}: no {what} field {wanted!r}; fields are: {', '.join(columns)}")
    for cand in candidates:
        if cand in lower:
            return lower[cand]
    if required:
        raise JadisError(f"{path}: cannot tell which field holds the {what}; pass --{what}-field "
                         f"(fields are: {', '.join(columns)})")
    return None


def _read_csv_table(path: Path, crs: str | None, x_field: str | None, y_field: str | None,
                    wkt_field: str | None):
    import geopandas as gpd
    import shapely

    from jadis.geocode.tables import read_table

    df = read_table(path)
    cols = list(df.columns)
    lower = {c.lower(): c for c in cols}
    if wkt_field or not (x_field and y_field):
        wkt = _pick_field(cols, wkt_field, _WKT_FIELDS, "wkt", path, required=False)
    else:
        wkt = None
    if wkt is not None:
        try:
            geoms = shapely.from_wkt(df[wkt].fillna("").astype(str).replace("", None), on_invalid="raise")
        except shapely.errors.GEOSException as exc:
            raise JadisError(f"{path}: column {wkt!r} holds invalid WKT ({str(exc).splitlines()[0]})") from exc
        frame = gpd.GeoDataFrame(df.drop(columns=[wkt]), geometry=geoms)
        default_crs = None
    else:
        if x_field and y_field:
            xf, yf = _pick_field(cols, x_field, (), "x", path, True), _pick_field(cols, y_field, (), "y", path, True)
        else:
            pair = next(((lower[a], lower[b]) for a, b in _XY_FIELDS if a in lower and b in lower), None)
            if pair is None:
                raise JadisError(f"{path}: a CSV gazetteer needs a WKT column or x/y (lon/lat) columns; "
                                 f"fields are: {', '.join(cols)} (use --wkt-field or --x-field/--y-field)")
            xf, yf = pair
        x = pd.to_numeric(df[xf], errors="coerce")
        y = pd.to_numeric(df[yf], errors="coerce")
        bad = int((x.isna() | y.isna()).sum())
        if bad == len(df):
            raise JadisError(f"{path}: columns {xf!r}/{yf!r} hold no numbers")
        frame = gpd.GeoDataFrame(df.drop(columns=[xf, yf]), geometry=gpd.points_from_xy(x, y))
        frame = frame[~(x.isna() | y.isna()).to_numpy()]
        default_crs = _guess_crs(x.dropna().to_numpy(), y.dropna().to_numpy(), xf)
    if crs is None and default_crs is None:
        raise JadisError(f"{path}: CSV coordinates have no CRS; pass --crs (e.g. EPSG:2154 or EPSG:4326)")
    return frame.set_crs(crs or default_crs, allow_override=True)


def _guess_crs(x: np.ndarray, y: np.ndarray, x_name: str) -> str | None:
    """EPSG:4326 for lon/lat-looking values, EPSG:2154 for Lambert-93-looking ones, else None."""
    if len(x) == 0:
        return None
    if np.all(np.abs(x) <= 180) and np.all(np.abs(y) <= 90):
        return "EPSG:4326"
    if np.all((x > 100_000) & (x < 1_300_000)) and np.all((y > 6_000_000) & (y < 7_200_000)):
        return "EPSG:2154"
    return None


def read_source(path: str | os.PathLike[str], *, layer: str | None = None, crs: str | None = None,
                x_field: str | None = None, y_field: str | None = None, wkt_field: str | None = None):
    """Read a vector file (GeoPackage, GeoJSON, Shapefile, …) or a CSV (WKT or x/y) as a GeoDataFrame."""
    import pyogrio
    from pyproj import CRS as ProjCRS
    from pyproj.exceptions import CRSError

    path = Path(path)
    if not path.exists():
        raise JadisError(f"{path}: no such file")
    if path.is_dir() and path.suffix.lower() != ".gdb":
        raise JadisError(f"{path}: is a directory, not a vector file")
    if path.is_file() and path.stat().st_size == 0:
        raise JadisError(f"{path}: empty file")
    if crs is not None:
        try:
            ProjCRS.from_user_input(crs)
        except CRSError as exc:
            raise JadisError(f"unknown CRS {crs!r} (use e.g. EPSG:2154, EPSG:4326 or a PROJ string)") from exc
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return _read_csv_table(path, crs, x_field, y_field, wkt_field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layers = pyogrio.list_layers(path)
            if layer is None and len(layers) > 1:
                spatial = [str(n) for n, g in layers if g is not None]
                if len(spatial) != 1:
                    names = ", ".join(str(n) for n, _ in layers)
                    raise JadisError(f"{path}: has several layers ({names}); choose one with --layer")
                layer = spatial[0]
            frame = pyogrio.read_dataframe(path, layer=layer, use_arrow=True)
    except pyogrio.errors.DataSourceError as exc:
        raise JadisError(f"{path}: not a readable vector file ({str(exc).splitlines()[0]})") from exc
    except pyogrio.errors.DataLayerError as exc:
        raise JadisError(f"{path}: {str(exc).splitlines()[0]}") from exc
    if "geometry" not in frame.columns:
        raise JadisError(f"{path}: has no geometry (for a CSV with coordinates, use a .csv file)")
    if crs is not None:
        frame = frame.set_crs(crs, allow_override=True)
    elif frame.crs is None:
        raise JadisError(f"{path}: declares no CRS; pass --crs (e.g. EPSG:2154)")
    return frame


# --------------------------------------------------------------------------------------------- normalising


def _number_text(value: Any) -> str | None:
    """House numbers as compact text: 12 -> "12", 12.0 -> "12", "12 bis" -> "12bis"."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and float(value).is_integer()):
        return str(int(value))
    text = re.sub(r"\s+", "", str(value)).lower()
    return text or None


def to_standard(frame, *, name_field: str | None, number_field: str | None = None,
                range_fields: tuple[str, str, str, str] | None = None, kind: str | None = None,
                source_path: Path | str = "input"):
    """Convert a GeoDataFrame to the gazetteer schema in EPSG:2154; returns (frame, kind).

    Raises :class:`JadisError` on anything a user could get wrong: no usable name field, mixed or
    empty geometries, coordinates outside the Paris region (a wrong CRS).
    """
    import geopandas as gpd
    import shapely

    path = Path(source_path)
    cols = [c for c in frame.columns if c != "geometry"]
    name_col = _pick_field(cols, name_field, _NAME_FIELDS, "name", path, required=True)
    number_col = _pick_field(cols, number_field, _NUMBER_FIELDS, "number", path, required=False)
    frame = frame[~frame.geometry.isna() & ~frame.geometry.is_empty].copy()
    names = frame[name_col].astype("string").str.strip()
    frame = frame[names.notna() & (names != "")]
    if len(frame) == 0:
        raise JadisError(f"{path}: no feature has both a geometry and a name (field {name_col!r})")
    try:
        frame = frame.to_crs(CRS)
    except Exception as exc:  # noqa: BLE001 - pyproj raises several types
        raise JadisError(f"{path}: cannot reproject from {frame.crs} to {CRS} ({exc})") from exc
    x0, y0, x1, y1 = frame.total_bounds
    rx0, ry0, rx1, ry1 = PARIS_REGION
    if not (rx0 <= x0 and x1 <= rx1 and ry0 <= y0 and y1 <= ry1):
        raise JadisError(f"{path}: coordinates fall outside the Paris region once read as {frame.crs.name!r} "
                         f"-> wrong or missing CRS? (pass the right one with --crs)")
    types = set(frame.geom_type.unique())
    lines, points, polys = types <= {"LineString", "MultiLineString"}, types <= {"Point", "MultiPoint"}, \
        types <= {"Polygon", "MultiPolygon"}
    if not (lines or points or polys):
        raise JadisError(f"{path}: mixed geometry types {sorted(types)}; a gazetteer holds lines, points "
                         "or polygons, not a mix")
    geoms = frame.geometry.values
    if points:
        # single-part MultiPoints (common in exports) become Points; true multi-points their centroid
        geoms = shapely.centroid(geoms)
    elif polys:
        geoms = shapely.point_on_surface(geoms)
    numbers = frame[number_col].map(_number_text) if number_col else pd.Series([None] * len(frame), index=frame.index)
    if kind is None:
        if lines:
            kind = "street_network"
        elif number_col and numbers.notna().any():
            kind = "address_points"
        else:
            kind = "street_points"
    if kind not in KINDS or kind == "names":
        raise JadisError(f"kind must be one of street_network, address_points, street_points; got {kind!r}")
    if kind == "street_network" and not lines:
        raise JadisError(f"{path}: a street network needs line geometries, found {sorted(types)}")
    if kind == "address_points":
        if not points:
            raise JadisError(f"{path}: address points need point geometries, found {sorted(types)}")
        if numbers.isna().all():
            raise JadisError(f"{path}: address points need house numbers (pass --number-field)")
    out = gpd.GeoDataFrame({
        "name": frame[name_col].astype(str).str.strip().to_numpy(),
        "number": numbers.astype("object").to_numpy(),
    }, geometry=gpd.GeoSeries(geoms, crs=CRS).to_numpy(), crs=CRS)
    if range_fields is not None:
        for std, col in zip(RANGE_COLUMNS, range_fields, strict=True):
            if col not in frame.columns:
                raise JadisError(f"{path}: no range field {col!r}")
            out[std] = frame[col].map(_number_text).to_numpy()
    out["source_id"] = np.arange(len(out)).astype(str) if "id" not in frame.columns else \
        frame["id"].astype(str).to_numpy()
    return out, kind


def write_gazetteer(frame: pd.DataFrame, info: GazetteerInfo, folder: Path,
                    extra_layers: dict[str, pd.DataFrame] | None = None) -> GazetteerInfo:
    """Write the features of one gazetteer (and any extra layers, e.g. OCR readings) atomically;
    return its completed manifest entry."""
    import pyogrio

    dest = folder / info.file
    with atomic_path(dest) as tmp:
        pyogrio.write_dataframe(frame, tmp, layer=LAYER, driver="GPKG")
        for layer, extra in (extra_layers or {}).items():
            pyogrio.write_dataframe(extra, tmp, layer=layer, driver="GPKG", append=True)
    return replace(info, features=int(len(frame)), folder=str(folder))


# --------------------------------------------------------------------------------------------- user gazetteers


def add_gazetteer(path: str | os.PathLike[str], name: str, years: str | tuple[int, int] | None, *,
                  name_field: str | None = None, number_field: str | None = None, layer: str | None = None,
                  crs: str | None = None, x_field: str | None = None, y_field: str | None = None,
                  wkt_field: str | None = None, kind: str | None = None, source: str = "",
                  licence: str = "", title: str = "", replace_existing: bool = False) -> GazetteerInfo:
    """Validate a user's file and store it as a gazetteer under :func:`user_gazetteers_dir`."""
    if not _SAFE_NAME.match(name):
        raise JadisError(f"gazetteer name {name!r}: use lower-case letters, digits, '_', '-' or '.'")
    span = parse_years(years)
    existing = {i.name: i for i in list_gazetteers()}
    if name in existing and (existing[name].bundled or not replace_existing):
        where = "a bundled gazetteer" if existing[name].bundled else "a gazetteer you added (use --replace)"
        raise JadisError(f"gazetteer name {name!r} is already taken by {where}")
    raw = read_source(path, layer=layer, crs=crs, x_field=x_field, y_field=y_field, wkt_field=wkt_field)
    frame, kind = to_standard(raw, name_field=name_field, number_field=number_field, kind=kind,
                              source_path=Path(path))
    folder = user_gazetteers_dir()
    folder.mkdir(parents=True, exist_ok=True)
    info = GazetteerInfo(name=name, kind=kind, file=f"{name}.gpkg", years=span, title=title or Path(path).name,
                         source=source or str(Path(path).resolve()), licence=licence or "user data",
                         bundled=False, folder=str(folder))
    info = write_gazetteer(frame, info, folder)
    others = [i for i in _read_manifest(folder, bundled=False) if i.name != name]
    write_manifest(folder, [*others, info])
    return info


def remove_gazetteer(name: str) -> GazetteerInfo:
    """Remove a gazetteer the user added (bundled ones cannot be removed)."""
    info = get_info(name)
    if info.bundled:
        raise JadisError(f"{name!r} is bundled with jadis and cannot be removed; leave it out with --gazetteer")
    folder = user_gazetteers_dir()
    write_manifest(folder, [i for i in _read_manifest(folder, bundled=False) if i.name != name])
    info.path.unlink(missing_ok=True)
    return info
