"""GCPs as CSV: one row per point, pixel and world columns, read and write.

Written columns: ``id, x, y, X, Y, crs, enabled, lon, lat`` (x, y: pixels, y down; X, Y: world
coordinates in ``crs``; lon, lat: the same point in WGS84, for convenience).

Read leniently: pixel columns ``x, y`` / ``pixel_x, pixel_y`` / ``col, row`` / ``px, py``; world
columns ``X, Y`` / ``map_x, map_y`` / ``mapX, mapY`` / ``world_x, world_y`` / ``easting, northing``
or ``lon, lat`` / ``longitude, latitude`` (WGS84); optional ``id``/``name``, ``label``,
``enabled``/``enable``; the CRS from the ``crs`` argument, else a ``crs`` column, else WGS84 when
the world columns are lon/lat.
"""

from __future__ import annotations

import csv as _csv
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj

from jadis.errors import JadisError
from jadis.georef.crs import WGS84, crs_name, parse_crs, to_wgs84
from jadis.georef.gcps import GcpSet
from jadis.io.atomic import atomic_path

_PIXEL = [("x", "y"), ("pixel_x", "pixel_y"), ("col", "row"), ("px", "py"), ("column", "row"),
          ("sourcex", "sourcey"), ("image_x", "image_y")]
_WORLD = [("X", "Y"), ("map_x", "map_y"), ("mapx", "mapy"), ("world_x", "world_y"), ("easting", "northing"),
          ("e", "n")]
_LONLAT = [("lon", "lat"), ("longitude", "latitude"), ("lng", "lat")]


def _find(cols: list[str], pairs: list[tuple[str, str]], exact: bool = False) -> tuple[str, str] | None:
    if exact:
        for a, b in pairs:
            if a in cols and b in cols:
                return a, b
        return None
    low = {c.lower(): c for c in cols}
    for a, b in pairs:
        if a.lower() in low and b.lower() in low:
            return low[a.lower()], low[b.lower()]
    return None


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV (``,`` or ``;``, UTF-8 with or without BOM) with a one-line error when malformed."""
    path = Path(path)
    if not path.is_file():
        raise JadisError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise JadisError(f"{path}: empty CSV file")
    try:
        df = pd.read_csv(path, sep=None, engine="python", encoding="utf-8-sig", comment=None, dtype=str,
                         keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, _csv.Error) as exc:
        raise JadisError(f"{path}: malformed CSV ({' '.join(str(exc).split())[:120]})") from exc
    except pd.errors.EmptyDataError as exc:
        raise JadisError(f"{path}: empty CSV file") from exc
    df.columns = [str(c).strip() for c in df.columns]
    return df


def numeric(df: pd.DataFrame, col: str, name: str) -> np.ndarray:
    """A column as floats; a clear error naming the first bad row."""
    values = pd.to_numeric(df[col].astype(str).str.strip().str.replace(",", ".", regex=False), errors="coerce")
    bad = values.isna() & (df[col].astype(str).str.strip() != "")
    if bad.any() or values.isna().any():
        i = int(np.flatnonzero(bad.to_numpy() | values.isna().to_numpy())[0])
        raise JadisError(f"{name}: row {i + 2}: column {col!r} is not a number: {df[col].iloc[i]!r}")
    return values.to_numpy(dtype=float)


def read_csv(path: str | os.PathLike[str], crs: str | pyproj.CRS | None = None) -> GcpSet:
    """Read GCPs from a CSV file (see the module docstring for the accepted columns)."""
    df = read_table(path)
    name = str(path)
    if df.empty:
        raise JadisError(f"{name}: no GCP rows")
    cols = list(df.columns)
    pix = _find(cols, _PIXEL[:1], exact=True) or _find([c for c in cols if c not in ("X", "Y")], _PIXEL)
    if pix is None:
        raise JadisError(f"{name}: missing pixel columns (x, y) in {', '.join(cols)}")
    rest = [c for c in cols if c not in pix]
    world = _find(rest, _WORLD[:1], exact=True) or _find(rest, _WORLD)
    lonlat = _find(rest, _LONLAT)
    the_crs = None
    if crs is not None:
        the_crs = parse_crs(crs)
    if world is None and lonlat is None:
        raise JadisError(f"{name}: missing world columns (X, Y or lon, lat) in {', '.join(cols)}")
    if world is None:
        world = lonlat
        the_crs = the_crs or parse_crs(WGS84)
    if the_crs is None:
        crs_col = next((c for c in cols if c.lower() == "crs"), None)
        values = [v for v in (df[crs_col].astype(str).str.strip() if crs_col else []) if v]
        if values:
            the_crs = parse_crs(values[0])
        elif lonlat is not None:  # world X/Y of unknown CRS but lon/lat given: use those
            world, the_crs = lonlat, parse_crs(WGS84)
        else:
            raise JadisError(f"{name}: the CRS of the world columns is unknown; pass it (--crs) or add a 'crs' column")
    pixel = np.column_stack([numeric(df, pix[0], name), numeric(df, pix[1], name)])
    wxy = np.column_stack([numeric(df, world[0], name), numeric(df, world[1], name)])
    en_col = next((c for c in cols if c.lower() in ("enabled", "enable")), None)
    enabled = None
    if en_col:
        enabled = np.array([_truthy(v) for v in df[en_col]], dtype=bool)
    id_col = next((c for c in cols if c.lower() in ("id", "name", "gcp")), None)
    label_col = next((c for c in cols if c.lower() == "label"), None)
    ids = tuple(df[id_col].astype(str)) if id_col else None
    labels = tuple(df[label_col].astype(str)) if label_col else None
    return GcpSet(pixel, wxy, the_crs, enabled, ids, labels)


def _truthy(value: object) -> bool:
    text = str(value).strip().lower()
    return text not in ("0", "false", "no", "n", "f", "off", "0.0")


def gcps_frame(gcps: GcpSet) -> pd.DataFrame:
    """The written table of ``gcps``."""
    lonlat = to_wgs84(gcps.world, gcps.crs)
    name = crs_name(gcps.crs)
    return pd.DataFrame({
        "id": list(gcps.ids) if gcps.ids else [str(i + 1) for i in range(len(gcps))],
        "x": gcps.pixel[:, 0], "y": gcps.pixel[:, 1], "X": gcps.world[:, 0], "Y": gcps.world[:, 1],
        "crs": [name] * len(gcps), "enabled": gcps.enabled.astype(int),
        "lon": lonlat[:, 0], "lat": lonlat[:, 1],
        **({"label": list(gcps.labels)} if gcps.labels else {}),
    })


def write_csv(path: str | os.PathLike[str], gcps: GcpSet) -> Path:
    """Write ``gcps`` as CSV (atomic)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        gcps_frame(gcps).to_csv(tmp, index=False, float_format="%.12g")
    return path
