"""GDAL GCPs: a VRT with a ``<GCPList>`` over the scan, or a GeoTIFF copy carrying GCP tags.

Either file opens in QGIS / ``gdalinfo`` / ``gdalwarp`` with the GCPs attached (GDAL ``Pixel``,
``Line`` = our x, y with the origin at the top-left corner; ``X``, ``Y`` in the GCP projection).
GDAL has no "disabled" flag, so only enabled GCPs are written. Reading works on any raster GDAL
can open that carries GCPs.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import pyproj
import rasterio
from rasterio.control import GroundControlPoint
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.windows import Window

from jadis.errors import JadisError
from jadis.georef.crs import parse_crs
from jadis.georef.gcps import GcpSet
from jadis.io.atomic import atomic_path, atomic_write_text

_VRT_TYPES = {"uint8": "Byte", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32", "int32": "Int32",
              "float32": "Float32", "float64": "Float64"}


def read_gdal_gcps(path: str | os.PathLike[str], crs: str | pyproj.CRS | None = None) -> GcpSet:
    """GCPs of a raster (VRT, GeoTIFF...): pixel = (col, row), world in the GCP projection."""
    path = Path(path)
    if not path.is_file():
        raise JadisError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as ds:
                points, gcp_crs = ds.gcps
    except RasterioIOError as exc:
        raise JadisError(f"{path}: not a raster GDAL can read ({str(exc).splitlines()[0]})") from exc
    if not points:
        raise JadisError(f"{path}: the raster carries no GCPs")
    if crs is not None:
        the_crs = parse_crs(crs)
    elif gcp_crs is not None:
        the_crs = parse_crs(gcp_crs.to_wkt())
    else:
        raise JadisError(f"{path}: the GCPs have no projection; pass the CRS (--crs)")
    pixel = np.array([[p.col, p.row] for p in points], dtype=float)
    world = np.array([[p.x, p.y] for p in points], dtype=float)
    ids = tuple(str(p.id) if p.id is not None else str(i + 1) for i, p in enumerate(points))
    return GcpSet(pixel, world, the_crs, ids=ids)


def _gcp_list(gcps: GcpSet) -> list[GroundControlPoint]:
    act = gcps.active()
    ids = act.ids or tuple(str(i + 1) for i in range(len(act)))
    return [GroundControlPoint(row=float(p[1]), col=float(p[0]), x=float(w[0]), y=float(w[1]), id=ids[i])
            for i, (p, w) in enumerate(zip(act.pixel, act.world, strict=True))]


def write_gdal_gcps(path: str | os.PathLike[str], gcps: GcpSet, image: str | os.PathLike[str]) -> Path:
    """Write a ``.vrt`` (referencing ``image``) or a ``.tif`` copy of ``image`` with the enabled GCPs."""
    from jadis.io.images import open_image

    path = Path(path)
    if gcps.n_enabled == 0:
        raise JadisError("no enabled GCPs to write")
    with open_image(image) as src:
        if path.suffix.lower() == ".vrt":
            atomic_write_text(path, _vrt_xml(src, gcps, Path(image), path))
            return path
        profile = {"driver": "GTiff", "width": src.width, "height": src.height, "count": src.count,
                   "dtype": src.dtypes[0], "tiled": True, "blockxsize": 512, "blockysize": 512,
                   "compress": "deflate", "photometric": "RGB" if src.count == 3 else None}
        profile = {k: v for k, v in profile.items() if v is not None}
        with atomic_path(path) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            dst = rasterio.open(tmp, "w", **profile)
            with dst:
                for row in range(0, src.height, 1024):
                    win = Window(0, row, src.width, min(1024, src.height - row))
                    dst.write(src.read(window=win), window=win)
                dst.gcps = (_gcp_list(gcps), rasterio.crs.CRS.from_wkt(gcps.crs.to_wkt()))
    return path


def _vrt_xml(src: rasterio.DatasetReader, gcps: GcpSet, image: Path, dest: Path) -> str:
    try:
        rel = os.path.relpath(image.resolve(), dest.resolve().parent)
        relative = "1"
    except ValueError:  # another drive (Windows)
        rel, relative = str(image.resolve()), "0"
    lines = [f'<VRTDataset rasterXSize="{src.width}" rasterYSize="{src.height}">',
             f"  <GCPList Projection={quoteattr(gcps.crs.to_wkt())}>"]
    for g in _gcp_list(gcps):
        lines.append(f"    <GCP Id={quoteattr(str(g.id))} Pixel=\"{g.col!r}\" Line=\"{g.row!r}\" "
                     f"X=\"{g.x!r}\" Y=\"{g.y!r}\" />")
    lines.append("  </GCPList>")
    bx, by = src.block_shapes[0][1], src.block_shapes[0][0]
    for b in range(1, src.count + 1):
        dtype = _VRT_TYPES.get(src.dtypes[b - 1], "Byte")
        ci = src.colorinterp[b - 1].name.capitalize() if src.colorinterp else "Undefined"
        lines += [
            f'  <VRTRasterBand dataType="{dtype}" band="{b}">',
            f"    <ColorInterp>{ci}</ColorInterp>",
            "    <SimpleSource>",
            f"      <SourceFilename relativeToVRT=\"{relative}\">{_xml_text(rel)}</SourceFilename>",
            f"      <SourceBand>{b}</SourceBand>",
            f'      <SourceProperties RasterXSize="{src.width}" RasterYSize="{src.height}" DataType="{dtype}" '
            f'BlockXSize="{bx}" BlockYSize="{by}" />',
            f'      <SrcRect xOff="0" yOff="0" xSize="{src.width}" ySize="{src.height}" />',
            f'      <DstRect xOff="0" yOff="0" xSize="{src.width}" ySize="{src.height}" />',
            "    </SimpleSource>",
            "  </VRTRasterBand>",
        ]
    lines.append("</VRTDataset>")
    return "\n".join(lines) + "\n"


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
