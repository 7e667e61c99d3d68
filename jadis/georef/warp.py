"""Warp a scanned map into a Cloud-Optimized GeoTIFF through its georeference.

For every output pixel (centre) in the output CRS we go back to the scan with the georeference's
*backward* transform (world -> pixel, the same fitted transform as everywhere else in jadis) and
resample there. The work is done in output blocks of ``block`` x ``block`` pixels: each block
reads only the part of the scan it needs, so memory does not grow with the sheet size.

* The backward transform is evaluated exactly on a coarse grid (every 16 output pixels) and
  interpolated bilinearly in between; if that is off by more than 0.125 px anywhere on a check
  grid the block is computed exactly (GDAL's approximate transformer uses the same 0.125 px).
* Output pixels outside the map content (the georeference's clip polygon, else the image
  footprint) are transparent: an alpha band (RGBA, or grey + alpha).
* The default resolution keeps the scan's own: the median ground size of one scan pixel.
* The file is a Cloud-Optimized GeoTIFF (GDAL's COG driver: tiled 512, overviews, DEFLATE at level
  1: on a 14 MP sheet 4x faster to write than the default level 6, for 14 % more bytes).
* Memory: one output block, the scan window it needs, and GDAL's block cache (capped at
  ``GDAL_CACHE_MB``): independent of the sheet size.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pyproj
import rasterio
import rasterio.features
import rasterio.shutil
import shapely
from affine import Affine
from rasterio.enums import ColorInterp, Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from jadis.errors import JadisError
from jadis.georef.crs import crs_name, parse_crs, reproject, transformer
from jadis.georef.georeference import Georeference

RESAMPLING = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC,
              "lanczos": cv2.INTER_LANCZOS4}
COMPRESSION = ("deflate", "lzw", "zstd")
#: Formats that decode only from the start of the file (re-read through a tiled temporary copy).
SEQUENTIAL_DRIVERS = {"JPEG", "PNG", "WEBP"}
#: Coarse grid step (output pixels) for the approximate backward transform, and its tolerance.
APPROX_STEP = 16
#: Grid steps tried in turn: a thin-plate spline through hundreds of automatic GCPs bends too much
#: between nodes for a 16 px grid, but a 4 px one still costs 1/16 of evaluating every pixel.
APPROX_STEPS = (APPROX_STEP, APPROX_STEP // 2, APPROX_STEP // 4)
APPROX_TOLERANCE_PX = 0.125
#: GDAL block cache while warping (MB): bounds memory whatever the sheet size.
GDAL_CACHE_MB = 256


@dataclass(frozen=True)
class WarpGrid:
    """The output raster: CRS, affine transform (north up) and size."""

    crs: pyproj.CRS
    transform: Affine
    width: int
    height: int

    @property
    def resolution(self) -> float:
        return float(self.transform.a)

    def to_cells(self, xy: np.ndarray) -> np.ndarray:
        """CRS coordinates -> fractional (column, row) of this north-up grid."""
        t = self.transform
        return np.column_stack([(xy[:, 0] - t.c) / t.a, (xy[:, 1] - t.f) / t.e])


def _footprint(georef: Georeference, width: int, height: int) -> shapely.Polygon:
    rect = shapely.box(0, 0, width, height)
    poly = georef.footprint()
    if poly is None:
        return rect
    shape = shapely.make_valid(shapely.Polygon(poly))
    shape = shape.intersection(rect)
    if shape.is_empty or shape.area < 1:
        raise JadisError("the georeference's content polygon does not overlap the image")
    return shape


def _boundary_points(shape: shapely.Geometry, step: float) -> np.ndarray:
    dense = shapely.segmentize(shape.boundary, max_segment_length=step)
    return shapely.get_coordinates(dense)


def pixel_scale(georef: Georeference, crs: pyproj.CRS, width: int, height: int) -> float:
    """Median size (output CRS units) of one scan pixel over the image (sqrt of the area scale)."""
    gx, gy = np.meshgrid(np.linspace(0.05, 0.95, 9) * width, np.linspace(0.05, 0.95, 9) * height)
    p = np.column_stack([gx.ravel(), gy.ravel()])
    d = max(1.0, min(width, height) / 200)
    a = georef.pixel_to_crs(p, crs)
    b = georef.pixel_to_crs(p + [d, 0], crs)
    c = georef.pixel_to_crs(p + [0, d], crs)
    u, v = (b - a) / d, (c - a) / d
    area = np.abs(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0])
    area = area[np.isfinite(area) & (area > 0)]
    if len(area) == 0:
        raise JadisError("the georeference is degenerate over the image (zero scale)")
    res = float(np.sqrt(np.median(area)))
    digits = -int(math.floor(math.log10(res))) + 2  # three significant digits
    return round(res, digits)


def warp_grid(georef: Georeference, width: int, height: int, crs: pyproj.CRS | None = None,
              resolution: float | None = None, max_pixels: int | None = None) -> WarpGrid:
    """The output grid covering the map content of a ``width`` x ``height`` scan."""
    crs = georef.crs if crs is None else crs
    shape = _footprint(georef, width, height)
    pts = _boundary_points(shape, max(width, height) / 200)
    world = georef.pixel_to_crs(pts, crs)
    world = world[np.all(np.isfinite(world), axis=1)]
    if len(world) < 3:
        raise JadisError("the map footprint cannot be transformed to the output CRS")
    res = float(resolution) if resolution else pixel_scale(georef, crs, width, height)
    if not res > 0:
        raise JadisError(f"output resolution must be positive, got {resolution}")
    minx, miny = world.min(axis=0)
    maxx, maxy = world.max(axis=0)
    minx, miny = math.floor(minx / res) * res, math.floor(miny / res) * res
    maxx, maxy = math.ceil(maxx / res) * res, math.ceil(maxy / res) * res
    w, h = int(round((maxx - minx) / res)), int(round((maxy - miny) / res))
    limit = max_pixels if max_pixels is not None else max(16 * width * height, 4_000_000)
    if w <= 0 or h <= 0 or w * h > limit:
        raise JadisError(f"the output would be {w}x{h} pixels at resolution {res:g}; "
                         "check the GCPs and the CRS, or choose a coarser --resolution")
    return WarpGrid(crs=crs, transform=Affine(res, 0, minx, 0, -res, maxy), width=w, height=h)


class _BackwardMap:
    """Output pixel centres -> scan pixel coordinates, exact or interpolated from a coarse grid."""

    def __init__(self, georef: Georeference, grid: WarpGrid) -> None:
        self.georef = georef
        self.grid = grid
        self._to_fit = None if _same(grid.crs, georef.crs) else transformer(grid.crs, georef.crs)

    def exact(self, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
        t = self.grid.transform
        x = t.c + (cols + 0.5) * t.a
        y = t.f + (rows + 0.5) * t.e
        if self._to_fit is not None:
            x, y = self._to_fit.transform(x, y)
        return self.georef.world_to_pixel(np.column_stack([np.ravel(x), np.ravel(y)]))

    def block(self, win: Window) -> tuple[np.ndarray, np.ndarray]:
        """(map_x, map_y) float32 arrays of the block's source pixel coordinates (corner origin):
        interpolated from a coarse grid of exact positions, on the coarsest of :data:`APPROX_STEPS`
        that interpolates within :data:`APPROX_TOLERANCE_PX`; exact at every pixel when none does."""
        for step in APPROX_STEPS:
            found = self._interpolated(win, step)
            if found is not None:
                return found
        return self._exact_block(win)

    def _interpolated(self, win: Window, s: int) -> tuple[np.ndarray, np.ndarray] | None:
        w, h = int(win.width), int(win.height)
        if w <= 2 * s or h <= 2 * s:
            return None
        cx = np.arange(0, w + s, s, dtype=float).clip(max=w - 1)
        cy = np.arange(0, h + s, s, dtype=float).clip(max=h - 1)
        gx, gy = np.meshgrid(cx, cy)
        coarse = self.exact(gx.ravel() + win.col_off, gy.ravel() + win.row_off).reshape(len(cy), len(cx), 2)
        if not np.all(np.isfinite(coarse)):
            return None
        # check the interpolation at the coarse cells' centres
        mx, my = (cx[:-1] + cx[1:]) / 2, (cy[:-1] + cy[1:]) / 2
        hx, hy = np.meshgrid(mx, my)
        truth = self.exact(hx.ravel() + win.col_off, hy.ravel() + win.row_off).reshape(len(my), len(mx), 2)
        interp = (coarse[:-1, :-1] + coarse[1:, :-1] + coarse[:-1, 1:] + coarse[1:, 1:]) / 4
        if not np.all(np.isfinite(truth)) or np.abs(interp - truth).max() > APPROX_TOLERANCE_PX:
            return None
        # bilinear interpolation of the coarse grid at every output pixel: separable, as two
        # small matrix products with the 1-D linear interpolation weights
        wy, wx = _lerp_matrix(cy, h), _lerp_matrix(cx, w)
        return wy @ coarse[..., 0] @ wx.T, wy @ coarse[..., 1] @ wx.T

    def _exact_block(self, win: Window) -> tuple[np.ndarray, np.ndarray]:
        w, h = int(win.width), int(win.height)
        gx, gy = np.meshgrid(np.arange(w, dtype=float) + win.col_off, np.arange(h, dtype=float) + win.row_off)
        p = self.exact(gx.ravel(), gy.ravel())
        return p[:, 0].reshape(h, w), p[:, 1].reshape(h, w)


def _lerp_matrix(knots: np.ndarray, n: int) -> np.ndarray:
    """(n, len(knots)) weights of linear interpolation at 0..n-1 between increasing ``knots``."""
    x = np.arange(n, dtype=float)
    j = np.clip(np.searchsorted(knots, x, side="right") - 1, 0, len(knots) - 2)
    t = (x - knots[j]) / np.maximum(knots[j + 1] - knots[j], 1e-12)
    m = np.zeros((n, len(knots)))
    m[np.arange(n), j] = 1 - t
    m[np.arange(n), j + 1] += t
    return m


def _same(a: pyproj.CRS, b: pyproj.CRS) -> bool:
    return a == b


def warp(image: str | os.PathLike[str], georef: Georeference, dest: str | os.PathLike[str], *,
         crs: str | pyproj.CRS | None = None, resampling: str = "bilinear", resolution: float | None = None,
         compress: str = "deflate", block: int = 512, max_pixels: int | None = None,
         progress: bool = True) -> Path:
    """Warp ``image`` with ``georef`` into a Cloud-Optimized GeoTIFF at ``dest`` (atomic)."""
    from jadis.io.atomic import atomic_path
    from jadis.io.images import open_image
    from jadis.progress import track

    if resampling not in RESAMPLING:
        raise JadisError(f"unknown resampling {resampling!r}; choose one of {', '.join(RESAMPLING)}")
    if compress not in COMPRESSION:
        raise JadisError(f"unknown compression {compress!r}; choose one of {', '.join(COMPRESSION)}")
    out_crs = parse_crs(crs) if crs is not None else georef.crs
    dest = Path(dest)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), open_image(image, max_pixels) as src:
        georef.check_image(src.width, src.height, str(image))
        grid = warp_grid(georef, src.width, src.height, out_crs, resolution)
        bands = [1] if src.count < 3 else [1, 2, 3]
        dtype = src.dtypes[0]
        if dtype not in ("uint8", "uint16", "float32"):
            dtype = "float32"
        # content polygon in output pixel coordinates, rasterised per block
        shape = _footprint(georef, src.width, src.height)
        content = shapely.transform(shapely.segmentize(shape, max(src.width, src.height) / 500),
                                    lambda xy: grid.to_cells(georef.pixel_to_crs(xy, out_crs)))
        if not content.is_valid:
            content = shapely.make_valid(content)
        shapely.prepare(content)
        backward = _BackwardMap(georef, grid)
        interp = RESAMPLING[resampling]
        alpha_max = 255 if dtype == "uint8" else (65535 if dtype == "uint16" else 1.0)
        profile = {"driver": "GTiff", "width": grid.width, "height": grid.height, "count": len(bands) + 1,
                   "dtype": dtype, "crs": rasterio.crs.CRS.from_wkt(grid.crs.to_wkt()), "transform": grid.transform,
                   "tiled": True, "blockxsize": 512, "blockysize": 512,  # stage file: uncompressed (temporary)
                   "photometric": "RGB" if len(bands) == 3 else "MINISBLACK", "BIGTIFF": "IF_SAFER"}
        windows = [Window(c, r, min(block, grid.width - c), min(block, grid.height - r))
                   for r in range(0, grid.height, block) for c in range(0, grid.width, block)]
        with atomic_path(dest) as out_tmp, contextlib.ExitStack() as stack:
            stage = Path(str(out_tmp) + ".stage.tif")  # removed by atomic_path with the temporary file
            reader = src
            if src.driver in SEQUENTIAL_DRIVERS:
                reader = stack.enter_context(_tiled_copy(src, bands, Path(str(out_tmp) + ".src.tif")))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                with rasterio.open(stage, "w", **profile) as dst:
                    dst.colorinterp = ([ColorInterp.red, ColorInterp.green, ColorInterp.blue] if len(bands) == 3
                                       else [ColorInterp.gray]) + [ColorInterp.alpha]
                    for win in track(windows, "warping", total=len(windows)) if progress else windows:
                        data = _warp_block(reader, bands, dtype, win, backward, content, interp, alpha_max, grid)
                        dst.write(data, window=win)
                    dst.update_tags(SOFTWARE="jadis", JADIS_TRANSFORM=georef.transform,
                                    JADIS_SOURCE_CRS=crs_name(georef.crs)[:200])
                rasterio.shutil.copy(stage, out_tmp, driver="COG", COMPRESS=compress.upper(), LEVEL=1, BLOCKSIZE=512,
                                     OVERVIEW_RESAMPLING="AVERAGE", BIGTIFF="IF_SAFER", PREDICTOR="YES",
                                     NUM_THREADS="ALL_CPUS")
    return dest


@contextlib.contextmanager
def _tiled_copy(src: rasterio.DatasetReader, bands: list[int], path: Path) -> Iterator[rasterio.DatasetReader]:
    """A temporary tiled, uncompressed copy of a scan whose format only decodes sequentially.

    JPEG and PNG cannot be decoded from the middle: every windowed read starts again from the top
    of the file, which makes block-by-block warping quadratic in the sheet height. One sequential
    pass in bands of rows into a tiled GeoTIFF keeps memory bounded and every later read cheap.
    """
    from jadis.io.images import read_window

    profile = {"driver": "GTiff", "width": src.width, "height": src.height, "count": len(bands),
               "dtype": src.dtypes[0], "tiled": True, "blockxsize": 512, "blockysize": 512, "BIGTIFF": "IF_SAFER"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as dst:
            for row in range(0, src.height, 512):
                win = Window(0, row, src.width, min(512, src.height - row))
                dst.write(np.moveaxis(read_window(src, win, bands=bands), -1, 0), window=win)
        with rasterio.open(path) as reader:
            yield reader


def _warp_block(src: rasterio.DatasetReader, bands: list[int], dtype: str, win: Window, backward: _BackwardMap,
                content: shapely.Geometry, interp: int, alpha_max: float, grid: WarpGrid) -> np.ndarray:
    w, h = int(win.width), int(win.height)
    out = np.zeros((len(bands) + 1, h, w), dtype=dtype)
    box = shapely.box(win.col_off, win.row_off, win.col_off + w, win.row_off + h)
    if not content.intersects(box):
        return out
    if content.contains(box):
        mask = np.ones((h, w), dtype=bool)
    else:
        wt = Affine.translation(win.col_off, win.row_off)
        mask = rasterio.features.rasterize([(content, 1)], out_shape=(h, w), transform=wt, fill=0,
                                           dtype="uint8") > 0
        if not mask.any():
            return out
    mx, my = backward.block(win)
    inside = mask & np.isfinite(mx) & np.isfinite(my) & (mx >= 0) & (my >= 0) & \
        (mx <= src.width) & (my <= src.height)
    if not inside.any():
        return out
    # the scan window this block needs (+ a margin for the interpolation kernel)
    x0 = max(int(np.floor(mx[inside].min())) - 4, 0)
    y0 = max(int(np.floor(my[inside].min())) - 4, 0)
    x1 = min(int(np.ceil(mx[inside].max())) + 4, src.width)
    y1 = min(int(np.ceil(my[inside].max())) + 4, src.height)
    sw, sh = x1 - x0, y1 - y0
    # downsampling: read a decimated window (area-averaged) so memory stays ~ the block size
    factor = max(1.0, math.sqrt(sw * sh / max(1, inside.sum())) / 1.5)
    ow, oh = max(1, int(round(sw / factor))), max(1, int(round(sh / factor)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        arr = src.read(bands, window=Window(x0, y0, sw, sh), out_shape=(len(bands), oh, ow),
                       resampling=Resampling.average if factor > 1 else Resampling.nearest)
    arr = np.moveaxis(arr, 0, -1)
    if arr.dtype != np.dtype(dtype):
        arr = arr.astype(dtype)
    sx, sy = ow / sw, oh / sh
    # pixel centres: scan coordinate u (corner origin) is array index u - 0.5
    map_x = ((np.where(inside, mx, -10) - x0) * sx - 0.5).astype(np.float32)
    map_y = ((np.where(inside, my, -10) - y0) * sy - 0.5).astype(np.float32)
    warped = cv2.remap(arr, map_x, map_y, interpolation=interp, borderMode=cv2.BORDER_REPLICATE)
    if warped.ndim == 2:
        warped = warped[..., None]
    for k in range(len(bands)):
        out[k] = np.where(inside, warped[..., k], 0)
    out[-1] = np.where(inside, alpha_max, 0)
    return out


def reproject_bounds(grid: WarpGrid, crs: pyproj.CRS) -> np.ndarray:
    """The output grid's corners in another CRS (for reports)."""
    t = grid.transform
    corners = np.array([[t.c, t.f], [t.c + grid.width * t.a, t.f + grid.height * t.e]])
    return reproject(corners, grid.crs, crs)
