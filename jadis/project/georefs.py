"""Versioned georeferences of a project's maps (control points + transform), with conflict detection.

Each save adds a version (``georefs`` row + its points in ``control_points``, world position in
the project CRS); nothing is overwritten. A save names the version it started from: if somebody
saved another version meanwhile, the save is refused with :class:`~jadis.project.store.ConflictError` and the refused
set is kept in ``corrections`` (as JSON), so it can be looked at and re-applied.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from shapely.geometry import Point

from jadis.errors import JadisError
from jadis.project import gpkg
from jadis.project.maps import get_map
from jadis.project.store import Apply, Correction, Refuse, describe_time, promote_status, save_versioned
from jadis.project.workspace import Project, clean_author, now

if TYPE_CHECKING:
    from jadis.georef.georeference import Georeference

#: ``corrections.target`` of georeference saves.
TARGET = "georef"


@dataclass(frozen=True)
class GeorefVersion:
    """One saved georeference of a map."""

    map_id: int
    version: int
    georef: Georeference
    source: str
    author: str
    created_at: str
    rmse_m: float | None


def georeference_to_json(georef: Georeference) -> str:
    """The control points and transform of ``georef`` as a JSON string (our own, stable format)."""
    g = georef.gcps
    return json.dumps({
        "transform": georef.transform,
        "crs": g.crs.to_wkt(),
        "pixel": g.pixel.tolist(), "world": g.world.tolist(), "enabled": g.enabled.tolist(),
        "ids": list(g.ids) if g.ids is not None else None,
        "image_size": list(georef.image_size) if georef.image_size else None,
        "mask": georef.mask.tolist() if georef.mask is not None else None,
    })


def georeference_from_json(text: str) -> Georeference:
    """Inverse of :func:`georeference_to_json`."""
    from jadis.georef.gcps import GcpSet
    from jadis.georef.georeference import Georeference

    obj = json.loads(text)
    gcps = GcpSet(pixel=np.asarray(obj["pixel"], float).reshape(-1, 2), world=np.asarray(obj["world"], float).reshape(-1, 2),
                  crs=obj["crs"], enabled=np.asarray(obj["enabled"], bool), ids=obj.get("ids"))
    size = tuple(obj["image_size"]) if obj.get("image_size") else None
    mask = np.asarray(obj["mask"], float) if obj.get("mask") else None
    return Georeference(gcps=gcps, transform=obj["transform"], image_size=size, mask=mask)


def current_version(conn: sqlite3.Connection, map_id: int) -> int:
    row = conn.execute("SELECT MAX(version) FROM georefs WHERE map_id = ?", (map_id,)).fetchone()
    return int(row[0] or 0)


def load_georef(project: Project, map_id: int, version: int | None = None) -> GeorefVersion | None:
    """The latest (or a given) georeference of a map, None if it has none."""
    with project.connection() as conn:
        if version is None:
            row = conn.execute("SELECT * FROM georefs WHERE map_id = ? ORDER BY version DESC LIMIT 1",
                               (map_id,)).fetchone()
        else:
            row = conn.execute("SELECT * FROM georefs WHERE map_id = ? AND version = ?", (map_id, version)).fetchone()
    if row is None:
        return None
    return GeorefVersion(int(row["map_id"]), int(row["version"]), georeference_from_json(row["gcps"]), row["source"],
                         row["author"], row["created_at"], row["rmse_m"])


def history(project: Project, map_id: int) -> list[dict]:
    """Every saved version of a map's georeference, newest first (version, who, when, transform, RMSE)."""
    with project.connection() as conn:
        rows = conn.execute("SELECT version, parent_version, transform, source, author, created_at, rmse_m, "
                            "(SELECT COUNT(*) FROM control_points c WHERE c.georef_id = g.fid) AS n "
                            "FROM georefs g WHERE map_id = ? ORDER BY version DESC", (map_id,)).fetchall()
    return [dict(r) for r in rows]


def save_georef(project: Project, map_id: int, georef: Georeference, *, base_version: int, source: str = "manual",
                author: str | None = None) -> int:
    """Save ``georef`` as the next version of the map's georeference; return the new version.

    ``base_version`` is the version the editor started from (0: none). If another version was
    saved meanwhile, raises :class:`~jadis.project.store.ConflictError` (after keeping the refused set in
    ``corrections``). The points are validated for the transform first (JadisError otherwise).
    """
    from jadis.georef.crs import parse_crs, reproject
    from jadis.georef.formats.allmaps import annotation_dict

    record = get_map(project, map_id)
    georef.check_image(record.width, record.height, f"map '{record.name}'")
    georef.validate()
    report = georef.report()
    author = clean_author(author)
    annotation = json.dumps(annotation_dict(georef, include_report=True))
    payload = georeference_to_json(georef)
    world_project = reproject(georef.gcps.world, georef.gcps.crs, parse_crs(project.crs))
    created = now()

    def decide(conn: sqlite3.Connection) -> Apply[int] | Refuse:
        current = current_version(conn, map_id)
        if current != int(base_version):
            who = conn.execute("SELECT author, created_at FROM georefs WHERE map_id = ? AND version = ?",
                               (map_id, current)).fetchone()
            return Refuse(
                Correction(TARGET, map_id, author, created, {"version": int(base_version)}, payload,
                           f"georeference v{current} saved by {who['author']} since v{base_version} was loaded"),
                lambda cid: (f"conflict: the georeference of map '{record.name}' was saved as v{current} by "
                             f"{who['author']} ({describe_time(who['created_at'])} UTC) after you loaded "
                             f"v{base_version}; your points were NOT saved but are kept as correction #{cid}: "
                             "reload and re-apply them"))
        version = current + 1

        def write(conn: sqlite3.Connection, correction_id: int) -> int:
            cur = conn.execute(
                "INSERT INTO georefs (map_id, version, parent_version, transform, crs, gcps, annotation, rmse_px, "
                "rmse_m, source, correction_id, author, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (map_id, version, current or None, georef.transform, georef.gcps.crs.to_wkt(), payload, annotation,
                 _num(report.rmse_px), _num(report.rmse_m), source, correction_id, author, created))
            georef_id = int(cur.lastrowid)
            ids = georef.gcps.ids or tuple(str(i + 1) for i in range(len(georef.gcps)))
            rows = []
            for i in range(len(georef.gcps)):
                x, y = world_project[i]
                rows.append((gpkg.encode_geometry(Point(x, y), project.srs_id), georef_id, map_id, version, ids[i],
                             float(georef.gcps.pixel[i, 0]), float(georef.gcps.pixel[i, 1]),
                             float(georef.gcps.world[i, 0]), float(georef.gcps.world[i, 1]),
                             int(georef.gcps.enabled[i]), _num(report.residual_m[i]), int(report.outlier[i])))
            conn.executemany(
                "INSERT INTO control_points (geom, georef_id, map_id, version, point_id, pixel_x, pixel_y, world_x, "
                "world_y, enabled, residual_m, outlier) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            if len(world_project):
                lo, hi = world_project.min(axis=0), world_project.max(axis=0)
                gpkg.touch(conn, "control_points", (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])))
            promote_status(conn, map_id, "georeferenced")
            return version

        return Apply(Correction(TARGET, map_id, author, created, {"version": current}, {"version": version},
                                f"{georef.gcps.n_enabled}/{len(georef.gcps)} points, {georef.transform}, "
                                f"RMSE {report.rmse_m:.2f} m ({source})"), write)

    return save_versioned(project, decide)


def _num(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def refused_georef(project: Project, correction_id: int) -> Georeference:
    """The control points of a save refused for a conflict (to look at or re-apply)."""
    with project.connection() as conn:
        row = conn.execute("SELECT target, status, result FROM corrections WHERE fid = ?", (correction_id,)).fetchone()
    if row is None or row["target"] != TARGET or row["status"] != "conflict":
        raise JadisError(f"correction #{correction_id} is not a refused georeference")
    return georeference_from_json(row["result"])
