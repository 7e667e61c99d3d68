"""Inputs of automatic georeferencing: the map's road mask and the modern reference street network.

* :func:`load_map_roads` reads a road mask (one band, two values, roads = the higher value), a
  class raster of ``jadis segment`` (values 0-3, street = 1), or a scanned map, which is segmented
  on the fly (street class of :mod:`jadis.segment`). What the input is, is recognised from its
  pixels; no flag is needed.
* :func:`load_reference` reads a road raster with a projected CRS (e.g. the Lambert-93 OSM raster
  of Paris) or a vector street network in any GIS format (lines or street polygons), which is
  rasterised at :data:`VECTOR_RESOLUTION` metres per pixel.

Both give plain arrays: a :class:`MapRoads` (a boolean mask in the map's pixels) and a
:class:`ReferenceRoads` (a float32 road raster with its affine pixel -> world transform and CRS).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyproj

from jadis.errors import JadisError

#: Resolution (metres per pixel) at which a vector reference is rasterised.
VECTOR_RESOLUTION = 2.0
#: Width (metres) given to street centre lines when a vector reference is rasterised.
VECTOR_LINE_WIDTH = 8.0
#: A one-band image is a mask when at least this fraction of its pixels holds one of two values.
BINARY_FRACTION = 0.995
#: Largest reference raster accepted, in pixels (a 100 km x 100 km area at 1 m/px).
MAX_REFERENCE_PIXELS = 10_000_000_000
#: Pixels of the overview used to recognise the kind of input.
_OVERVIEW_PIXELS = 4_000_000
#: The shipped modern reference: OSM roads of Paris, Lambert-93, 1.3 m/px (ODbL; see data/LICENCE.md).
DEFAULT_REFERENCE = Path(__file__).resolve().parent / "data" / "paris_osm_roads_l93.tif"

_VECTOR_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".fgb", ".gml", ".kml", ".sqlite", ".gpx", ".parquet"}


@dataclass(frozen=True, eq=False)
class MapRoads:
    """The streets of the map to georeference: ``mask[row, col]`` is True on streets.

    ``kind`` says what the input was: ``"mask"`` (a road mask), ``"classes"`` (a jadis class
    raster) or ``"scan"`` (segmented on the fly).
    """

    mask: np.ndarray
    kind: str
    path: Path

    @property
    def width(self) -> int:
        return int(self.mask.shape[1])

    @property
    def height(self) -> int:
        return int(self.mask.shape[0])


@dataclass(frozen=True, eq=False)
class ReferenceRoads:
    """A modern street network as a road raster: ``roads`` is 1 on streets, 0 elsewhere (uint8).

    ``transform`` is the affine (rasterio ``Affine``) taking (col, row) pixel-corner coordinates
    to world (X, Y) in ``crs`` (a projected CRS in metres); ``valid`` marks pixels with data.
    """

    roads: np.ndarray
    valid: np.ndarray
    transform: object
    crs: pyproj.CRS
    source: str
    _levels: dict = field(default_factory=dict, repr=False)

    @property
    def resolution(self) -> float:
        """Metres per pixel."""
        return float(abs(self.transform.a))

    @property
    def extent(self) -> float:
        """Long side of the raster in metres."""
        return max(self.roads.shape) * self.resolution


# -- the map ------------------------------------------------------------------------------------
def load_map_roads(path: str | os.PathLike[str], *, checkpoint: str | os.PathLike[str] | None = None,
                   device: str = "cpu", progress: bool = True) -> MapRoads:
    """The street mask of ``path``: a road mask, a jadis class raster, or a scan (segmented here)."""
    from jadis.io.images import check_image

    path = Path(path)
    info = check_image(path)
    kind = classify_image(path)
    if kind == "scan":
        mask = _segment_streets(path, checkpoint=checkpoint, device=device, progress=progress)
    else:
        band = _read_band(path)
        if kind == "classes":
            from jadis.segment.classes import MapClass

            mask = band == int(MapClass.STREET)
        else:
            mask = band > (int(band.max()) + int(band.min())) // 2
    if mask.shape != (info.height, info.width):  # pragma: no cover - defensive
        raise JadisError(f"{path}: could not read the whole image")
    if not mask.any():
        raise JadisError(f"{path}: the map has no street pixels; nothing to match")
    return MapRoads(mask=mask, kind=kind, path=path)


def classify_image(path: str | os.PathLike[str]) -> str:
    """``"mask"``, ``"classes"`` or ``"scan"``, recognised from an overview of the pixels.

    A one-band image (or one whose bands are equal) is a mask when nearly all its pixels take one
    of two values (``BINARY_FRACTION``), a class raster when its values are within 0-3 and at
    least one is 2 or 3 (blocks, text). Anything else is a scan.
    """
    ov = _overview(path)
    if ov.ndim == 3:
        same = all(np.array_equal(ov[..., 0], ov[..., i]) for i in range(1, min(ov.shape[-1], 3)))
        if not same:
            return "scan"
        ov = ov[..., 0]
    values, counts = np.unique(ov, return_counts=True)
    if values.max(initial=0) <= 3 and np.isin(values, [2, 3]).any() and np.issubdtype(ov.dtype, np.integer):
        return "classes"
    if np.sort(counts)[-2:].sum() >= BINARY_FRACTION * ov.size:
        return "mask"
    return "scan"


def _overview(path: Path) -> np.ndarray:
    """A decimated read (nearest neighbour, so values are preserved), (H, W) or (H, W, C)."""
    import rasterio
    from rasterio.enums import Resampling

    from jadis.io.images import open_image

    with open_image(path) as ds:
        step = max(1, int(np.ceil(np.sqrt(ds.width * ds.height / _OVERVIEW_PIXELS))))
        shape = (ds.count, max(1, ds.height // step), max(1, ds.width // step))
        try:
            with rasterio.Env(GDAL_ERROR_ON_LIBJPEG_WARNING="TRUE"):
                arr = ds.read(out_shape=shape, resampling=Resampling.nearest)
        except rasterio.errors.RasterioError as exc:
            raise JadisError(f"{path}: cannot decode image data (truncated or corrupt file?)") from exc
    if ds.count == 1:
        return arr[0]
    bands = arr[:3] if ds.count >= 3 else arr[:1]
    return np.moveaxis(bands, 0, -1)


def _read_band(path: Path) -> np.ndarray:
    """The first band of the whole image (a mask or class raster)."""
    import cv2
    from rasterio.enums import ColorInterp

    from jadis.io.images import open_image, read_window

    with open_image(path) as ds:
        # a paletted image (a class raster saved with colours) holds class ids as palette indices,
        # which OpenCV would turn into grey levels: GDAL reads the indices
        plain = ds.count == 1 and ds.colorinterp[0] != ColorInterp.palette
        shape = (ds.height, ds.width)
    if plain and path.suffix.lower() in {".png", ".tif", ".tiff", ".jpg", ".jpeg"}:
        # OpenCV decodes large PNGs several times faster than GDAL; fall back on GDAL otherwise.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE | cv2.IMREAD_ANYDEPTH)
        if arr is not None and arr.shape == shape:
            return arr
    from rasterio.windows import Window

    with open_image(path) as ds:
        return read_window(ds, Window(0, 0, ds.width, ds.height), path=path, bands=[1])[..., 0]


def _segment_streets(path: Path, *, checkpoint: str | os.PathLike[str] | None, device: str,
                     progress: bool) -> np.ndarray:
    """Segment a scan with the jadis U-Net and return its street mask."""
    import rasterio

    from jadis.classes import MapClass
    from jadis.segment.infer import predict_file
    from jadis.segment.predictor import load_predictor

    predictor = load_predictor(checkpoint, device=device)
    with tempfile.TemporaryDirectory(prefix="jadis-auto-") as tmp:
        classes_path = Path(tmp) / "classes.tif"
        predict_file(path, classes_path, predictor, progress=progress)
        with warnings.catch_warnings():  # a scan without georeferencing gives a class raster without one
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(classes_path) as ds:
                classes = ds.read(1)
    return classes == int(MapClass.STREET)


# -- the reference ------------------------------------------------------------------------------
def default_reference() -> Path:
    """The shipped modern reference of Paris (:data:`DEFAULT_REFERENCE`; © OpenStreetMap
    contributors, ODbL 1.0; raster from SuperMapRealigner, CC BY 4.0)."""
    if not DEFAULT_REFERENCE.is_file():
        raise JadisError(f"{DEFAULT_REFERENCE}: the shipped modern reference is missing from this installation; "
                         "pass --reference FILE")
    return DEFAULT_REFERENCE


def load_reference(path: str | os.PathLike[str] | None = None) -> ReferenceRoads:
    """A reference street network: a road raster with a projected CRS, or any vector GIS file
    (default: the shipped OSM road raster of Paris, :func:`default_reference`)."""
    path = default_reference() if path is None else Path(path)
    if not path.exists():
        raise JadisError(f"{path}: no such file")
    if path.is_dir() or path.suffix.lower() in _VECTOR_SUFFIXES:
        return _load_vector_reference(path)
    return _load_raster_reference(path)


def _load_raster_reference(path: Path) -> ReferenceRoads:
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            ds = rasterio.open(path)
        with ds:
            if ds.crs is None or ds.transform.is_identity:
                raise JadisError(f"{path}: the reference raster has no georeferencing (CRS and transform)")
            crs = pyproj.CRS.from_user_input(ds.crs.to_wkt())
            if not crs.is_projected:
                raise JadisError(f"{path}: the reference raster must be in a projected CRS in metres, not "
                                 f"{crs.name}; reproject it (e.g. gdalwarp -t_srs EPSG:2154)")
            t = ds.transform
            if abs(t.b) > 1e-9 * abs(t.a) or abs(t.d) > 1e-9 * abs(t.e) or not np.isclose(abs(t.a), abs(t.e), rtol=1e-6):
                raise JadisError(f"{path}: the reference raster must be north-up with square pixels")
            if ds.width * ds.height > MAX_REFERENCE_PIXELS:
                raise JadisError(f"{path}: reference raster too large ({ds.width}x{ds.height})")
            band = ds.read(1)
            valid = ds.read_masks(1) > 0
    except RasterioIOError as exc:
        raise JadisError(f"{path}: not a readable raster or vector file ({str(exc).splitlines()[0]})") from exc
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    if not np.isclose(unit, 1.0):
        raise JadisError(f"{path}: the reference CRS must be in metres ({crs.name} is not)")
    if t.e > 0:
        raise JadisError(f"{path}: the reference raster must be north-up (negative pixel height)")
    hi = float(band[valid].max()) if valid.any() else 0.0
    if hi <= 0:
        raise JadisError(f"{path}: the reference raster has no road pixels")
    roads = (band > hi / 2).astype(np.uint8)
    return ReferenceRoads(roads=roads, valid=valid, transform=t, crs=crs, source=str(path))


def _load_vector_reference(path: Path) -> ReferenceRoads:
    import geopandas as gpd
    import rasterio.features
    from rasterio.transform import from_origin

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gdf = gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - any driver error is a bad input here
        raise JadisError(f"{path}: not a readable vector file ({type(exc).__name__})") from exc
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if gdf.empty:
        raise JadisError(f"{path}: the reference has no geometries")
    if gdf.crs is None:
        raise JadisError(f"{path}: the reference vector file has no CRS")
    crs = pyproj.CRS.from_user_input(gdf.crs)
    if not crs.is_projected or not np.isclose(crs.axis_info[0].unit_conversion_factor, 1.0):
        gdf = gdf.to_crs(gdf.estimate_utm_crs())
        crs = pyproj.CRS.from_user_input(gdf.crs)
    kinds = set(gdf.geometry.geom_type)
    if not kinds & {"LineString", "MultiLineString", "Polygon", "MultiPolygon"}:
        raise JadisError(f"{path}: the reference needs street lines or polygons, found {', '.join(sorted(kinds))}")
    x0, y0, x1, y1 = gdf.total_bounds
    res = VECTOR_RESOLUTION
    margin = 10 * res
    width = int(np.ceil((x1 - x0 + 2 * margin) / res))
    height = int(np.ceil((y1 - y0 + 2 * margin) / res))
    if width * height > MAX_REFERENCE_PIXELS / 10:
        raise JadisError(f"{path}: the reference covers {width * res / 1000:.0f} x {height * res / 1000:.0f} km; "
                         "clip it to the area of the map")
    transform = from_origin(x0 - margin, y1 + margin, res, res)
    lines = gdf.geometry[gdf.geometry.geom_type.isin(["LineString", "MultiLineString"])]
    polys = gdf.geometry[gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    shapes = [(g, 1) for g in lines.buffer(VECTOR_LINE_WIDTH / 2, cap_style="flat")] + [(g, 1) for g in polys]
    roads = rasterio.features.rasterize(shapes, out_shape=(height, width), transform=transform, fill=0,
                                        dtype="uint8", all_touched=True)
    return ReferenceRoads(roads=roads, valid=np.ones_like(roads, dtype=bool), transform=transform, crs=crs,
                          source=str(path))
