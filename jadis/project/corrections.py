"""Versioned corrections of a map's class raster: brush strokes and polygons painted with a class.

A correction is a list of :class:`Edit` (painted in order) saved against the tile versions the
editor started from (``base_versions``). Saving happens in one transaction: if any touched tile
changed since (somebody else saved over the same region), nothing is applied, the edit is still
recorded (status ``conflict``, with its geometry) and :class:`~jadis.project.store.ConflictError`
says who changed what; :func:`reapply_correction` later applies the kept edit on top of the latest
version. Otherwise each touched tile gets a new version and the edits are stored in the ``seg_edits``
layer. The check-then-apply itself is :func:`jadis.project.store.save_versioned`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from jadis.classes import NUM_CLASSES
from jadis.errors import JadisError
from jadis.project import gpkg
from jadis.project.maps import get_map
from jadis.project.store import Apply, Correction, Refuse, promote_status, save_versioned
from jadis.project.store import ConflictError as ConflictError  # re-exported: it used to live here
from jadis.project.tiles import (
    Grid,
    TileKey,
    current_versions,
    encode_tile,
    grid_for,
    read_tile,
)
from jadis.project.workspace import Project, clean_author, now

#: ``corrections.target`` of segmentation corrections.
TARGET = "segmentation"

#: Longest brush stroke / polygon accepted (vertices), and the largest brush radius (pixels).
MAX_VERTICES = 20_000
MAX_BRUSH_RADIUS = 500.0


@dataclass(frozen=True)
class Edit:
    """Paint ``geometry`` (pixel coordinates, x right, y down) with ``class_id``."""

    tool: str  # 'brush' | 'polygon' | 'rectangle'
    class_id: int
    geometry: BaseGeometry

    def __post_init__(self) -> None:
        if not 0 <= int(self.class_id) < NUM_CLASSES:
            raise JadisError(f"class id {self.class_id} is not one of 0..{NUM_CLASSES - 1}")
        if self.geometry.is_empty or self.geometry.area <= 0:
            raise JadisError(f"empty {self.tool} edit: nothing to paint")


def _points(points: Sequence[Sequence[float]], what: str) -> list[tuple[float, float]]:
    try:
        pts = [(float(p[0]), float(p[1])) for p in points]
    except (TypeError, ValueError, IndexError) as exc:
        raise JadisError(f"{what}: points must be pairs of numbers") from exc
    if not pts:
        raise JadisError(f"{what}: no points")
    if len(pts) > MAX_VERTICES:
        raise JadisError(f"{what}: too many points ({len(pts)} > {MAX_VERTICES})")
    if not np.isfinite(np.asarray(pts)).all():
        raise JadisError(f"{what}: points must be finite numbers")
    return pts


def brush_edit(points: Sequence[Sequence[float]], radius: float, class_id: int) -> Edit:
    """A brush stroke through ``points`` with round tip of ``radius`` pixels."""
    pts = _points(points, "brush stroke")
    radius = float(radius)
    if not 0.5 <= radius <= MAX_BRUSH_RADIUS:
        raise JadisError(f"brush radius must be between 0.5 and {MAX_BRUSH_RADIUS:.0f} pixels, got {radius}")
    line = Point(pts[0]) if len(set(pts)) == 1 else LineString(pts)
    return Edit("brush", int(class_id), line.buffer(radius, quad_segs=8))


def polygon_edit(points: Sequence[Sequence[float]], class_id: int) -> Edit:
    """A filled polygon through ``points`` (closed automatically; self-intersections repaired)."""
    pts = _points(points, "polygon")
    if len(set(pts)) < 3:
        raise JadisError("polygon: at least 3 distinct points are needed")
    geom = shapely.make_valid(Polygon(pts))
    geom = shapely.unary_union([g for g in getattr(geom, "geoms", [geom]) if g.area > 0]) if not geom.is_empty else geom
    return Edit("polygon", int(class_id), geom)


def rectangle_edit(x0: float, y0: float, x1: float, y1: float, class_id: int) -> Edit:
    """A filled rectangle [x0, x1] × [y0, y1] (pixel corners)."""
    return Edit("rectangle", int(class_id), shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))


def touched_tiles(edits: Sequence[Edit], grid: Grid) -> list[TileKey]:
    """Tiles whose area intersects at least one edit, in row-major order."""
    keys: set[TileKey] = set()
    for edit in edits:
        minx, miny, maxx, maxy = edit.geometry.bounds
        for key in grid.keys_in(minx, miny, maxx + 1e-9, maxy + 1e-9):
            x0, y0, x1, y1 = grid.bounds(key)
            if edit.geometry.intersects(shapely.box(x0, y0, x1, y1)):
                keys.add(key)
    return sorted(keys, key=lambda k: (k[1], k[0]))


def paint(tile: np.ndarray, origin: tuple[int, int], edits: Sequence[Edit]) -> np.ndarray:
    """``tile`` (whose top-left pixel is ``origin``) with ``edits`` painted in order (pixel centres inside)."""
    from rasterio.features import rasterize
    from rasterio.transform import Affine

    out = tile.copy()
    transform = Affine.translation(origin[0], origin[1])
    for edit in edits:
        mask = rasterize([(edit.geometry, 1)], out_shape=out.shape, transform=transform, fill=0, dtype="uint8")
        out[mask.astype(bool)] = edit.class_id
    return out


def preview(base: np.ndarray, window_origin: tuple[int, int], step: int, edits: Sequence[Edit]) -> np.ndarray:
    """Unsaved edits painted on a (possibly subsampled) class window, for display."""
    from rasterio.features import rasterize
    from rasterio.transform import Affine

    if not edits:
        return base
    out = base.copy()
    transform = Affine(step, 0, window_origin[0] - step / 2 + 0.5, 0, step, window_origin[1] - step / 2 + 0.5)
    for edit in edits:
        mask = rasterize([(edit.geometry, 1)], out_shape=out.shape, transform=transform, fill=0, dtype="uint8")
        out[mask.astype(bool)] = edit.class_id
    return out


@dataclass
class SaveResult:
    """What a successful save did."""

    correction_id: int
    tiles: dict[TileKey, int] = field(default_factory=dict)  # tile -> its new version


def save_correction(project: Project, map_id: int, edits: Sequence[Edit], base_versions: dict[TileKey, int], *,
                    author: str | None = None) -> SaveResult:
    """Apply ``edits`` to the map's class raster as new tile versions, or refuse on conflict.

    ``base_versions`` are the tile versions the editor saw when the edits were made (a tile
    missing from it counts as version 0, i.e. not segmented). Raises :class:`ConflictError` —
    after recording the edit with status ``conflict`` — if any touched tile has moved on.
    """
    if not edits:
        raise JadisError("nothing to save: no edits")
    record = get_map(project, map_id)
    grid = grid_for(project, record)
    keys = touched_tiles(edits, grid)
    if not keys:
        raise JadisError(f"the edits lie outside map '{record.name}' ({record.width}x{record.height} px)")
    author = clean_author(author)

    def decide(conn: sqlite3.Connection) -> Apply[SaveResult] | Refuse:
        current = current_versions(conn, map_id)
        changed = [k for k in keys if current.get(k, 0) != int(base_versions.get(k, 0))]
        base = {f"{k[0]},{k[1]}": int(base_versions.get(k, 0)) for k in keys}
        created = now()
        if changed:
            who = _authors_since(conn, map_id, changed, base_versions)
            return Refuse(
                Correction(TARGET, map_id, author, created, base, None,
                           f"{len(changed)} tile(s) changed by {who} since loaded"),
                lambda cid: (f"conflict: {len(changed)} of the {len(keys)} tile(s) you edited on map '{record.name}' "
                             f"were changed by {who} since you loaded them; your edit was NOT applied but is kept as "
                             f"correction #{cid}: reload the latest version and re-apply it"),
                tiles=changed, keep=lambda conn, cid: _insert_edits(conn, cid, map_id, author, created, edits))
        new_versions = {k: current.get(k, 0) + 1 for k in keys}

        def write(conn: sqlite3.Connection, cid: int) -> SaveResult:
            _insert_edits(conn, cid, map_id, author, created, edits)
            rows = []
            for key in keys:
                version = current.get(key, 0)
                x0, y0, _, _ = grid.bounds(key)
                painted = paint(read_tile(conn, project, grid, map_id, key, version), (x0, y0), edits)
                rows.append((map_id, key[0], key[1], version + 1, version or None, None, cid, encode_tile(painted),
                             author, created))
            conn.executemany(
                "INSERT INTO seg_tiles (map_id, tx, ty, version, parent_version, run_id, correction_id, data, "
                "author, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
            if not current:  # first data on an unsegmented map
                promote_status(conn, map_id, "segmented")
            return SaveResult(cid, new_versions)

        return Apply(Correction(TARGET, map_id, author, created, base,
                                {f"{k[0]},{k[1]}": v for k, v in new_versions.items()},
                                f"{len(edits)} edit(s) on {len(keys)} tile(s)"), write)

    return save_versioned(project, decide)


def _authors_since(conn: sqlite3.Connection, map_id: int, keys: Sequence[TileKey],
                   base_versions: dict[TileKey, int]) -> str:
    names: dict[str, str] = {}
    for key in keys:
        for row in conn.execute("SELECT author, created_at FROM seg_tiles WHERE map_id = ? AND tx = ? AND ty = ? "
                                "AND version > ?", (map_id, key[0], key[1], int(base_versions.get(key, 0)))):
            names[row["author"]] = max(names.get(row["author"], ""), row["created_at"])
    if not names:
        return "someone"
    return ", ".join(f"{a} ({t.replace('T', ' ')[:16]} UTC)" for a, t in sorted(names.items(), key=lambda i: i[1]))


def _insert_edits(conn: sqlite3.Connection, cid: int, map_id: int, author: str, created: str,
                  edits: Sequence[Edit]) -> None:
    """The painted areas of correction ``cid``, in the ``seg_edits`` layer."""
    rows = []
    bounds = None
    for seq, edit in enumerate(edits):
        geom = edit.geometry
        geom = geom if isinstance(geom, MultiPolygon) else MultiPolygon(
            [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon)])
        rows.append((gpkg.encode_geometry(geom, gpkg.PIXEL_SRS_ID), cid, map_id, seq, edit.tool, edit.class_id,
                     author, created))
        b = geom.bounds
        bounds = b if bounds is None else (min(bounds[0], b[0]), min(bounds[1], b[1]),
                                           max(bounds[2], b[2]), max(bounds[3], b[3]))
    conn.executemany("INSERT INTO seg_edits (geom, correction_id, map_id, seq, tool, class_id, author, created_at) "
                     "VALUES (?,?,?,?,?,?,?,?)", rows)
    gpkg.touch(conn, "seg_edits", bounds)


@dataclass(frozen=True)
class CorrectionRecord:
    """A saved (or refused) correction, as listed in the history."""

    id: int
    map_id: int | None
    target: str
    status: str
    author: str
    created_at: str
    message: str


def list_corrections(project: Project, map_id: int | None = None, target: str | None = None) -> list[CorrectionRecord]:
    """The correction history, newest first."""
    sql, args = "SELECT * FROM corrections WHERE 1=1", []
    if map_id is not None:
        sql += " AND map_id = ?"
        args.append(map_id)
    if target is not None:
        sql += " AND target = ?"
        args.append(target)
    with project.connection() as conn:
        rows = conn.execute(sql + " ORDER BY fid DESC", args).fetchall()
    return [CorrectionRecord(int(r["fid"]), r["map_id"], r["target"], r["status"], r["author"], r["created_at"],
                             r["message"] or "") for r in rows]


def load_edits(project: Project, correction_id: int) -> list[Edit]:
    """The edits of a correction, in the order they were painted."""
    with project.connection() as conn:
        rows = conn.execute("SELECT geom, tool, class_id FROM seg_edits WHERE correction_id = ? ORDER BY seq",
                            (correction_id,)).fetchall()
    if not rows:
        raise JadisError(f"correction #{correction_id} has no segmentation edits")
    return [Edit(r["tool"], int(r["class_id"]), gpkg.decode_geometry(r["geom"])) for r in rows]


def reapply_correction(project: Project, correction_id: int, *, author: str | None = None) -> SaveResult:
    """Apply a kept (conflicting) correction on top of the current tile versions, as a new correction."""
    with project.connection() as conn:
        row = conn.execute("SELECT map_id, target FROM corrections WHERE fid = ?", (correction_id,)).fetchone()
        if row is None or row["target"] != TARGET:
            raise JadisError(f"no segmentation correction #{correction_id}")
        current = current_versions(conn, int(row["map_id"]))
    return save_correction(project, int(row["map_id"]), load_edits(project, correction_id), current, author=author)
