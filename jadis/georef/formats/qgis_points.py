"""QGIS georeferencer ``.points`` files, read and write.

Layout (QGIS 3)::

    #CRS: <WKT of the map CRS>
    mapX,mapY,sourceX,sourceY,enable,dX,dY,residual
    652045.1,6862032.7,1203.5,-845.25,1,0.31,-0.12,0.33

``sourceX, sourceY`` are pixels with **sourceY <= 0** (QGIS puts the image in the y-up quadrant:
the row is ``-sourceY``). Older files have no ``#CRS`` line, or no ``enable``/residual columns.

Traps: the ``#CRS`` header is whatever the QGIS *project* CRS was when the file was saved, and is
wrong in many real files (e.g. the Verniquet atlas ``.points``: toises, whatever the header says);
pass ``crs=`` to override it. A file whose sourceY values are all >= 0 is read as rows (y down)
as written by some other tools.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import pyproj

from jadis.errors import JadisError
from jadis.georef.crs import parse_crs
from jadis.georef.gcps import GcpSet
from jadis.io.atomic import atomic_write_text


def read_points(path: str | os.PathLike[str], crs: str | pyproj.CRS | None = None) -> GcpSet:
    """Read a QGIS ``.points`` file; ``crs`` overrides (or supplies) the ``#CRS`` header."""
    path = Path(path)
    if not path.is_file():
        raise JadisError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JadisError(f"{path}: not a text .points file") from exc
    return parse_points(text, crs=crs, name=str(path))


def parse_points(text: str, crs: str | pyproj.CRS | None = None, name: str = ".points") -> GcpSet:
    """Parse the text of a ``.points`` file (see :func:`read_points`)."""
    lines = text.splitlines()
    header_crs = None
    body = []
    for line in lines:
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            if s[1:].strip().upper().startswith("CRS:"):
                header_crs = s[1:].strip()[4:].strip()
            continue
        body.append(s)
    if not body:
        raise JadisError(f"{name}: empty .points file (no header, no GCPs)")
    reader = csv.reader(io.StringIO("\n".join(body)))
    rows = list(reader)
    header = [h.strip() for h in rows[0]]
    cols = {h.lower(): i for i, h in enumerate(header)}
    for need in ("mapx", "mapy", "sourcex", "sourcey"):
        if need not in cols:
            raise JadisError(f"{name}: missing column {need!r} in the .points header {','.join(header)!r}")
    en_col = cols.get("enable", cols.get("enabled"))
    world, source, enabled = [], [], []
    for k, row in enumerate(rows[1:], start=2):
        if len(row) < len(header) and len(row) < 4:
            raise JadisError(f"{name}: line {k} has {len(row)} fields, expected {len(header)}")
        try:
            world.append([float(row[cols["mapx"]]), float(row[cols["mapy"]])])
            source.append([float(row[cols["sourcex"]]), float(row[cols["sourcey"]])])
            enabled.append(True if en_col is None or en_col >= len(row) or row[en_col].strip() == ""
                           else bool(int(float(row[en_col]))))
        except (ValueError, IndexError) as exc:
            raise JadisError(f"{name}: line {k} is not numeric: {','.join(row)[:60]!r}") from exc
    if not world:
        raise JadisError(f"{name}: no GCPs (only a header)")
    if crs is not None:
        the_crs = parse_crs(crs)
    elif header_crs:
        try:
            the_crs = parse_crs(header_crs)
        except JadisError as exc:
            raise JadisError(f"{name}: cannot parse the #CRS header; pass the CRS explicitly (--crs)") from exc
    else:
        raise JadisError(f"{name}: no #CRS header; pass the CRS of the map coordinates (--crs, e.g. VERNIQUET-m)")
    src = np.array(source, dtype=float)
    pixel = src.copy()
    if np.any(src[:, 1] < 0) or not np.any(src[:, 1] > 0):
        pixel[:, 1] = -src[:, 1]
    return GcpSet(pixel, np.array(world, dtype=float), the_crs, np.array(enabled, dtype=bool))


def format_points(gcps: GcpSet, residuals_px: np.ndarray | None = None) -> str:
    """The text of a QGIS ``.points`` file for ``gcps`` (residual columns in pixels, if given)."""
    out = io.StringIO()
    out.write(f"#CRS: {gcps.crs.to_wkt()}\n")
    out.write("mapX,mapY,sourceX,sourceY,enable,dX,dY,residual\n")
    for i in range(len(gcps)):
        dx = dy = res = 0.0
        if residuals_px is not None and np.all(np.isfinite(residuals_px[i])):
            dx, dy = float(residuals_px[i, 0]), float(residuals_px[i, 1])
            res = float(np.hypot(dx, dy))
        out.write(",".join([_f(gcps.world[i, 0]), _f(gcps.world[i, 1]), _f(gcps.pixel[i, 0]),
                            _f(-gcps.pixel[i, 1] + 0.0), str(int(gcps.enabled[i])), _f(dx), _f(dy), _f(res)]) + "\n")
    return out.getvalue()


def _f(v: float) -> str:
    return repr(float(v))


def write_points(path: str | os.PathLike[str], gcps: GcpSet, residuals_px: np.ndarray | None = None) -> Path:
    """Write ``gcps`` as a QGIS ``.points`` file (atomic)."""
    path = Path(path)
    atomic_write_text(path, format_points(gcps, residuals_px))
    return path
