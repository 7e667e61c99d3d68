"""The deformation of a georeferenced map: local scale and rotation, and a distortion grid.

Like MapAnalyst (Jenny & Hurni 2011) and JADIS's deformation view, but computed from the fitted
transform itself: at each point of the map the Jacobian J of pixel -> ground (in a local
azimuthal equidistant frame centred on the map, so metres are true metres) is decomposed
(polar / singular value decomposition, with the pixel y axis flipped to point north):

* **scale** = sqrt(s1 s2) metres per scan pixel (s1 >= s2 the singular values), and the
  **relative scale** in % of the median over the map: where the map is drawn too large or small;
* **rotation**: angle (degrees, counter-clockwise) of the rotation part U V^T, and the **relative
  rotation** to the median: where the map is locally turned;
* **anisotropy** s1 / s2 (1 = no shear; Tissot's indicatrix axis ratio).

A Helmert or affine fit gives constant fields; polynomial and TPS fits show where and how the old
map departs from modern coordinates. Outputs (:func:`write_deformation`): ``deformation.tif``
(bands scale, relative scale, rotation, relative rotation, anisotropy; north-up in the output
CRS), ``scale.png`` and ``rotation.png`` heat maps with a legend, ``distortion_grid.gpkg``
(``world_grid_on_map``: a regular world grid drawn in scan pixels; ``map_grid_in_world``: the
scan's regular pixel grid in world coordinates) and ``distortion_grid.png`` (the world grid on
the scan, MapAnalyst's classic view).
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj
import shapely
from affine import Affine

from jadis.errors import JadisError
from jadis.georef.crs import WGS84, parse_crs, reproject
from jadis.georef.georeference import Georeference


@dataclass(frozen=True)
class DeformationField:
    """Deformation measures on a north-up grid in ``crs`` (NaN outside the map)."""

    crs: pyproj.CRS
    transform: Affine
    scale: np.ndarray          # metres per scan pixel
    scale_rel: np.ndarray      # % of the median scale
    rotation: np.ndarray       # degrees, counter-clockwise
    rotation_rel: np.ndarray   # degrees relative to the median
    anisotropy: np.ndarray     # s1 / s2 >= 1
    median_scale: float
    median_rotation: float


def _domain(georef: Georeference) -> shapely.Geometry:
    poly = georef.footprint()
    if poly is not None:
        shape = shapely.make_valid(shapely.Polygon(poly))
        if georef.image_size is not None:
            shape = shape.intersection(shapely.box(0, 0, *georef.image_size))
        if not shape.is_empty:
            return shape
    px = georef.gcps.active().pixel
    lo, hi = px.min(axis=0), px.max(axis=0)
    pad = 0.05 * (hi - lo)
    return shapely.box(*(lo - pad), *(hi + pad))


def _local_metric_crs(georef: Georeference, domain: shapely.Geometry) -> pyproj.CRS:
    c = np.array(domain.centroid.coords[0])
    lon, lat = georef.pixel_to_crs(c[None], WGS84)[0]
    return pyproj.CRS.from_proj4(f"+proj=aeqd +lat_0={lat:.8f} +lon_0={lon:.8f} +ellps=WGS84 +units=m +no_defs")


def jacobian_metres(georef: Georeference, pixels: np.ndarray, metric: pyproj.CRS) -> np.ndarray:
    """(N, 2, 2) d(ground metres east, north) / d(pixel x, -y) at ``pixels`` (finite differences)."""
    pixels = np.asarray(pixels, float).reshape(-1, 2)
    d = 0.5
    fx = georef.pixel_to_crs(np.vstack([pixels + [d, 0], pixels - [d, 0]]), metric)
    fy = georef.pixel_to_crs(np.vstack([pixels + [0, d], pixels - [0, d]]), metric)
    n = len(pixels)
    jx = (fx[:n] - fx[n:]) / (2 * d)
    jy = -(fy[:n] - fy[n:]) / (2 * d)  # derivative along -y (north-up pixel frame)
    return np.stack([jx, jy], axis=2)


def measures(jac: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scale, rotation in degrees, anisotropy) of (N, 2, 2) Jacobians."""
    u, s, vt = np.linalg.svd(jac)
    r = u @ vt
    scale = np.sqrt(s[:, 0] * s[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        aniso = s[:, 0] / s[:, 1]
    rot = np.degrees(np.arctan2(r[:, 1, 0], r[:, 0, 0]))
    return scale, rot, aniso


def deformation_field(georef: Georeference, crs: str | pyproj.CRS | None = None,
                      cells: int = 256) -> DeformationField:
    """Compute the deformation measures on a grid of about ``cells`` cells along the longer side."""
    crs = georef.crs if crs is None else parse_crs(crs)
    domain = _domain(georef)
    metric = _local_metric_crs(georef, domain)
    boundary = shapely.get_coordinates(shapely.segmentize(domain.boundary, domain.length / 400))
    world = georef.pixel_to_crs(boundary, crs)
    lo, hi = world.min(axis=0), world.max(axis=0)
    res = float(max(hi - lo) / cells)
    if not res > 0:
        raise JadisError("the map has no extent in world coordinates")
    w = int(math.ceil((hi[0] - lo[0]) / res))
    h = int(math.ceil((hi[1] - lo[1]) / res))
    transform = Affine(res, 0, lo[0], 0, -res, hi[1])
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    wx = transform.c + cols.ravel() * res
    wy = transform.f - rows.ravel() * res
    pixels = georef.crs_to_pixel(np.column_stack([wx, wy]), crs)
    inside = shapely.contains_xy(domain, pixels[:, 0], pixels[:, 1])
    nan = np.full(w * h, np.nan)
    scale, rot, aniso = nan.copy(), nan.copy(), nan.copy()
    if inside.any():
        s, r, a = measures(jacobian_metres(georef, pixels[inside], metric))
        scale[inside], rot[inside], aniso[inside] = s, r, a
    med_s = float(np.nanmedian(scale)) if inside.any() else float("nan")
    med_r = float(np.degrees(np.angle(np.nanmean(np.exp(1j * np.radians(rot[inside])))))) if inside.any() else 0.0
    rel_r = (rot - med_r + 180) % 360 - 180
    shape = (h, w)
    return DeformationField(crs=crs, transform=transform, scale=scale.reshape(shape),
                            scale_rel=(scale / med_s - 1) .reshape(shape) * 100, rotation=rot.reshape(shape),
                            rotation_rel=rel_r.reshape(shape), anisotropy=aniso.reshape(shape),
                            median_scale=med_s, median_rotation=med_r)


def _nice_spacing(extent: float, lines: int = 12) -> float:
    raw = extent / lines
    mag = 10 ** math.floor(math.log10(raw))
    return min((m * mag for m in (1, 2, 2.5, 5, 10)), key=lambda v: abs(v - raw))


def distortion_grids(georef: Georeference, crs: pyproj.CRS, spacing: float | None = None,
                     pixel_spacing: float | None = None) -> tuple[list, list, float]:
    """(world grid lines in scan pixels, scan grid lines in ``crs``, world spacing)."""
    domain = _domain(georef)
    boundary = shapely.get_coordinates(shapely.segmentize(domain.boundary, domain.length / 400))
    world = georef.pixel_to_crs(boundary, crs)
    lo, hi = world.min(axis=0), world.max(axis=0)
    spacing = spacing or _nice_spacing(float(max(hi - lo)))
    if not spacing > 0 or max(hi - lo) / spacing > 2000:
        raise JadisError(f"grid spacing {spacing:g} is too small for this map")
    on_map = []
    n_seg = 100
    for x in np.arange(math.floor(lo[0] / spacing) * spacing, hi[0] + spacing, spacing):
        line = np.column_stack([np.full(n_seg, x), np.linspace(lo[1], hi[1], n_seg)])
        on_map.append(("X", float(x), georef.crs_to_pixel(line, crs)))
    for y in np.arange(math.floor(lo[1] / spacing) * spacing, hi[1] + spacing, spacing):
        line = np.column_stack([np.linspace(lo[0], hi[0], n_seg), np.full(n_seg, y)])
        on_map.append(("Y", float(y), georef.crs_to_pixel(line, crs)))
    plo, phi = np.array(domain.bounds[:2]), np.array(domain.bounds[2:])
    pstep = pixel_spacing or _nice_spacing(float(max(phi - plo)))
    in_world = []
    for x in np.arange(math.floor(plo[0] / pstep) * pstep, phi[0] + 1e-9, pstep):
        line = np.column_stack([np.full(n_seg, x), np.linspace(plo[1], phi[1], n_seg)])
        in_world.append(("x", float(x), georef.pixel_to_crs(line, crs)))
    for y in np.arange(math.floor(plo[1] / pstep) * pstep, phi[1] + 1e-9, pstep):
        line = np.column_stack([np.linspace(plo[0], phi[0], n_seg), np.full(n_seg, y)])
        in_world.append(("y", float(y), georef.pixel_to_crs(line, crs)))
    # clip the world grid to the map content
    clipped = []
    for axis, value, pts in on_map:
        geom = shapely.LineString(pts).intersection(domain)
        if not geom.is_empty:
            clipped.append((axis, value, geom))
    return clipped, [(a, v, shapely.LineString(p)) for a, v, p in in_world], spacing


# -- rendering (PIL; no plotting library needed) --------------------------------------------------
_DIVERGING = np.array([[33, 102, 172], [247, 247, 247], [178, 24, 43]], float)  # blue - white - red


def _colorize(values: np.ndarray, limit: float) -> np.ndarray:
    """Diverging colour map of ``values`` in [-limit, limit]; NaN -> transparent."""
    t = np.clip(np.nan_to_num(values, nan=0.0) / (limit or 1.0), -1, 1)
    lo = t < 0
    a = np.where(lo, -t, t)[..., None]
    colours = np.where(lo[..., None], _DIVERGING[1] + (_DIVERGING[0] - _DIVERGING[1]) * a,
                       _DIVERGING[1] + (_DIVERGING[2] - _DIVERGING[1]) * a)
    rgba = np.concatenate([colours, np.where(np.isfinite(values), 255, 0)[..., None]], axis=-1)
    return rgba.astype(np.uint8)


def _heatmap_png(values: np.ndarray, title: str, unit: str, dest: Path, min_limit: float, upscale: int = 3) -> Path:
    from PIL import Image, ImageDraw

    from jadis.io.atomic import atomic_path

    finite = values[np.isfinite(values)]
    limit = float(np.percentile(np.abs(finite), 98)) if len(finite) else 1.0
    limit = max(limit, min_limit)  # numerical noise of a uniform map stays white
    rgba = _colorize(values, limit)
    img = Image.fromarray(rgba, "RGBA").resize((values.shape[1] * upscale, values.shape[0] * upscale), Image.NEAREST)
    pad, bar_w = 16, 24
    canvas = Image.new("RGB", (img.width + 2 * pad + bar_w + 90, img.height + 2 * pad + 24), "white")
    canvas.paste(img, (pad, pad + 24), img)
    draw = ImageDraw.Draw(canvas)
    draw.text((pad, 6), title, fill="black")
    x0 = pad + img.width + pad
    h = img.height
    ramp = _colorize(np.linspace(limit, -limit, h)[:, None].repeat(bar_w, axis=1), limit)
    canvas.paste(Image.fromarray(ramp[..., :3], "RGB"), (x0, pad + 24))
    for frac, val in ((0, limit), (0.5, 0.0), (1, -limit)):
        y = pad + 24 + int(frac * (h - 1))
        draw.line([(x0 + bar_w, y), (x0 + bar_w + 4, y)], fill="black")
        draw.text((x0 + bar_w + 6, y - 5), f"{val:+.3g} {unit}", fill="black")
    with atomic_path(dest) as tmp:
        canvas.save(tmp, format="PNG")
    return dest


def _grid_png(georef: Georeference, on_map: list, dest: Path, image: str | os.PathLike[str] | None,
              spacing: float, unit: str) -> Path:
    from PIL import Image, ImageDraw

    from jadis.io.atomic import atomic_path

    domain = _domain(georef)
    x0, y0, x1, y1 = domain.bounds
    if georef.image_size is not None:
        x0, y0, x1, y1 = 0, 0, *georef.image_size
    k = 1200 / max(x1 - x0, y1 - y0)
    size = (max(1, int((x1 - x0) * k)), max(1, int((y1 - y0) * k)))
    if image is not None:
        from jadis.io.images import open_image, to_rgb

        with open_image(image) as ds:
            arr = ds.read(out_shape=(ds.count, size[1], size[0]))
        base = Image.fromarray(to_rgb(np.moveaxis(arr, 0, -1))).convert("RGB")
        base = Image.blend(base, Image.new("RGB", base.size, "white"), 0.35)
    else:
        base = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(base)
    for _axis, _value, geom in on_map:
        for part in getattr(geom, "geoms", [geom]):
            coords = shapely.get_coordinates(part)
            if len(coords) >= 2:
                draw.line([((x - x0) * k, (y - y0) * k) for x, y in coords], fill=(200, 20, 20), width=2)
    outline = shapely.get_coordinates(domain.boundary)
    draw.line([((x - x0) * k, (y - y0) * k) for x, y in outline], fill=(40, 40, 40), width=1)
    draw.text((8, 8), f"world grid every {spacing:g} {unit}", fill=(200, 20, 20))
    with atomic_path(dest) as tmp:
        base.save(tmp, format="PNG")
    return dest


def write_deformation(georef: Georeference, out_dir: str | os.PathLike[str], crs: str | pyproj.CRS | None = None,
                      image: str | os.PathLike[str] | None = None, spacing: float | None = None) -> list[Path]:
    """Write the deformation heat maps (GeoTIFF + PNG) and distortion grid (GPKG + PNG) to ``out_dir``."""
    import geopandas as gpd
    import rasterio

    from jadis.io.atomic import atomic_path
    from jadis.io.vector import write_layers

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise JadisError(f"{out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    crs = georef.crs if crs is None else parse_crs(crs)
    if image is not None:
        from jadis.io.images import check_image

        info = check_image(image)
        georef.check_image(info.width, info.height, str(image))
    field = deformation_field(georef, crs)
    paths = []
    tif = out / "deformation.tif"
    bands = [("scale_m_per_px", field.scale), ("scale_relative_percent", field.scale_rel),
             ("rotation_deg", field.rotation), ("rotation_relative_deg", field.rotation_rel),
             ("anisotropy", field.anisotropy)]
    h, w = field.scale.shape
    with atomic_path(tif) as tmp, rasterio.open(
            tmp, "w", driver="GTiff", width=w, height=h, count=len(bands), dtype="float32",
            crs=rasterio.crs.CRS.from_wkt(crs.to_wkt()), transform=field.transform, nodata=float("nan"),
            compress="deflate") as dst:
        for i, (name, arr) in enumerate(bands, start=1):
            dst.write(arr.astype("float32"), i)
            dst.set_band_description(i, name)
        dst.update_tags(median_scale_m_per_px=f"{field.median_scale:.6g}",
                        median_rotation_deg=f"{field.median_rotation:.4f}", transform=georef.transform)
    paths.append(tif)
    paths.append(_heatmap_png(field.scale_rel, f"scale vs median ({field.median_scale:.3g} m/px), "
                              f"{georef.transform}", "%", out / "scale.png", 0.5))
    paths.append(_heatmap_png(field.rotation_rel, f"rotation vs median ({field.median_rotation:+.2f} deg), "
                              f"{georef.transform}", "deg", out / "rotation.png", 0.1))
    on_map, in_world, world_spacing = distortion_grids(georef, crs, spacing)
    unit = crs.axis_info[0].unit_name if crs.axis_info else ""
    layers = {
        "world_grid_on_map": gpd.GeoDataFrame(
            {"axis": [a for a, _, _ in on_map], "value": [v for _, v, _ in on_map]},
            geometry=[g for _, _, g in on_map]),
        "map_grid_in_world": gpd.GeoDataFrame(
            {"axis": [a for a, _, _ in in_world], "pixel": [v for _, v, _ in in_world]},
            geometry=[g for _, _, g in in_world], crs=crs),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # world_grid_on_map is in pixels: no CRS, on purpose
        paths.append(write_layers(out / "distortion_grid.gpkg", layers))
    paths.append(_grid_png(georef, on_map, out / "distortion_grid.png", image, world_spacing, unit))
    return paths


def summary(field: DeformationField) -> dict:
    """Ranges of the measures (5th-95th percentiles), for reports."""
    def rng(a: np.ndarray) -> list[float]:
        v = a[np.isfinite(a)]
        return [round(float(np.percentile(v, 5)), 4), round(float(np.percentile(v, 95)), 4)] if len(v) else []

    return {"median_scale_m_per_px": field.median_scale, "median_rotation_deg": field.median_rotation,
            "scale_relative_percent_p5_p95": rng(field.scale_rel),
            "rotation_relative_deg_p5_p95": rng(field.rotation_rel), "anisotropy_p5_p95": rng(field.anisotropy)}


def lonlat_bounds(field: DeformationField) -> np.ndarray:
    """The field's bounding box corners in WGS84."""
    h, w = field.scale.shape
    t = field.transform
    return reproject(np.array([[t.c, t.f + h * t.e], [t.c + w * t.a, t.f]]), field.crs, parse_crs(WGS84))
