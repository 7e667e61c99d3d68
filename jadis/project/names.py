"""Street names on a project's maps: read by OCR, corrected by librarians, used as the map's gazetteer.

A *name reading* (``name_runs``) vectorizes a map's current class raster (the corrections
included), reads the names and house numbers printed on the scan with :func:`jadis.ocr.layers.name_layers`
and stores the street segments with the name read (``map_streets``), the lines of text
(``map_text_lines``) and the house numbers (``map_house_numbers``), in pixels.

A *name correction* renames segments, names an unnamed one or removes a wrong name. Like every
correction it is versioned and signed: each corrected segment gets a new row in
``street_name_edits`` (``version`` 1, 2, … over the name read, which is version 0) naming the
version it started from, and the correction is listed in ``corrections`` (target
``street_names``). A correction over a segment somebody changed meanwhile is refused
(:class:`~jadis.project.store.ConflictError`) and kept. Reading a map again carries the
corrections of the previous reading over to the new segments lying on the same streets.

The view ``map_streets_current`` shows the current names (QGIS opens it); :func:`map_gazetteers`
turns them, through the map's georeference, into the gazetteer of the map's year for geocoding.
"""

from __future__ import annotations

import os
import re
import sqlite3
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import shapely
from rasterio.errors import NotGeoreferencedWarning

from jadis.errors import JadisError
from jadis.project import gpkg
from jadis.project.maps import MapRecord, get_map
from jadis.project.store import Apply, Correction, Refuse, save_versioned
from jadis.project.workspace import Project, clean_author, now

if TYPE_CHECKING:
    import geopandas as gpd

    from jadis.geocode.gazetteer import Gazetteer

#: Names read with less confidence than this are shown as doubtful (to check first).
LOW_SCORE = 0.7
#: Longest street name accepted in a correction (characters).
MAX_NAME_LENGTH = 200
#: A new segment takes over an old segment's correction when this share of it lies within
#: ``CARRY_DISTANCE`` pixels (or half the street's width) of the old one.
CARRY_SHARE = 0.6
CARRY_DISTANCE = 6.0
TARGET = "street_names"


@dataclass(frozen=True)
class NameRun:
    """One reading of a map's street names."""

    id: int
    map_id: int
    source: str
    detail: str
    n_segments: int
    n_named: int
    n_lines: int
    n_numbers: int
    carried: int
    author: str
    created_at: str
    stale: bool  #: the segmentation was corrected since: the segments may no longer match it


@dataclass(frozen=True)
class NameCorrection:
    """What a saved name correction did."""

    correction_id: int
    run_id: int
    versions: dict[int, int]  #: street_id -> its new version
    message: str


# --- reading ----------------------------------------------------------------------------------------

def _seg_mark(conn: sqlite3.Connection, map_id: int) -> int:
    """A number that grows with every new tile version of the map (seg_tiles is append-only)."""
    return int(conn.execute("SELECT COALESCE(MAX(fid), 0) FROM seg_tiles WHERE map_id = ?", (map_id,)).fetchone()[0])


def read_street_names(project: Project, map_id: int, *, reader: object | None = None,
                      names: Sequence[str] | None = None, min_score: float | None = None,
                      author: str | None = None, progress: bool = False) -> NameRun:
    """Read the street names and house numbers printed on a segmented map; store them as a new reading.

    The map's *current* class raster (corrections included) is vectorized into streets and text
    boxes, written to ``PROJECT/runs/map<ID>/names.gpkg`` and read there by
    :func:`jadis.ocr.layers.name_layers` (``reader``: any object with ``.read(crop) -> Reading``,
    default the bundled recogniser; ``names``: the known names to correct readings against,
    default every gazetteer's). Corrections of the previous reading are carried over.
    """
    from jadis.io.vector import write_layers
    from jadis.ocr.layers import name_layers
    from jadis.ocr.mapread import MIN_NAME_SCORE
    from jadis.project.tiles import has_tiles, read_classes
    from jadis.vectorize.layers import vectorize_windows

    record = get_map(project, map_id)
    if not record.path.exists():
        raise JadisError(f"map '{record.name}': scan file {record.path} is missing")
    with project.connection() as conn:
        if not has_tiles(conn, record.id):
            raise JadisError(f"map '{record.name}' has no segmentation yet: segment it before reading its names")
        mark = _seg_mark(conn, record.id)

    def read(x0: int, y0: int, w: int, h: int) -> np.ndarray:
        return read_classes(project, record.id, (x0, y0, w, h))

    layers = vectorize_windows(read, record.width, record.height, progress=progress)
    final = project.inside("runs", f"map{record.id}", "names.gpkg")
    final.parent.mkdir(parents=True, exist_ok=True)
    path = final.with_name(f".names-{uuid.uuid4().hex[:12]}.gpkg")  # two readings at once never mix
    score = MIN_NAME_SCORE if min_score is None else float(min_score)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pixel layers have no CRS, by design
            write_layers(path, layers)
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            name_layers(path, record.path, reader=reader, names=None if names is None else list(names),
                        year=record.year, min_score=score, progress=progress,
                        local=_local_names(project, record))
        read_back = _read_layers(path)
        os.replace(path, final)
    finally:
        path.unlink(missing_ok=True)
    return save_name_run(project, record.id, read_back, detail=f"min_score={score:g}", author=author,
                         seg_mark=mark)


def _local_names(project: Project, record: MapRecord):  # noqa: ANN202 - a jadis.ocr.place.LocalNames or None
    """The streets the gazetteers have around each pixel of the map, through its current
    georeference (:mod:`jadis.ocr.place`); None when it has none or no gazetteer covers it."""
    from jadis.project.georefs import load_georef

    saved = load_georef(project, record.id)
    return None if saved is None else local_names_of(saved.georef, (record.width, record.height), record.year)


def local_names_of(georef, size: tuple[int, int], year: int | None = None):  # noqa: ANN001, ANN201
    """:func:`jadis.ocr.place.local_names` for a map of ``size`` (width, height) pixels through its
    :class:`~jadis.georef.georeference.Georeference` (in any CRS Lambert-93 can be reached from);
    None when no gazetteer covers it or its CRS cannot be brought to Lambert-93. (Here, where both
    the georeferencer and the reader are known: :mod:`jadis.ocr` does not import :mod:`jadis.georef`.)"""
    from jadis.georef.crs import parse_crs, reproject
    from jadis.ocr.place import local_names

    l93 = parse_crs("EPSG:2154")

    def to_l93(px: np.ndarray) -> np.ndarray:
        return reproject(georef.pixel_to_world(np.asarray(px, float).reshape(-1, 2)), georef.crs, l93)

    w, h = size
    try:
        footprint = shapely.Polygon(to_l93(np.array([[0, 0], [w, 0], [w, h], [0, h]], float)))
        return local_names(to_l93, footprint, year)
    except JadisError:   # no place to look around
        return None


def _read_layers(path: Path) -> dict[str, gpd.GeoDataFrame]:
    import pyogrio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: pyogrio.read_dataframe(path, layer=name)
                for name in ("streets", "text_lines", "house_numbers") if name in _layer_names(path)}


def _layer_names(path: Path) -> set[str]:
    import pyogrio

    return {str(n) for n, _ in pyogrio.list_layers(path)}


def _value(row: Mapping, key: str, kind: type = str) -> object:
    value = row.get(key)
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        return None


def save_name_run(project: Project, map_id: int, layers: Mapping[str, gpd.GeoDataFrame], *, source: str = "ocr",
                  detail: str = "", author: str | None = None, seg_mark: int | None = None) -> NameRun:
    """Store a reading (the ``streets``, ``text_lines`` and ``house_numbers`` layers of
    :func:`jadis.ocr.layers.name_layers`, in pixels) as the map's new reading; carry the corrections
    of the previous reading over to it. Returns the new :class:`NameRun`."""
    record = get_map(project, map_id)
    streets = layers.get("streets")
    if streets is None or "street_id" not in streets.columns:
        raise JadisError("a name reading needs a streets layer with street_id")
    lines = layers.get("text_lines")
    numbers = layers.get("house_numbers")
    author = clean_author(author)
    created = now()
    pixel = gpkg.PIXEL_SRS_ID
    with project.transaction() as conn:
        previous = _latest_run_id(conn, record.id)
        mark = _seg_mark(conn, record.id) if seg_mark is None else int(seg_mark)
        cur = conn.execute(
            "INSERT INTO name_runs (map_id, source, detail, seg_mark, n_segments, n_named, n_lines, n_numbers, "
            "carried, author, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (record.id, source, detail, mark, 0, 0, 0, 0, 0, author, created))
        run_id = int(cur.lastrowid)
        rows = []
        for row, geom in zip(streets.drop(columns=streets.geometry.name).to_dict("records"),
                             streets.geometry.to_numpy(), strict=True):
            name = _clean_name(_value(row, "name"))
            rows.append((gpkg.encode_geometry(_line(geom), pixel), run_id, record.id, int(row["street_id"]),
                         _value(row, "width_px", float), name,
                         _value(row, "name_score", float) if name else None,
                         _value(row, "name_from") if name else None))
        conn.executemany("INSERT INTO map_streets (geom, run_id, map_id, street_id, width_px, name, name_score, "
                         "name_from) VALUES (?,?,?,?,?,?,?,?)", rows)
        n_lines = n_numbers = 0
        if lines is not None and len(lines):
            conn.executemany(
                "INSERT INTO map_text_lines (geom, run_id, map_id, reading, name, name_score, how, label_ids) "
                "VALUES (?,?,?,?,?,?,?,?)",
                [(gpkg.encode_geometry(g, pixel), run_id, record.id, _value(r, "reading"), _value(r, "name"),
                  _value(r, "name_score", float), _value(r, "how"), _value(r, "label_ids"))
                 for r, g in zip(lines.drop(columns=lines.geometry.name).to_dict("records"),
                                 lines.geometry.to_numpy(), strict=True)])
            n_lines = len(lines)
        if numbers is not None and len(numbers):
            conn.executemany(
                "INSERT INTO map_house_numbers (geom, run_id, map_id, number, street_id, side, ocr_score) "
                "VALUES (?,?,?,?,?,?,?)",
                [(gpkg.encode_geometry(g, pixel), run_id, record.id, _value(r, "number"),
                  _value(r, "street_id", int), _value(r, "side"), _value(r, "ocr_score", float))
                 for r, g in zip(numbers.drop(columns=numbers.geometry.name).to_dict("records"),
                                 numbers.geometry.to_numpy(), strict=True)])
            n_numbers = len(numbers)
        carried = _carry_over(conn, record.id, previous, run_id) if previous else 0
        n_named = sum(1 for r in rows if r[5])
        conn.execute("UPDATE name_runs SET n_segments = ?, n_named = ?, n_lines = ?, n_numbers = ?, carried = ? "
                     "WHERE fid = ?", (len(rows), n_named, n_lines, n_numbers, carried, run_id))
        bounds = tuple(streets.total_bounds) if len(streets) else None
        gpkg.touch(conn, "map_streets", bounds if bounds and np.isfinite(bounds).all() else None)
    run = latest_run(project, record.id)
    assert run is not None and run.id == run_id
    return run


def _line(geom: object) -> object:
    """A street centre-line as one LineString (the layer's geometry type)."""
    if geom is None or geom.geom_type == "LineString":
        return geom
    merged = shapely.line_merge(geom)
    if merged.geom_type == "LineString":
        return merged
    parts = sorted(getattr(merged, "geoms", []), key=lambda g: g.length, reverse=True)
    return parts[0] if parts else shapely.LineString()


def _carry_over(conn: sqlite3.Connection, map_id: int, old_run: int, new_run: int) -> int:
    """Give the new reading's segments the corrections of the old reading's segments on the same street."""
    edited = conn.execute(
        "SELECT s.geom, s.street_id, s.width_px, e.name, e.correction_id, e.author AS corrected_by, "
        "e.created_at AS corrected_at FROM map_streets s JOIN street_name_edits e ON e.run_id = s.run_id "
        "AND e.street_id = s.street_id AND e.version = (SELECT MAX(version) FROM street_name_edits f "
        "WHERE f.run_id = s.run_id AND f.street_id = s.street_id) WHERE s.run_id = ?", (old_run,)).fetchall()
    if not edited:
        return 0
    new = conn.execute("SELECT geom, street_id, name FROM map_streets WHERE run_id = ?", (new_run,)).fetchall()
    if not new:
        return 0
    new_geoms = np.asarray([gpkg.decode_geometry(r["geom"]) for r in new], dtype=object)
    tree = shapely.STRtree(new_geoms)
    best: dict[int, tuple[float, sqlite3.Row]] = {}
    for old in edited:
        line = gpkg.decode_geometry(old["geom"])
        if line is None or line.is_empty:
            continue
        zone = line.buffer(max(CARRY_DISTANCE, 0.5 * float(old["width_px"] or 0.0)))
        for k in tree.query(zone):
            geom = new_geoms[k]
            if geom is None or geom.length <= 0:
                continue
            share = geom.intersection(zone).length / geom.length
            if share >= CARRY_SHARE and share > best.get(int(k), (0.0, None))[0]:
                best[int(k)] = (share, old)
    rows = []
    for k, (_, old) in best.items():
        target = new[k]
        if old["name"] == target["name"]:
            continue  # read right this time
        rows.append((target["geom"], old["correction_id"], map_id, new_run, int(target["street_id"]), 1, None,
                     old["name"], target["name"], old["corrected_by"], old["corrected_at"]))
    conn.executemany("INSERT INTO street_name_edits (geom, correction_id, map_id, run_id, street_id, version, "
                     "parent_version, name, previous_name, author, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    return len(rows)


def _latest_run_id(conn: sqlite3.Connection, map_id: int) -> int | None:
    row = conn.execute("SELECT MAX(fid) FROM name_runs WHERE map_id = ?", (map_id,)).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def latest_run(project: Project, map_id: int) -> NameRun | None:
    """The map's latest name reading (None: its names were never read)."""
    with project.connection() as conn:
        row = conn.execute("SELECT * FROM name_runs WHERE map_id = ? ORDER BY fid DESC LIMIT 1",
                           (map_id,)).fetchone()
        mark = _seg_mark(conn, map_id)
    if row is None:
        return None
    return NameRun(int(row["fid"]), int(row["map_id"]), row["source"], row["detail"] or "", int(row["n_segments"] or 0),
                   int(row["n_named"] or 0), int(row["n_lines"] or 0), int(row["n_numbers"] or 0),
                   int(row["carried"] or 0), row["author"], row["created_at"], mark > int(row["seg_mark"] or 0))


# --- the names now ----------------------------------------------------------------------------------

def current_names(project: Project, map_id: int) -> gpd.GeoDataFrame:
    """The street segments of the map's latest reading with their current name (pixels, no CRS).

    Columns: ``street_id``, ``name`` (None: unnamed), ``name_score`` (1 for a librarian's name),
    ``name_from`` (label | continued | corrected), ``version`` (0: as read), ``corrected_by``,
    ``corrected_at``, ``correction_id``, ``read_name``, ``read_score``, ``width_px``, ``low``
    (a name read with less than :data:`LOW_SCORE` confidence), ``run_id``.
    """
    import geopandas as gpd
    import pandas as pd

    with project.connection() as conn:
        rows = conn.execute("SELECT * FROM map_streets_current WHERE map_id = ? ORDER BY street_id",
                            (map_id,)).fetchall()
    columns = ["run_id", "street_id", "name", "name_score", "name_from", "version", "corrected_by", "corrected_at",
               "correction_id", "read_name", "read_score", "width_px"]
    frame = pd.DataFrame([{c: r[c] for c in columns} for r in rows], columns=columns)
    frame["low"] = frame["name"].notna() & (frame["name_score"].fillna(0.0).astype(float) < LOW_SCORE)
    geoms = [gpkg.decode_geometry(r["geom"]) for r in rows]
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=None), crs=None)


def name_table(names: gpd.GeoDataFrame) -> list[dict]:
    """One row per distinct current name: segments, least confidence, doubtful, corrected by whom."""
    out = []
    named = names[names["name"].notna()]
    for name, group in named.groupby("name", sort=True):
        who = sorted({str(a) for a in group["corrected_by"].dropna()})
        out.append({"name": str(name), "segments": len(group),
                    "confidence": round(float(group["name_score"].astype(float).min()), 2),
                    "doubtful": bool(group["low"].any()), "corrected by": ", ".join(who)})
    return out


def versions(names: gpd.GeoDataFrame) -> dict[int, int]:
    """street_id -> current version, from :func:`current_names` (what an editor saw)."""
    return {int(s): int(v) for s, v in zip(names["street_id"], names["version"], strict=True)}


def nearest_segment(names: gpd.GeoDataFrame, x: float, y: float, max_distance: float = 40.0) -> int | None:
    """The street_id of the segment nearest to pixel (x, y), if within ``max_distance`` pixels."""
    if not len(names):
        return None
    point = shapely.Point(float(x), float(y))
    dist = shapely.distance(names.geometry.to_numpy(), point)
    k = int(np.nanargmin(dist)) if np.isfinite(dist).any() else None
    if k is None or dist[k] > max_distance:
        return None
    return int(names["street_id"].iloc[k])


def lines_for_view(names: gpd.GeoDataFrame, window: tuple[float, float, float, float], *,
                   selected: int | None = None, max_lines: int = 3000, tolerance: float = 0.0) -> list[dict]:
    """The segments inside a pixel window (x, y, w, h) as the viewer draws them: points, label, kind
    (named | low | corrected | unnamed | selected). ``tolerance``: simplification in pixels."""
    if not len(names):
        return []
    x, y, w, h = window
    box = shapely.box(x, y, x + w, y + h)
    geoms = names.geometry.to_numpy()
    inside = np.flatnonzero(shapely.intersects(geoms, box))
    if len(inside) > max_lines:  # the longest first
        inside = inside[np.argsort(-shapely.length(geoms[inside]))[:max_lines]]
    out = []
    for k in inside:
        row = names.iloc[int(k)]
        geom = geoms[k] if tolerance <= 0 else geoms[k].simplify(tolerance)
        sid = int(row["street_id"])
        name = row["name"] if isinstance(row["name"], str) else None
        if selected is not None and sid == selected:
            kind = "selected"
        elif name is None:
            kind = "unnamed"
        elif row["name_from"] == "corrected":
            kind = "corrected"
        elif bool(row["low"]):
            kind = "low"
        else:
            kind = "named"
        label = "" if name is None else (f"{name} ?" if kind == "low" else name)
        out.append({"id": sid, "points": np.round(np.asarray(geom.coords), 1).tolist(), "label": label,
                    "kind": kind})
    return out


# --- correcting -------------------------------------------------------------------------------------

def _clean_name(name: object) -> str | None:
    if name is None:
        return None
    text = " ".join(str(name).split())
    return text or None


def check_name(name: str | None) -> str | None:
    """A name as stored: one line, spaces collapsed, bounded (None or blank: no name)."""
    text = _clean_name(name)
    if text is not None and len(text) > MAX_NAME_LENGTH:
        raise JadisError(f"a street name is at most {MAX_NAME_LENGTH} characters")
    if text is not None and not any(ch.isalnum() for ch in text):
        raise JadisError(f"{text!r} is not a street name")
    return text


def correct_names(project: Project, map_id: int, changes: Mapping[int, str | None], *, run_id: int,
                  base_versions: Mapping[int, int], author: str | None = None, note: str = "") -> NameCorrection:
    """Give street segments new names (None: remove the name) as one versioned, signed correction.

    ``changes``: street_id -> new name; ``run_id`` and ``base_versions`` (street_id -> version)
    are the reading and segment versions the editor saw. If the map was read again, or any
    segment was corrected since, nothing is changed, the correction is kept with status
    ``conflict`` and :class:`~jadis.project.store.ConflictError` says who changed what.
    """
    record = get_map(project, map_id)
    wanted = {int(s): check_name(n) for s, n in changes.items()}
    if not wanted:
        raise JadisError("nothing to change: no street segment given")
    author = clean_author(author)
    created = now()

    def decide(conn: sqlite3.Connection) -> Apply[NameCorrection] | Refuse:
        nonlocal wanted
        latest = _latest_run_id(conn, record.id)
        if latest is None:
            raise JadisError(f"the street names of map '{record.name}' have not been read yet")
        rows: dict[int, sqlite3.Row] = {}
        if latest == int(run_id):
            rows = {int(r["street_id"]): r for r in conn.execute(
                "SELECT * FROM map_streets_current WHERE run_id = ?", (latest,)) if int(r["street_id"]) in wanted}
            unknown = sorted(set(wanted) - set(rows))
            if unknown:
                raise JadisError(f"map '{record.name}' has no street segment {unknown[0]}")
        moved = [s for s in rows if int(rows[s]["version"]) != int(base_versions.get(s, 0))]
        if rows and not moved:
            wanted = {s: n for s, n in wanted.items() if rows[s]["name"] != n}
            if not wanted:
                raise JadisError("nothing to change: the segments already have these names")
        base = {"run": int(run_id), "versions": {str(s): int(base_versions.get(s, 0)) for s in wanted}}
        result: dict = {"run": int(run_id), "names": {str(s): n for s, n in wanted.items()}}
        message = _describe(wanted, rows) + (f" ({note})" if note else "")
        if latest != int(run_id):
            why = f"the names of map '{record.name}' were read again since you loaded them"
        elif moved:
            who = sorted({str(rows[s]["corrected_by"]) for s in moved})
            why = f"{len(moved)} segment(s) were renamed by {', '.join(who)} since you loaded them"
        else:
            why = ""
        if why:
            return Refuse(Correction(TARGET, record.id, author, created, base, result, f"{message} — refused: {why}"),
                          lambda cid: (f"conflict: {why}; your names were NOT saved but are kept as correction "
                                       f"#{cid}: reload and try again"))
        new_versions = {s: int(rows[s]["version"]) + 1 for s in wanted}
        result["versions"] = {str(s): v for s, v in new_versions.items()}

        def write(conn: sqlite3.Connection, cid: int) -> NameCorrection:
            _insert_edits(conn, cid, record.id, latest, {s: (n, rows[s]) for s, n in wanted.items()}, author,
                          created)
            return NameCorrection(cid, latest, new_versions, message)

        return Apply(Correction(TARGET, record.id, author, created, base, result, message), write)

    return save_versioned(project, decide)


def _insert_edits(conn: sqlite3.Connection, cid: int, map_id: int, run_id: int,
                  edits: Mapping[int, tuple[str | None, sqlite3.Row]], author: str, created: str) -> None:
    rows = []
    bounds = None
    for sid, (name, cur) in edits.items():
        version = int(cur["version"])
        rows.append((cur["geom"], cid, map_id, run_id, sid, version + 1, version, name, cur["name"], author, created))
        geom = gpkg.decode_geometry(cur["geom"])
        if geom is not None and not geom.is_empty:
            b = geom.bounds
            bounds = b if bounds is None else (min(bounds[0], b[0]), min(bounds[1], b[1]),
                                               max(bounds[2], b[2]), max(bounds[3], b[3]))
    conn.executemany("INSERT INTO street_name_edits (geom, correction_id, map_id, run_id, street_id, version, "
                     "parent_version, name, previous_name, author, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    gpkg.touch(conn, "street_name_edits", bounds)


def _describe(wanted: Mapping[int, str | None], rows: Mapping[int, sqlite3.Row]) -> str:
    olds = sorted({str(rows[s]["name"]) if rows[s]["name"] else "(no name)" for s in wanted if s in rows})
    news = sorted({n or "(no name)" for n in wanted.values()})
    n = len(wanted)
    what = f"{n} segments" if n > 1 else f"segment {next(iter(wanted))}"
    if news == ["(no name)"]:
        return f"name {', '.join(olds) or '?'} removed from {what}"
    return f"{', '.join(olds) or '?'} → {', '.join(news)} on {what}"


def rename_all(project: Project, map_id: int, old_name: str, new_name: str | None, *, run_id: int,
               base_versions: Mapping[int, int], author: str | None = None) -> NameCorrection:
    """Rename every segment whose current name is ``old_name`` (None: remove that name everywhere)."""
    names = current_names(project, map_id)
    ids = [int(s) for s in names.loc[names["name"] == old_name, "street_id"]]
    if not ids:
        raise JadisError(f"no street segment is named {old_name!r} on this map")
    return correct_names(project, map_id, dict.fromkeys(ids, new_name), run_id=run_id, base_versions=base_versions,
                         author=author)


def undo_correction(project: Project, correction_id: int, *, author: str | None = None) -> NameCorrection:
    """Undo a name correction: its segments get back the names they had before, as a new correction.

    Refused (:class:`~jadis.project.store.ConflictError`) when one of them was corrected again since.
    """
    with project.connection() as conn:
        row = conn.execute("SELECT map_id, target, status FROM corrections WHERE fid = ?", (correction_id,)).fetchone()
        if row is None or row["target"] != TARGET or row["status"] != "applied":
            raise JadisError(f"correction #{correction_id} is not an applied street-name correction")
        map_id = int(row["map_id"])
        run_id = _latest_run_id(conn, map_id)
        edits = conn.execute("SELECT street_id, version, previous_name FROM street_name_edits WHERE "
                             "correction_id = ? AND run_id = ?", (correction_id, run_id)).fetchall()
    if not edits:
        raise JadisError(f"correction #{correction_id} changed nothing on the current reading of the map")
    return correct_names(project, map_id, {int(e["street_id"]): e["previous_name"] for e in edits}, run_id=run_id,
                         base_versions={int(e["street_id"]): int(e["version"]) for e in edits}, author=author,
                         note=f"undo of #{correction_id}")


def history(project: Project, map_id: int, street_id: int | None = None) -> list[dict]:
    """Every name given to the map's segments in the current reading, newest first (who, when, what)."""
    with project.connection() as conn:
        run_id = _latest_run_id(conn, map_id)
        sql = ("SELECT street_id, version, name, previous_name, author, created_at, correction_id FROM "
               "street_name_edits WHERE run_id = ?")
        args: list = [run_id]
        if street_id is not None:
            sql += " AND street_id = ?"
            args.append(int(street_id))
        rows = conn.execute(sql + " ORDER BY fid DESC", args).fetchall()
    return [dict(r) for r in rows]


# --- the map's gazetteer ----------------------------------------------------------------------------

def _gazetteer_name(record_name: str) -> str:
    return "map_" + (re.sub(r"[^a-z0-9_.-]+", "_", record_name.lower()).strip("_") or "map")


def gazetteer_maps(project: Project) -> list[MapRecord]:
    """The maps that can serve as gazetteers: their names were read and they have a georeference."""
    from jadis.project.maps import list_maps

    with project.connection() as conn:
        ids = {int(r[0]) for r in conn.execute("SELECT DISTINCT n.map_id FROM name_runs n JOIN georefs g "
                                               "ON g.map_id = n.map_id")}
    return [m for m in list_maps(project) if m.id in ids]


def map_gazetteers(project: Project, map_ids: Sequence[int] | None = None) -> list[Gazetteer]:
    """The project's maps as gazetteers of their year, with the current (corrected) names.

    For each map with a name reading and a georeference: a ``street_network`` gazetteer
    ``map_<name>`` (its named segments, Lambert-93) and, where house numbers were read on named
    streets, an ``address_points`` gazetteer ``map_<name>_numbers``. Valid in the map's year
    (any year when it has none). Maps without names or georeference are left out.
    """
    import geopandas as gpd

    from jadis.geocode.gazetteer import CRS, Gazetteer, GazetteerInfo
    from jadis.georef.apply import transform_geometries
    from jadis.georef.crs import parse_crs
    from jadis.project import georefs
    from jadis.project.maps import list_maps

    records = list_maps(project) if map_ids is None else [get_map(project, m) for m in map_ids]
    out: list[Gazetteer] = []
    for record in records:
        run = latest_run(project, record.id)
        saved = georefs.load_georef(project, record.id)
        if run is None or saved is None:
            continue
        names = current_names(project, record.id)
        named = names[names["name"].notna()]
        if not len(named):
            continue
        crs = parse_crs(CRS)
        geoms = transform_geometries(saved.georef, named.geometry.to_numpy(), crs)
        years = (int(record.year), int(record.year)) if record.year else None
        gname = _gazetteer_name(record.name)
        common = {"years": years, "source": f"jadis project {project.name!r}, map {record.name!r}",
                  "licence": "as the scan", "bundled": False, "file": ""}
        frame = gpd.GeoDataFrame({
            "name": named["name"].astype(str).to_numpy(),
            "number": [None] * len(named),
            "source_id": [f"street:{int(s)}" for s in named["street_id"]],
            "name_from": named["name_from"].to_numpy(),
            "name_score": named["name_score"].to_numpy(dtype=float),
        }, geometry=gpd.GeoSeries(geoms, crs=CRS), crs=CRS)
        info = GazetteerInfo(name=gname, kind="street_network", title=f"street names of {record.name}",
                             features=len(frame), notes=f"name reading #{run.id} with the librarians' corrections",
                             **common)
        out.append(Gazetteer(info, frame))
        numbers = house_numbers(project, record.id)
        numbers = numbers[numbers["name"].notna()]
        if len(numbers):
            pts = transform_geometries(saved.georef, numbers.geometry.to_numpy(), crs)
            nframe = gpd.GeoDataFrame({
                "name": numbers["name"].astype(str).to_numpy(), "number": numbers["number"].astype(str).to_numpy(),
                "source_id": [f"number:{k}" for k in range(len(numbers))],
            }, geometry=gpd.GeoSeries(pts, crs=CRS), crs=CRS)
            out.append(Gazetteer(GazetteerInfo(name=f"{gname}_numbers", kind="address_points",
                                               title=f"house numbers read on {record.name}", features=len(nframe),
                                               **common), nframe))
    return out


def house_numbers(project: Project, map_id: int) -> gpd.GeoDataFrame:
    """House numbers of the map's latest reading (pixels) with the *current* name of their street."""
    import geopandas as gpd
    import pandas as pd

    with project.connection() as conn:
        run_id = _latest_run_id(conn, map_id)
        rows = conn.execute(
            "SELECT n.geom, n.number, n.street_id, n.side, n.ocr_score, c.name FROM map_house_numbers n "
            "LEFT JOIN map_streets_current c ON c.run_id = n.run_id AND c.street_id = n.street_id "
            "WHERE n.run_id = ? ORDER BY n.fid", (run_id,)).fetchall()
    columns = ["number", "street_id", "side", "ocr_score", "name"]
    frame = pd.DataFrame([{c: r[c] for c in columns} for r in rows], columns=columns)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([gpkg.decode_geometry(r["geom"]) for r in rows], crs=None),
                            crs=None)


def export_layers(project: Project, map_id: int) -> dict[str, gpd.GeoDataFrame]:
    """The map's current street names and house numbers as layers (pixels), for GIS export."""
    if latest_run(project, map_id) is None:
        return {}
    layers = {"street_names": current_names(project, map_id).drop(columns=["low"])}
    numbers = house_numbers(project, map_id)
    if len(numbers):
        layers["house_numbers"] = numbers
    return layers

