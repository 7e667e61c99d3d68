"""The modern reference shown next to an old map when placing control points — rendered locally.

Either a georeferenced raster (e.g. the Lambert-93 OSM road raster; read by windows at the zoom
shown, using its overviews) or a street network in any GIS file (GeoPackage, GeoJSON, shapefile:
lines or polygons, drawn on the fly for the view). Both are seen through a pixel grid (for a
vector network: a virtual one at ``VECTOR_RESOLUTION`` metres per pixel) so the same viewer and
:class:`jadis.project.render.View` serve both. No internet: an online basemap would only be
optional configuration.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine

from jadis.errors import JadisError
from jadis.project.render import View

#: Pixel size of the virtual grid of a vector reference, in CRS units (metres for projected CRSs).
VECTOR_RESOLUTION = 1.0


@dataclass(frozen=True)
class Reference:
    """A modern reference: its pixel grid (``transform``: pixel -> world) and CRS."""

    path: Path
    kind: str  # 'raster' | 'vector'
    crs_wkt: str
    width: int
    height: int
    transform: Affine
    name: str

    @property
    def crs(self):  # pyproj.CRS
        from pyproj import CRS

        return CRS.from_wkt(self.crs_wkt)

    def pixel_to_world(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, float).reshape(-1, 2)
        a, b, c, d, e, f = self.transform[:6]
        return np.column_stack([a * xy[:, 0] + b * xy[:, 1] + c, d * xy[:, 0] + e * xy[:, 1] + f])

    def world_to_pixel(self, xy: np.ndarray) -> np.ndarray:
        inv = ~self.transform
        xy = np.asarray(xy, float).reshape(-1, 2)
        a, b, c, d, e, f = inv[:6]
        return np.column_stack([a * xy[:, 0] + b * xy[:, 1] + c, d * xy[:, 0] + e * xy[:, 1] + f])


def open_reference(path: str | os.PathLike[str]) -> Reference:
    """Open a reference raster or street-network file (JadisError if it is neither or has no CRS)."""
    path = Path(path)
    if not path.is_file():
        raise JadisError(f"{path}: no such reference file")
    if path.suffix.lower() in {".tif", ".tiff", ".vrt", ".jp2", ".png", ".jpg", ".jpeg"}:
        return _open_raster(str(path))
    return _open_vector(str(path))


@functools.lru_cache(maxsize=8)
def _open_raster(path: str) -> Reference:
    from jadis.io.images import open_image

    with open_image(path) as ds:
        if ds.crs is None or ds.transform.is_identity:
            raise JadisError(f"{path}: the reference raster is not georeferenced (no CRS / transform)")
        return Reference(Path(path), "raster", ds.crs.to_wkt(), ds.width, ds.height, ds.transform,
                         Path(path).stem)


@functools.lru_cache(maxsize=4)
def _vector_frame(path: str):  # GeoDataFrame
    import geopandas as gpd
    import pyogrio

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gdf = pyogrio.read_dataframe(path)
    except Exception as exc:  # noqa: BLE001 - pyogrio raises several types for unreadable files
        raise JadisError(f"{path}: not a readable raster or vector file ({' '.join(str(exc).split())[:120]})") from exc
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.empty:
        raise JadisError(f"{path}: no features to use as a reference")
    if gdf.crs is None:
        raise JadisError(f"{path}: the street network has no CRS")
    if gdf.crs.is_geographic:
        gdf = gdf.to_crs(gdf.estimate_utm_crs())
    gdf = gdf[~gdf.geometry.is_empty & gdf.geometry.notna()]
    gdf.sindex  # noqa: B018 - build the spatial index once
    return gdf


@functools.lru_cache(maxsize=4)
def _open_vector(path: str) -> Reference:
    gdf = _vector_frame(path)
    minx, miny, maxx, maxy = gdf.total_bounds
    margin = 50 * VECTOR_RESOLUTION
    minx, miny, maxx, maxy = minx - margin, miny - margin, maxx + margin, maxy + margin
    width = max(1, math.ceil((maxx - minx) / VECTOR_RESOLUTION))
    height = max(1, math.ceil((maxy - miny) / VECTOR_RESOLUTION))
    transform = Affine(VECTOR_RESOLUTION, 0, minx, 0, -VECTOR_RESOLUTION, maxy)
    return Reference(Path(path), "vector", gdf.crs.to_wkt(), width, height, transform, Path(path).stem)


def render_reference(ref: Reference, view: View) -> np.ndarray:
    """The view of the reference as (height, width, 3) uint8 (outside: light grey)."""
    return _render_raster(ref, view) if ref.kind == "raster" else _render_vector(ref, view)


def _render_raster(ref: Reference, view: View) -> np.ndarray:
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.windows import Window

    from jadis.io.images import to_rgb

    out = np.full((view.height, view.width, 3), 230, np.uint8)
    x0, y0, x1, y1 = view.window
    cx0, cy0, cx1, cy1 = max(0.0, x0), max(0.0, y0), min(float(ref.width), x1), min(float(ref.height), y1)
    if cx1 <= cx0 or cy1 <= cy0:
        return out
    u0, v0 = (max(0, int(round(c))) for c in view.to_display(cx0, cy0))
    u1, v1 = (int(round(c)) for c in view.to_display(cx1, cy1))
    u1, v1 = min(view.width, max(u0 + 1, u1)), min(view.height, max(v0 + 1, v1))
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(ref.path) as ds:
        bands = [1, 2, 3] if ds.count >= 3 else [1]
        data = ds.read(bands, window=Window(cx0, cy0, cx1 - cx0, cy1 - cy0), out_shape=(len(bands), v1 - v0, u1 - u0),
                       resampling=Resampling.bilinear if view.zoom < 1 else Resampling.nearest)
    rgb = to_rgb(np.moveaxis(data, 0, -1))
    if len(bands) == 1:  # a road mask: dark roads on light paper reads better than white on black
        rgb = (245 - rgb.astype(np.float32) * 0.7).astype(np.uint8)
    out[v0:v1, u0:u1] = rgb
    return out


def _render_vector(ref: Reference, view: View) -> np.ndarray:
    import cv2
    import shapely

    out = np.full((view.height, view.width, 3), 246, np.uint8)
    gdf = _vector_frame(str(ref.path))
    x0, y0, x1, y1 = view.window
    corners = ref.pixel_to_world(np.array([[x0, y0], [x1, y1]]))
    box = shapely.box(corners[:, 0].min(), corners[:, 1].min(), corners[:, 0].max(), corners[:, 1].max())
    idx = gdf.sindex.query(box)
    inv = ~ref.transform
    thickness = max(1, min(6, int(round(8 * view.zoom))))
    for geom in gdf.geometry.iloc[idx]:
        for part in getattr(geom, "geoms", [geom]):
            rings = [part.exterior, *part.interiors] if part.geom_type == "Polygon" else [part]
            for ring in rings:
                xy = np.asarray(ring.coords)[:, :2]
                if len(xy) < 2:
                    continue
                px = np.column_stack(inv * (xy[:, 0], xy[:, 1]))
                disp = np.round((px - [x0, y0]) * view.zoom * 8).astype(np.int32)  # 3 bits of sub-pixel precision
                cv2.polylines(out, [disp.reshape(-1, 1, 2)], part.geom_type == "Polygon", (60, 60, 70), thickness,
                              cv2.LINE_AA, shift=3)
    return out
