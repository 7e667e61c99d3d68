"""Geocoding runs in a project, and versioned corrections of their results.

A run geocodes a table of addresses with :class:`jadis.geocode.geocoder.Geocoder` and stores one
row per input row (version 1) in the ``geocode_results`` layer (project CRS). A historian's fix
of a row adds version 2, 3, … (``match_type`` ``manual``) naming the version it started from; a
fix over a version that moved on is refused (:class:`~jadis.project.store.ConflictError`) and kept in ``corrections``.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from shapely.geometry import Point

from jadis.errors import JadisError
from jadis.project import gpkg
from jadis.project.store import Apply, Correction, Refuse, describe_time, save_versioned
from jadis.project.workspace import Project, clean_author, now

#: The geocoder works in Lambert-93 (its x, y columns).
GEOCODER_CRS = "EPSG:2154"
#: ``corrections.target`` of a geocoded row placed by hand.
TARGET = "geocode"


@dataclass(frozen=True)
class GeocodeRun:
    id: int
    name: str
    year: int | None
    gazetteers: list[str]
    address_column: str
    n_rows: int
    author: str
    created_at: str


def run_geocoding(project: Project, table: pd.DataFrame, address_column: str, *, year: int | None = None,
                  year_column: str | None = None, gazetteers: list[str] | None = None, name: str = "addresses",
                  source_file: str | None = None, author: str | None = None, progress: bool = False,
                  maps: Sequence[int] | None = None) -> int:
    """Geocode ``table`` and store the run and its results; return the run id.

    ``gazetteers``: names of installed gazetteers (default: all). ``maps``: the project's maps whose
    street names (as corrected by the librarians) serve as the gazetteer of their year
    (:func:`jadis.project.names.map_gazetteers`; default: every named, georeferenced map; ``[]``: none).
    """
    from jadis.geocode.gazetteer import load_gazetteers
    from jadis.geocode.geocoder import Geocoder, parse_year
    from jadis.project.names import map_gazetteers

    if table.empty:
        raise JadisError("the address table has no rows")
    if address_column not in table.columns:
        raise JadisError(f"no column {address_column!r}; columns are: {', '.join(map(str, table.columns))}")
    from_maps = map_gazetteers(project, maps) if maps is None or len(maps) else []
    geocoder = Geocoder([*load_gazetteers(gazetteers or None), *from_maps])
    out = geocoder.geocode_table(table, address_column, year=year, year_column=year_column, progress=progress)
    author = clean_author(author)
    created = now()
    xy = _to_project(project, out["x"].to_numpy(float), out["y"].to_numpy(float))
    input_cols = list(table.columns)
    with project.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO geocode_runs (name, year, gazetteers, address_column, source_file, params, n_rows, author, "
            "created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (name, year, json.dumps(sorted(geocoder.gazetteers)), address_column, source_file,
             json.dumps({"year_column": year_column, "min_score": geocoder.min_score}), len(out), author, created))
        run_id = int(cur.lastrowid)
        rows = []
        for i, (idx, r) in enumerate(out.iterrows()):
            px, py = xy[i]
            geom = gpkg.encode_geometry(Point(px, py), project.srs_id) if np.isfinite([px, py]).all() else None
            row_year = year
            if year_column is not None:
                try:
                    row_year = parse_year(table.at[idx, year_column])
                except ValueError:
                    row_year = None
                row_year = year if row_year is None else row_year
            rows.append((geom, run_id, i, 1, None, str(table.at[idx, address_column]), row_year, r["match_type"],
                         _num(r["score"]), _str(r["matched_name"]), _str(r["gazetteer"]), _num(r["uncertainty_m"]),
                         _str(r["explanation"]), _num(r["lon"]), _num(r["lat"]), _num(px), _num(py),
                         json.dumps({c: _str(table.at[idx, c]) for c in input_cols}, ensure_ascii=False),
                         None, author, created))
        conn.executemany(
            "INSERT INTO geocode_results (geom, run_id, row, version, parent_version, address, year, match_type, "
            "score, matched_name, gazetteer, uncertainty_m, explanation, lon, lat, x, y, input, correction_id, "
            "author, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        finite = xy[np.isfinite(xy).all(axis=1)]
        if len(finite):
            lo, hi = finite.min(axis=0), finite.max(axis=0)
            gpkg.touch(conn, "geocode_results", (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])))
    return run_id


def _to_project(project: Project, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from jadis.georef.crs import parse_crs, reproject

    xy = np.column_stack([x, y]).astype(float)
    ok = np.isfinite(xy).all(axis=1)
    if ok.any():
        xy[ok] = reproject(xy[ok], parse_crs(GEOCODER_CRS), parse_crs(project.crs))
    return xy


def _num(value: object) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _str(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def list_runs(project: Project) -> list[GeocodeRun]:
    with project.connection() as conn:
        rows = conn.execute("SELECT * FROM geocode_runs ORDER BY fid DESC").fetchall()
    return [GeocodeRun(int(r["fid"]), r["name"], r["year"], json.loads(r["gazetteers"] or "[]"),
                       r["address_column"] or "", int(r["n_rows"] or 0), r["author"], r["created_at"]) for r in rows]


def results(project: Project, run_id: int):  # GeoDataFrame
    """The current version of every row of a run (GeoDataFrame in the project CRS, ordered by row)."""
    import geopandas as gpd

    with project.connection() as conn:
        rows = conn.execute("SELECT * FROM geocode_results_current WHERE run_id = ? ORDER BY row", (run_id,)).fetchall()
    if not rows:
        raise JadisError(f"no geocoding run #{run_id} in this project")
    frame = pd.DataFrame([{k: v for k, v in dict(r).items() if k != "geom"} for r in rows])
    geoms = [gpkg.decode_geometry(r["geom"]) for r in rows]
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=project.crs), crs=project.crs)


def correct_result(project: Project, run_id: int, row: int, x: float, y: float, *, base_version: int,
                   author: str | None = None, note: str = "") -> int:
    """Move result ``row`` of a run to (x, y) in the project CRS as a new version; return it."""
    from jadis.georef.crs import parse_crs, to_wgs84

    if not np.isfinite([x, y]).all():
        raise JadisError("the corrected position must be two finite numbers")
    author = clean_author(author)
    created = now()
    lon, lat = to_wgs84(np.array([[x, y]]), parse_crs(project.crs))[0]

    def decide(conn: sqlite3.Connection) -> Apply[int] | Refuse:
        cur_row = conn.execute("SELECT * FROM geocode_results WHERE run_id = ? AND row = ? ORDER BY version DESC "
                               "LIMIT 1", (run_id, row)).fetchone()
        if cur_row is None:
            raise JadisError(f"no row {row} in geocoding run #{run_id}")
        current = int(cur_row["version"])
        base = {"run": run_id, "row": row, "version": int(base_version)}
        if current != int(base_version):
            return Refuse(
                Correction(TARGET, None, author, created, base, {"x": x, "y": y},
                           f"row {row} of run #{run_id} was corrected by {cur_row['author']} since v{base_version}"),
                lambda cid: (f"conflict: row {row} was corrected by {cur_row['author']} "
                             f"({describe_time(cur_row['created_at'])} UTC) since you loaded it; your position was "
                             f"NOT saved but is kept as correction #{cid}: reload the row and try again"))
        version = current + 1

        def write(conn: sqlite3.Connection, cid: int) -> int:
            conn.execute(
                "INSERT INTO geocode_results (geom, run_id, row, version, parent_version, address, year, match_type, "
                "score, matched_name, gazetteer, uncertainty_m, explanation, lon, lat, x, y, input, correction_id, "
                "author, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (gpkg.encode_geometry(Point(x, y), project.srs_id), run_id, row, version, current,
                 cur_row["address"], cur_row["year"], "manual", 1.0, cur_row["matched_name"], cur_row["gazetteer"],
                 None, f"placed by hand by {author}" + (f": {note}" if note else ""), float(lon), float(lat),
                 float(x), float(y), cur_row["input"], cid, author, created))
            gpkg.touch(conn, "geocode_results", (x, y, x, y))
            return version

        return Apply(Correction(TARGET, None, author, created, base, {"version": version, "x": x, "y": y},
                                f"row {row} of run #{run_id} placed by hand" + (f": {note}" if note else "")), write)

    return save_versioned(project, decide)


def export_results(project: Project, run_id: int, dest: str | os.PathLike[str]) -> Path:
    """Write the current results of a run as CSV (input columns + results) or GeoPackage (points)."""
    from jadis.io.atomic import atomic_path
    from jadis.io.vector import write_layers

    gdf = results(project, run_id)
    inputs = pd.DataFrame([json.loads(s or "{}") for s in gdf["input"]])
    cols = ["row", "version", "match_type", "score", "matched_name", "gazetteer", "uncertainty_m", "explanation",
            "lon", "lat", "x", "y", "author", "created_at"]
    table = pd.concat([inputs.reset_index(drop=True), gdf[cols].reset_index(drop=True)], axis=1)
    dest = Path(dest)
    if dest.suffix.lower() == ".csv":
        with atomic_path(dest) as tmp:
            table.to_csv(tmp, index=False, encoding="utf-8")
        return dest
    if dest.suffix.lower() == ".gpkg":
        import geopandas as gpd

        return write_layers(dest, {"geocoded": gpd.GeoDataFrame(table, geometry=gdf.geometry.values, crs=gdf.crs)})
    raise JadisError(f"{dest}: export as .csv or .gpkg")
