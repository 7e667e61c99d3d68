"""The catalogue of open whole-city sources ``jadis gazetteer fetch`` downloads, and their converters.

Each :class:`Source` says where the data is (the URL its publisher documents, given in ``doc_url``),
under which licence, what it becomes (kinds of gazetteer) and how to convert the publisher's real
format into the gazetteer standard (:func:`jadis.geocode.gazetteer.to_standard`):

* ``ban-paris`` — Base Adresse Nationale, département 75, ``;``-separated CSV (gzip), one row per
  address with ``numero``/``rep``/``nom_voie`` and Lambert-93 ``x``/``y``;
* ``paris-voies`` — Ville de Paris "dénominations des emprises des voies actuelles" and "… des voies
  caduques", the Opendatasoft Explore API v2.1 CSV export (``;``, BOM, ``geo_shape`` GeoJSON in
  WGS84): a point per current street, and a names gazetteer tying each street's former names (read
  from its "Historique" text) and the obsolete names to it;
* ``osm-paris`` — OpenStreetMap named highways of the commune of Paris, an Overpass API answer in
  JSON with ``out geom`` (each way carries its coordinates);
* ``ghd-verniquet-1791`` / ``ghd-jacoubet-1836`` — GeoHistoricalData's vectorised street networks on
  Harvard Dataverse: the files are found through the Dataverse native API (the dataset's record
  lists them with an MD5 and declares the licence, which is shown before download).

Checksums of upstream files change with every release, so none is pinned by default; what was
downloaded is recorded (sha256) in the manifest. A converter receives the downloaded files by
resource key and returns ``(frame, GazetteerInfo)`` pairs ready for
:func:`~jadis.geocode.gazetteer.write_gazetteer`.
"""

from __future__ import annotations

import json
import re
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from jadis.errors import JadisError
from jadis.geocode.gazetteer import CRS, GazetteerInfo, to_standard

ODBL = "Open Database License (ODbL) 1.0"
ODBL_URL = "https://opendatacommons.org/licenses/odbl/1-0/"
ODBL_TERMS = ("ODbL: you may use, share and adapt the data; credit the source, and share a database you derive "
              "from it under the ODbL too (share-alike)")
LO2 = "Licence Ouverte / Open Licence 2.0 (Etalab)"
LO2_URL = "https://www.etalab.gouv.fr/licence-ouverte-open-licence"
LO2_TERMS = "Licence Ouverte 2.0: free reuse, including commercial, provided the source and its date are credited"
#: The Overpass QL query for the named streets of the commune of Paris (INSEE 75056), with geometry.
OVERPASS_QUERY = ('[out:json][timeout:300];area["ref:INSEE"="75056"]["boundary"="administrative"]->.paris;'
                  'way["highway"]["name"](area.paris);out geom;')
DATAVERSE_DOI = "doi:10.7910/DVN/CCESX4"


@dataclass(frozen=True)
class Resource:
    """One file to download."""

    key: str
    url: str
    filename: str            #: name of the cached copy (its suffix tells how to check it: .gz, .zip)
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Converted:
    """One gazetteer made from a source: its features and its manifest entry (file, counts to fill)."""

    frame: pd.DataFrame
    info: GazetteerInfo


@dataclass(frozen=True)
class Source:
    """A catalogue entry."""

    name: str
    title: str
    resources: tuple[Resource, ...]
    format: str
    licence: str
    licence_url: str
    licence_terms: str
    attribution: str
    kinds: tuple[str, ...]
    outputs: tuple[str, ...]          #: names of the gazetteers it becomes
    era: str                          #: "modern" (present-day data) or "historical"
    doc_url: str                      #: where the URL and format are documented
    convert: Callable[[Source, dict[str, Path], int], list[Converted]] = field(repr=False, compare=False)
    years: tuple[int, int] | None = None  #: None: valid the year it is downloaded (present-day data)
    notes: str = ""
    dataverse: str = ""               #: a Dataverse DOI: resources are looked up in the dataset's record
    file_pattern: str = ""            #: which files of the Dataverse dataset (regex on the file name)

    def gazetteer_years(self, retrieved_year: int) -> tuple[int, int]:
        return self.years if self.years is not None else (retrieved_year, retrieved_year)


# --------------------------------------------------------------------------------------------- converters


def _read_csv(path: Path, what: str, required: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, sep=";", dtype=str, encoding="utf-8-sig", keep_default_na=False,
                            compression="infer")
    except (ValueError, UnicodeDecodeError, OSError, pd.errors.ParserError) as exc:
        raise JadisError(f"{path.name}: not a readable {what} CSV ({str(exc).splitlines()[0]})") from exc
    missing = [c for c in required if _column(frame, c) is None]
    if missing:
        raise JadisError(f"{path.name}: not a {what} CSV: no column {', '.join(map(repr, missing))} "
                         f"(columns: {', '.join(map(str, frame.columns[:12]))})")
    return frame


def _column(frame: pd.DataFrame, prefix: str) -> str | None:
    """The column named ``prefix`` or, failing that, the first beginning with it (accents vary upstream:
    "Date de l'arrêté" / "Date de l'arrété")."""
    if prefix in frame.columns:
        return prefix
    return next((c for c in frame.columns if str(c).startswith(prefix)), None)


def _year(text: object) -> float:
    m = re.search(r"\b(1\d{3}|20\d{2})\b", str(text or ""))
    return float(m.group(1)) if m else np.nan


def _info(source: Source, name: str, kind: str, years: tuple[int, int] | None, title: str, notes: str = "") -> GazetteerInfo:
    return GazetteerInfo(name=name, kind=kind, file=f"{name}.gpkg", years=years, title=title, source=source.title,
                         licence=source.licence, attribution=source.attribution, url=source.doc_url, notes=notes,
                         era=source.era, bundled=False)


def convert_ban(source: Source, files: dict[str, Path], year: int) -> list[Converted]:
    """BAN CSV (``adresses-75.csv.gz``) -> address points (number = ``numero`` + ``rep``)."""
    import geopandas as gpd

    path = files["addresses"]
    df = _read_csv(path, "BAN", ("numero", "nom_voie", "x", "y"))
    if "code_insee" in df.columns:  # the département file holds Paris only, but keep a mirror honest
        df = df[df["code_insee"].str.startswith("751")]
    x = pd.to_numeric(df["x"], errors="coerce")
    y = pd.to_numeric(df["y"], errors="coerce")
    ok = (x.notna() & y.notna()).to_numpy()
    df = df[ok].copy()
    if df.empty:
        raise JadisError(f"{path.name}: no BAN address with coordinates in Paris")
    rep = df["rep"].str.strip().str.lower() if "rep" in df.columns else ""
    df["number"] = df["numero"].str.strip() + rep
    frame = gpd.GeoDataFrame(df[["id", "nom_voie", "number"]] if "id" in df.columns else df[["nom_voie", "number"]],
                             geometry=gpd.points_from_xy(x[ok], y[ok]), crs=CRS)
    out, kind = to_standard(frame, name_field="nom_voie", number_field="number", kind="address_points",
                            source_path=path)
    years = source.gazetteer_years(year)
    return [Converted(out, _info(source, source.outputs[0], kind, years, "BAN: present-day address points of Paris",
                                 "modern numbering: may differ from the numbering of the address's year"))]


def _vdp_geometries(df: pd.DataFrame, path: Path):
    import shapely

    shapes = df["geo_shape"].replace("", None)
    try:
        return shapely.from_geojson(shapes.to_numpy(dtype=object), on_invalid="ignore")
    except shapely.errors.GEOSException as exc:
        raise JadisError(f"{path.name}: column 'geo_shape' holds invalid GeoJSON ({str(exc).splitlines()[0]})") from exc


def convert_vdp(source: Source, files: dict[str, Path], year: int) -> list[Converted]:
    """Ville de Paris street names: current streets -> one point each; names (current, former, obsolete)
    -> a names gazetteer whose ``entity`` ties a street's names together."""
    import geopandas as gpd

    from jadis.geocode.former_names import former_names

    name_col, date_col = "Dénomination complète minuscule", "Date de l'arr"
    cur_path = files["current"]
    cur = _read_csv(cur_path, "Ville de Paris 'voies actuelles'",
                    ("Identifiant", name_col, "geo_shape", "Historique"))
    cur_date = _column(cur, date_col)
    geoms = _vdp_geometries(cur, cur_path)
    streets = gpd.GeoDataFrame({"name": cur[name_col].to_numpy(), "id": cur["Identifiant"].to_numpy()},
                               geometry=gpd.GeoSeries(geoms, crs="EPSG:4326").to_numpy(), crs="EPSG:4326")
    out, kind = to_standard(streets, name_field="name", kind="street_points", source_path=cur_path)
    years = source.gazetteer_years(year)
    rows: list[dict] = []
    # a "former name" that some street bears today is a street this one was carved from or mentions
    # ("précédemment partie de la rue de Sully"), not a name to follow back
    today = {n.strip().lower() for n in cur[name_col]}
    for ident, name, date, hist in zip(cur["Identifiant"], cur[name_col], cur[cur_date] if cur_date else [""] * len(cur),
                                       cur["Historique"], strict=True):
        if not name.strip():
            continue
        since = _year(date)
        entity = f"voie:{ident}"
        rows.append({"name": name, "entity": entity, "valid_from": since, "valid_to": np.nan})
        for old in former_names(hist, name):
            if old.lower() not in today:
                rows.append({"name": old, "entity": entity, "valid_from": np.nan, "valid_to": since, "former": True})
    if "obsolete" in files:
        old_path = files["obsolete"]
        obs = _read_csv(old_path, "Ville de Paris 'voies caduques'", ("Identifiant", name_col))
        obs_date, end_col = _column(obs, date_col), _column(obs, "Date de caducit")
        for _, row in obs.iterrows():
            name = row[name_col]
            if not name.strip():
                continue
            entity = f"caduque:{row['Identifiant']}"
            since, until = _year(row[obs_date]) if obs_date else np.nan, _year(row[end_col]) if end_col else np.nan
            rows.append({"name": name, "entity": entity, "valid_from": since, "valid_to": until})
            text = " ".join(str(row.get(c, "")) for c in ("Dénomination", "Historique"))
            for old in former_names(text, name):
                if old.lower() not in today:
                    rows.append({"name": old, "entity": entity, "valid_from": np.nan, "valid_to": since,
                                 "former": True})
    table = pd.DataFrame(rows, columns=["name", "entity", "valid_from", "valid_to", "former"])
    former = int(table["former"].eq(True).sum())
    names = table.drop(columns=["former"]).astype({"valid_from": "float64", "valid_to": "float64"})
    return [
        Converted(out, _info(source, source.outputs[0], kind, years,
                             "Ville de Paris: present-day streets (a point on each street's surface)")),
        Converted(names, _info(source, source.outputs[1], "names", None,
                               "Ville de Paris: current, former and obsolete street names, with dates",
                               f"{former} former names read from the 'Historique' texts")),
    ]


def convert_overpass(source: Source, files: dict[str, Path], year: int) -> list[Converted]:
    """Overpass JSON (``out geom``) -> street centre-lines."""
    import geopandas as gpd
    import shapely

    path = files["ways"]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise JadisError(f"{path.name}: not an Overpass JSON answer ({str(exc).splitlines()[0]})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("elements"), list):
        raise JadisError(f"{path.name}: not an Overpass JSON answer (no 'elements' list)")
    remark = str(data.get("remark") or "")
    if "error" in remark.lower():  # Overpass reports a timeout or a memory limit with HTTP 200 and a remark
        raise JadisError(f"{path.name}: the Overpass server did not finish the query ({remark.strip()[:120]})")
    names, ids, geoms = [], [], []
    for el in data["elements"]:
        pts = el.get("geometry") if el.get("type") == "way" else None
        name = (el.get("tags") or {}).get("name")
        if not name or not pts or len(pts) < 2:
            continue
        names.append(name)
        ids.append(f"way/{el.get('id')}")
        geoms.append(shapely.linestrings([(p["lon"], p["lat"]) for p in pts]))
    if not geoms:
        raise JadisError(f"{path.name}: the Overpass answer holds no named way with geometry")
    frame = gpd.GeoDataFrame({"name": names, "id": ids}, geometry=geoms, crs="EPSG:4326")
    out, kind = to_standard(frame, name_field="name", kind="street_network", source_path=path)
    return [Converted(out, _info(source, source.outputs[0], kind, source.gazetteer_years(year),
                                 "OpenStreetMap: present-day named streets of Paris (centre-lines)"))]


def _read_vector_files(paths: list[Path]):
    """Read the one vector layer in downloaded files (a zip of a Shapefile/GeoPackage, or the parts
    of a Shapefile downloaded one by one); return (GeoDataFrame, name of the file read)."""
    import shutil

    from jadis.geocode.gazetteer import read_source

    tmp = Path(tempfile.mkdtemp(prefix="jadis-fetch-"))
    try:
        for path in paths:
            if path.suffix.lower() == ".zip":
                with zipfile.ZipFile(path) as zf:
                    for member in zf.namelist():
                        if not (tmp / member).resolve().is_relative_to(tmp.resolve()):
                            raise JadisError(f"{path.name}: unsafe path {member!r} inside the zip")
                    zf.extractall(tmp)
            else:
                shutil.copyfile(path, tmp / path.name)
        found = [p for ext in ("*.gpkg", "*.shp", "*.geojson") for p in sorted(tmp.rglob(ext))]
        if not found:
            raise JadisError(f"no vector file (.gpkg, .shp, .geojson) among {', '.join(p.name for p in paths)}")
        return read_source(found[0]), Path(found[0].name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def convert_dataverse_network(source: Source, files: dict[str, Path], year: int) -> list[Converted]:
    """A GeoHistoricalData street network (Shapefile or GeoPackage) -> street centre-lines."""
    raw, path = _read_vector_files(list(files.values()))
    cols = {c.lower(): c for c in raw.columns}
    name_field = cols.get("nom_entier") or cols.get("nom") or cols.get("name")
    out, kind = to_standard(raw, name_field=name_field, kind="street_network", source_path=path)
    return [Converted(out, _info(source, source.outputs[0], kind, source.gazetteer_years(year), source.title))]


# --------------------------------------------------------------------------------------------- catalogue

_GHD_ATTRIBUTION = ("GeoHistoricalData, “Verniquet map” and “Jacoubet Atlas” Paris street networks, "
                    "Harvard Dataverse, doi:10.7910/DVN/CCESX4")


def _ghd_network(key: str, map_title: str, year: int, years: tuple[int, int], span: str) -> Source:
    """A GeoHistoricalData street network in the Dataverse dataset shared by Verniquet and Jacoubet."""
    return Source(
        name=f"ghd-{key}-{year}",
        title=f"GeoHistoricalData: Paris street network of {map_title} ({span})",
        resources=(), format="Harvard Dataverse dataset files (Shapefile / GeoPackage)",
        licence="as declared by the Dataverse record (shown before download)",
        licence_url="https://doi.org/10.7910/DVN/CCESX4", licence_terms="", attribution=_GHD_ATTRIBUTION,
        kinds=("street_network",), outputs=(f"ghd_{key}_{year}",), era="historical", years=years,
        doc_url="https://guides.dataverse.org/en/latest/api/native-api.html", convert=convert_dataverse_network,
        dataverse=DATAVERSE_DOI, file_pattern=key)


CATALOGUE: tuple[Source, ...] = (
    Source(
        name="ban-paris",
        title="Base Adresse Nationale (BAN), Paris (département 75)",
        # listed on https://adresse.data.gouv.fr/data/ban/adresses/latest/csv ; format documented at
        # https://adresse.data.gouv.fr/outils/telechargements/format-csv (";", UTF-8, one position per address)
        resources=(Resource("addresses", "https://adresse.data.gouv.fr/data/ban/adresses/latest/csv/adresses-75.csv.gz",
                            "adresses-75.csv.gz"),),
        format="BAN CSV (gzip, ';', x/y Lambert-93)", licence=LO2, licence_url=LO2_URL, licence_terms=LO2_TERMS,
        attribution="Base Adresse Nationale (adresse.data.gouv.fr), Licence Ouverte 2.0",
        kinds=("address_points",), outputs=("ban_paris",), era="modern",
        doc_url="https://adresse.data.gouv.fr/outils/telechargements/format-csv", convert=convert_ban,
        notes="present-day house numbers: placed with an uncertainty that grows with the years since the address"),
    Source(
        name="paris-voies",
        title="Ville de Paris: dénominations des emprises des voies actuelles, et des voies caduques",
        # Opendatasoft Explore API v2.1 export endpoint: /api/explore/v2.1/catalog/datasets/{id}/exports/csv
        resources=(
            Resource("current", "https://opendata.paris.fr/api/explore/v2.1/catalog/datasets/"
                     "denominations-emprises-voies-actuelles/exports/csv?delimiter=%3B&with_bom=true",
                     "denominations-emprises-voies-actuelles.csv"),
            Resource("obsolete", "https://opendata.paris.fr/api/explore/v2.1/catalog/datasets/"
                     "denominations-des-voies-caduques/exports/csv?delimiter=%3B&with_bom=true",
                     "denominations-des-voies-caduques.csv"),
        ),
        format="Opendatasoft CSV export (';', BOM, geo_shape GeoJSON WGS84)", licence=ODBL, licence_url=ODBL_URL,
        licence_terms=ODBL_TERMS, attribution="Ville de Paris, opendata.paris.fr, ODbL",
        kinds=("street_points", "names"), outputs=("paris_voies", "paris_voies_names"), era="modern",
        doc_url="https://opendata.paris.fr/explore/dataset/denominations-emprises-voies-actuelles/information/",
        convert=convert_vdp,
        notes="the bridge from historical to present names: former names are read from the 'Historique' texts"),
    Source(
        name="osm-paris",
        title="OpenStreetMap: named streets of Paris (Overpass API)",
        # Overpass API, GET /api/interpreter?data=<Overpass QL>; "out geom" adds each way's coordinates
        # (https://wiki.openstreetmap.org/wiki/Overpass_API/Overpass_QL#Print_(out)). Geofabrik has no
        # Paris-only extract (Île-de-France is a ~300 MB .osm.pbf); one Overpass query gives the city's
        # named ways directly, in a JSON that needs no OSM toolchain.
        resources=(Resource("ways", "https://overpass-api.de/api/interpreter?data=" + quote(OVERPASS_QUERY, safe=""),
                            "osm-paris-streets.json"),),
        format="Overpass API JSON (out geom)", licence=ODBL, licence_url="https://www.openstreetmap.org/copyright",
        licence_terms=ODBL_TERMS, attribution="© OpenStreetMap contributors (ODbL)",
        kinds=("street_network",), outputs=("osm_paris_streets",), era="modern",
        doc_url="https://wiki.openstreetmap.org/wiki/Overpass_API", convert=convert_overpass,
        notes="a fallback street network: present-day centre-lines, no house numbers"),
    _ghd_network("verniquet", "the Verniquet map", 1791, (1770, 1804), "1783-1791"),
    _ghd_network("jacoubet", "the Jacoubet atlas", 1836, (1825, 1845), "1825-1836"),
)


#: What the common open licences ask, for a licence known only by the name a record declares.
_TERMS = (
    (r"odbl|open database", ODBL_TERMS),
    (r"by[- ]?sa", "CC BY-SA: credit the authors, and share what you adapt from it under the same licence "
                   "(share-alike)"),
    (r"cc[- ]?by|attribution", "CC BY: free reuse, including commercial, provided the authors are credited"),
    (r"cc0|public ?domain", "CC0: no conditions (crediting the source is still good practice)"),
    (r"licence ouverte|open licence|etalab", LO2_TERMS),
)


def licence_terms(name: str) -> str:
    """A one-line statement of what a licence asks, from its name ("" when unknown)."""
    low = name.lower()
    return next((terms for pattern, terms in _TERMS if re.search(pattern, low)), "")


def get_source(name: str) -> Source:
    for src in CATALOGUE:
        if src.name == name:
            return src
    raise JadisError(f"unknown source {name!r} (known: {', '.join(s.name for s in CATALOGUE)}; "
                     "see `jadis gazetteer fetch --list`)")


def dataverse_metadata_url(doi: str, server: str = "https://dataverse.harvard.edu") -> str:
    """The native API URL of a dataset's record (``GET /api/datasets/:persistentId/?persistentId=…``)."""
    return f"{server}/api/datasets/:persistentId/?persistentId={quote(doi, safe=':/')}"


def dataverse_resources(record: dict, pattern: str, server: str) -> tuple[list[Resource], str, str]:
    """(files whose name matches ``pattern``, licence name, licence URL) from a dataset's record."""
    try:
        version = record["data"]["latestVersion"]
        entries = version["files"]
    except (KeyError, TypeError) as exc:
        raise JadisError("the Dataverse answer is not a dataset record (no data.latestVersion.files)") from exc
    lic = version.get("license")
    if isinstance(lic, dict):
        licence, licence_url = str(lic.get("name") or ""), str(lic.get("uri") or "")
    else:
        licence, licence_url = str(lic or ""), ""
    if not licence:
        terms = str(version.get("termsOfUse") or "").strip()
        licence = f"custom terms: {terms[:200]}" if terms else "no licence declared by the record"
    out = []
    for entry in entries:
        df = entry.get("dataFile") or {}
        fname = str(df.get("filename") or entry.get("label") or "")
        if not re.search(pattern, fname, re.IGNORECASE) or df.get("id") is None:
            continue
        if not re.search(r"\.(zip|gpkg|shp|shx|dbf|prj|cpg|geojson)$", fname, re.IGNORECASE):
            continue
        checksum = df.get("checksum") or {}
        md5 = df.get("md5") or (checksum.get("value") if str(checksum.get("type", "")).upper() == "MD5" else None)
        out.append(Resource(fname, f"{server}/api/access/datafile/{int(df['id'])}", fname, md5=md5,
                            size=df.get("filesize")))
    return out, licence, licence_url
