"""Apply a georeference to data: CSV points (pixel <-> world) and vector layers in pixels.

* :func:`apply_points`: a table with pixel ``x, y`` gets ``lon, lat`` (WGS84) and ``X, Y`` (the
  georeference's CRS, or ``crs``); with ``inverse``, ``lon, lat`` (or ``X, Y``) give ``x, y``.
  Every other column passes through unchanged (values are kept as text).
* :func:`apply_layers`: the segmenter's GeoPackage layers (blocks, streets, labels... in pixel
  coordinates, y down) -> world coordinates. Lines and polygon edges are densified first
  (vertices every ``densify`` pixels) so a non-linear transform bends them correctly.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import shapely

from jadis.errors import JadisError
from jadis.georef.crs import WGS84, parse_crs, reproject
from jadis.georef.formats.csv import numeric, read_table
from jadis.georef.georeference import Georeference
from jadis.io.atomic import atomic_path

#: Transforms that map straight lines to straight lines (no densification needed).
_LINEAR = {"helmert", "polynomial1", "projective"}


def _fmt(values: np.ndarray) -> list[str]:
    return [f"{v:.12g}" if np.isfinite(v) else "" for v in values]


def apply_points(georef: Georeference, table: pd.DataFrame, inverse: bool = False,
                 crs: str | pyproj.CRS | None = None, name: str = "points") -> pd.DataFrame:
    """Add world columns to a table of pixel points (or pixel columns to world points)."""
    out_crs = parse_crs(crs) if crs is not None else georef.crs
    df = table.copy()
    cols = {c.lower(): c for c in df.columns}
    if not inverse:
        if "x" not in df.columns or "y" not in df.columns:
            raise JadisError(f"{name}: needs pixel columns 'x' and 'y' (found: {', '.join(map(str, df.columns))})")
        px = np.column_stack([numeric(df, "x", name), numeric(df, "y", name)])
        world = georef.pixel_to_world(px)
        lonlat = reproject(world, georef.crs, parse_crs(WGS84))
        xy = reproject(world, georef.crs, out_crs)
        df["lon"], df["lat"] = _fmt(lonlat[:, 0]), _fmt(lonlat[:, 1])
        df["X"], df["Y"] = _fmt(xy[:, 0]), _fmt(xy[:, 1])
        return df
    if "lon" in cols and "lat" in cols:
        src = np.column_stack([numeric(df, cols["lon"], name), numeric(df, cols["lat"], name)])
        world = reproject(src, parse_crs(WGS84), georef.crs)
    elif "X" in df.columns and "Y" in df.columns:
        src = np.column_stack([numeric(df, "X", name), numeric(df, "Y", name)])
        world = reproject(src, out_crs, georef.crs)
    else:
        raise JadisError(f"{name}: --inverse needs columns 'lon' and 'lat' (WGS84) or 'X' and 'Y' "
                         f"(found: {', '.join(map(str, df.columns))})")
    px = georef.world_to_pixel(world)
    df["x"], df["y"] = _fmt(px[:, 0]), _fmt(px[:, 1])
    return df


def apply_points_file(georef: Georeference, src: str | os.PathLike[str], dst: str | os.PathLike[str],
                      inverse: bool = False, crs: str | pyproj.CRS | None = None) -> Path:
    """:func:`apply_points` from CSV file to CSV file (atomic)."""
    table = read_table(src)
    out = apply_points(georef, table, inverse=inverse, crs=crs, name=str(src))
    dst = Path(dst)
    with atomic_path(dst) as tmp:
        out.to_csv(tmp, index=False)
    return dst


def transform_geometries(georef: Georeference, geoms: np.ndarray, crs: pyproj.CRS,
                         densify: float | None = 10.0) -> np.ndarray:
    """Pixel geometries (shapely array) -> geometries in ``crs`` through the georeference."""
    geoms = np.asarray(geoms, dtype=object)
    if densify and georef.transform not in _LINEAR:
        geoms = shapely.segmentize(geoms, max_segment_length=float(densify))

    def fn(xy: np.ndarray) -> np.ndarray:
        if len(xy) == 0:
            return xy
        return reproject(georef.pixel_to_world(xy), georef.crs, crs)

    out = shapely.transform(geoms, fn)
    invalid = ~shapely.is_valid(out) & ~shapely.is_missing(out)
    if invalid.any():
        out[invalid] = shapely.make_valid(out[invalid])
    return out


def apply_layers(georef: Georeference, src: str | os.PathLike[str], dst: str | os.PathLike[str],
                 crs: str | pyproj.CRS | None = None, densify: float | None = 10.0) -> Path:
    """Every layer of a vector file in pixels -> a GeoPackage in world coordinates (atomic)."""
    import geopandas as gpd
    import pyogrio

    from jadis.io.vector import write_layers

    src = Path(src)
    if not src.is_file():
        raise JadisError(f"{src}: no such file")
    out_crs = parse_crs(crs) if crs is not None else georef.crs
    try:
        names = [str(n) for n, _ in pyogrio.list_layers(src)]
    except Exception as exc:  # noqa: BLE001 - pyogrio raises several error types for unreadable files
        raise JadisError(f"{src}: not a readable vector file ({' '.join(str(exc).split())[:100]})") from exc
    if not names:
        raise JadisError(f"{src}: no layers")
    layers = {}
    for layer in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gdf = gpd.read_file(src, layer=layer, engine="pyogrio")
        if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
            continue
        if gdf.crs is not None and (gdf.crs.is_projected or gdf.crs.is_geographic):
            raise JadisError(f"{src}: layer {layer!r} is already in world coordinates ({gdf.crs.name}); "
                             "expected pixel coordinates")
        geoms = transform_geometries(georef, gdf.geometry.to_numpy(), out_crs, densify)
        layers[layer] = gpd.GeoDataFrame(gdf.drop(columns=gdf.geometry.name), geometry=geoms, crs=out_crs)
    if not layers:
        raise JadisError(f"{src}: no layer with geometries")
    return write_layers(dst, layers)
