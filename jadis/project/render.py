"""Server-side rendering of map views: only the visible part, at the zoom shown, is ever sent.

Full sheets (10 000 × 8 000 px and more) are never loaded whole. The first time a map is viewed
its scan is copied into a tiled, JPEG-compressed GeoTIFF with overviews — a tile pyramid — in
``PROJECT/cache/`` (read and written by strips, so memory stays bounded). A view is then one
windowed read at the overview level matching the zoom, and the class overlay is assembled from
the (subsampled, cached) class tiles of that window only.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rasterio.errors import NotGeoreferencedWarning

from jadis.classes import CLASS_COLORS
from jadis.project.maps import MapRecord
from jadis.project.workspace import Project

#: Zoom limits (display pixels per full-resolution pixel).
MAX_ZOOM = 8.0
PYRAMID_BLOCK = 256
_STRIP_ROWS = 1024
_CACHE_MB = 128


@dataclass(frozen=True)
class View:
    """What the viewer shows: centre (full-res pixels), zoom (display px per map px), size (display px)."""

    cx: float
    cy: float
    zoom: float
    width: int = 900
    height: int = 600

    @property
    def window(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the view in full-resolution pixels (may extend outside the map)."""
        hw, hh = self.width / (2 * self.zoom), self.height / (2 * self.zoom)
        return self.cx - hw, self.cy - hh, self.cx + hw, self.cy + hh

    def to_map(self, u: float, v: float) -> tuple[float, float]:
        """Display pixel (u, v) -> full-resolution map pixel."""
        x0, y0, _, _ = self.window
        return x0 + u / self.zoom, y0 + v / self.zoom

    def to_display(self, x: float, y: float) -> tuple[float, float]:
        x0, y0, _, _ = self.window
        return (x - x0) * self.zoom, (y - y0) * self.zoom


def fit_view(record: MapRecord, width: int = 900, height: int = 600) -> View:
    """The view showing the whole map."""
    zoom = min(width / record.width, height / record.height)
    return View(record.width / 2, record.height / 2, zoom, width, height)


def clamp_view(view: View, record: MapRecord) -> View:
    """Keep the zoom within limits and the centre on the map."""
    min_zoom = min(view.width / record.width, view.height / record.height) / 2
    zoom = float(min(MAX_ZOOM, max(min_zoom, view.zoom)))
    cx = float(min(record.width, max(0.0, view.cx)))
    cy = float(min(record.height, max(0.0, view.cy)))
    return View(cx, cy, zoom, view.width, view.height)


def zoom_at(view: View, factor: float, x: float | None = None, y: float | None = None) -> View:
    """Zoom by ``factor`` keeping map point (x, y) (default: the centre) under the cursor."""
    x = view.cx if x is None else x
    y = view.cy if y is None else y
    zoom = view.zoom * factor
    return View(x - (x - view.cx) / factor, y - (y - view.cy) / factor, zoom, view.width, view.height)


# --- the scan pyramid -----------------------------------------------------------------------------

def pyramid_path(project: Project, record: MapRecord) -> Path:
    return project.inside("cache", f"map{record.id}_{record.sha256[:12]}_pyramid.tif")


def ensure_pyramid(project: Project, record: MapRecord) -> Path:
    """Build (once) the tiled, overviewed RGB copy of a scan used for viewing; return its path."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.windows import Window

    from jadis.io.atomic import atomic_path
    from jadis.io.images import open_image, read_window, to_rgb

    dest = pyramid_path(project, record)
    if dest.exists():
        return dest
    # A bounded GDAL block cache: reading a big JPEG would otherwise cache every decoded row.
    with rasterio.Env(GDAL_PAM_ENABLED="NO", GDAL_TIFF_OVR_BLOCKSIZE=str(PYRAMID_BLOCK), GDAL_CACHEMAX=_CACHE_MB), \
            warnings.catch_warnings(), open_image(record.path) as src, atomic_path(dest) as tmp:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        profile = {"driver": "GTiff", "width": src.width, "height": src.height, "count": 3, "dtype": "uint8",
                   "tiled": True, "blockxsize": PYRAMID_BLOCK, "blockysize": PYRAMID_BLOCK, "compress": "jpeg",
                   "photometric": "ycbcr", "jpeg_quality": 85, "interleave": "pixel"}
        with rasterio.open(tmp, "w", **profile) as dst:
            for y0 in range(0, src.height, _STRIP_ROWS):
                h = min(_STRIP_ROWS, src.height - y0)
                strip = to_rgb(read_window(src, Window(0, y0, src.width, h), path=record.path))
                dst.write(np.moveaxis(strip, -1, 0), window=Window(0, y0, src.width, h))
        factors = []
        f = 2
        while max(src.width, src.height) / f >= PYRAMID_BLOCK / 2:
            factors.append(f)
            f *= 2
        if factors:
            with rasterio.open(tmp, "r+") as dst:
                dst.build_overviews(factors, Resampling.average)
    return dest


def read_scan(project: Project, record: MapRecord, view: View) -> np.ndarray:
    """The view's pixels of the scan, (height, width, 3) uint8; outside the map is light grey."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.windows import Window

    out = np.full((view.height, view.width, 3), 230, np.uint8)
    x0, y0, x1, y1 = view.window
    cx0, cy0 = max(0.0, x0), max(0.0, y0)
    cx1, cy1 = min(float(record.width), x1), min(float(record.height), y1)
    if cx1 <= cx0 or cy1 <= cy0:
        return out
    u0, v0 = (int(round(c)) for c in view.to_display(cx0, cy0))
    u1, v1 = (int(round(c)) for c in view.to_display(cx1, cy1))
    u0, v0 = max(0, u0), max(0, v0)
    u1, v1 = min(view.width, max(u0 + 1, u1)), min(view.height, max(v0 + 1, v1))
    path = ensure_pyramid(project, record)
    resampling = Resampling.bilinear if view.zoom < 1 else Resampling.nearest
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as ds:
            data = ds.read(window=Window(cx0, cy0, cx1 - cx0, cy1 - cy0), out_shape=(3, v1 - v0, u1 - u0),
                           resampling=resampling)
    out[v0:v1, u0:u1] = np.moveaxis(data, 0, -1)
    return out


def thumbnail(project: Project, record: MapRecord, size: int = 256) -> np.ndarray:
    """A small RGB image of the whole map: from the pyramid if built, else a decimated read of the scan
    (GDAL then uses the file's overviews, or JPEG's DCT scaling), so listing maps never builds pyramids."""
    import rasterio
    from rasterio.enums import Resampling

    from jadis.io.images import open_image, to_rgb

    scale = size / max(record.width, record.height)
    w, h = max(1, round(record.width * scale)), max(1, round(record.height * scale))
    if pyramid_path(project, record).exists():
        return read_scan(project, record, View(record.width / 2, record.height / 2, scale, w, h))
    with rasterio.Env(GDAL_PAM_ENABLED="NO", GDAL_CACHEMAX=_CACHE_MB), warnings.catch_warnings(), \
            open_image(record.path) as ds:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        bands = [1, 2, 3] if ds.count >= 3 else [1]
        data = ds.read(bands, out_shape=(len(bands), h, w), resampling=Resampling.average)
    return to_rgb(np.moveaxis(data, 0, -1))


# --- the class overlay ----------------------------------------------------------------------------

def classes_for_view(project: Project, record: MapRecord, view: View, *,
                     versions: dict | None = None) -> tuple[np.ndarray, tuple[int, int], int]:
    """Class ids covering the view, sampled every ``step`` map pixels: (ids, origin, step)."""
    from jadis.project.tiles import read_classes

    step = max(1, int(math.floor(1 / view.zoom))) if view.zoom < 1 else 1
    x0, y0, x1, y1 = view.window
    ox, oy = (int(math.floor(x0)) // step) * step, (int(math.floor(y0)) // step) * step
    w, h = int(math.ceil(x1)) - ox + step, int(math.ceil(y1)) - oy + step
    ids = read_classes(project, record.id, (ox, oy, w, h), step=step, versions=versions)
    return ids, (ox, oy), step


def ids_to_display(ids: np.ndarray, origin: tuple[int, int], step: int, view: View) -> np.ndarray:
    """Resample a class-id grid (from :func:`classes_for_view`) to the view's display pixels (nearest)."""
    u = np.arange(view.width) + 0.5
    v = np.arange(view.height) + 0.5
    x0, y0, _, _ = view.window
    mx = x0 + u / view.zoom
    my = y0 + v / view.zoom
    ix = np.clip(np.floor((mx - origin[0]) / step).astype(int), 0, ids.shape[1] - 1)
    iy = np.clip(np.floor((my - origin[1]) / step).astype(int), 0, ids.shape[0] - 1)
    return ids[iy[:, None], ix[None, :]]


def colorize(ids: np.ndarray) -> np.ndarray:
    """Class ids -> RGBA overlay (class 0 transparent)."""
    lut = np.zeros((256, 4), np.uint8)
    for cid, rgb in CLASS_COLORS.items():
        if cid:
            lut[cid] = (*rgb, 255)
    return lut[ids]


def composite(rgb: np.ndarray, overlay: np.ndarray, opacity: float) -> np.ndarray:
    """``overlay`` (RGBA) blended over ``rgb`` with ``opacity``."""
    alpha = overlay[..., 3:4].astype(np.float32) / 255 * float(opacity)
    out = rgb.astype(np.float32) * (1 - alpha) + overlay[..., :3].astype(np.float32) * alpha
    return out.round().astype(np.uint8)


def encode_png(arr: np.ndarray) -> bytes:
    import cv2

    if arr.ndim == 3 and arr.shape[2] == 4:
        bgr = cv2.cvtColor(arr, cv2.COLOR_RGBA2BGRA)
    elif arr.ndim == 3:
        bgr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    else:
        bgr = arr
    ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def encode_jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def thumbnail_png(project: Project, record: MapRecord, size: int = 256) -> bytes:
    """PNG bytes of :func:`thumbnail`, cached in ``PROJECT/cache/``."""
    from jadis.io.atomic import atomic_write_bytes

    path = project.inside("cache", f"map{record.id}_{record.sha256[:12]}_thumb{size}.png")
    if path.exists():
        return path.read_bytes()
    data = encode_png(thumbnail(project, record, size))
    atomic_write_bytes(path, data)
    return data
