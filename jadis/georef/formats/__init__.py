"""GCP and georeference file formats: QGIS ``.points``, Allmaps annotations, GDAL GCPs, CSV.

:func:`read_gcps` / :func:`write_gcps` pick the format from the file name.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyproj

from jadis.errors import JadisError
from jadis.georef.gcps import GcpSet

#: file suffix -> format name
FORMATS = {".points": "qgis", ".json": "allmaps", ".jsonld": "allmaps", ".geojson": "allmaps",
           ".csv": "csv", ".txt": "csv", ".vrt": "gdal", ".tif": "gdal", ".tiff": "gdal"}


def format_of(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise JadisError(f"{path}: unknown GCP file type {suffix or '(none)'}; use .points, .json, .csv, .vrt or .tif")
    return FORMATS[suffix]


def read_gcps(path: str | os.PathLike[str], crs: str | pyproj.CRS | None = None) -> GcpSet:
    """Read GCPs from any supported file; ``crs`` overrides the file's CRS (no reprojection).

    Warns (:class:`~jadis.errors.JadisWarning`) when world coordinates lie outside the area of
    use of their CRS: X and Y swapped, or the wrong CRS.
    """
    kind = format_of(path)
    if kind == "qgis":
        from jadis.georef.formats.qgis_points import read_points

        gcps = read_points(path, crs=crs)
    elif kind == "allmaps":
        from jadis.georef.formats.allmaps import read_annotation

        gcps = read_annotation(path).gcps
        gcps = gcps if crs is None else gcps.with_crs(crs)
    elif kind == "csv":
        from jadis.georef.formats.csv import read_csv

        gcps = read_csv(path, crs=crs)
    else:
        from jadis.georef.formats.gdal import read_gdal_gcps

        gcps = read_gdal_gcps(path, crs=crs)
    warn_outside_area_of_use(gcps, str(path))
    return gcps


def warn_outside_area_of_use(gcps: GcpSet, source: str) -> None:
    """One warning line when some GCPs lie far outside the area of use of their CRS."""
    import warnings

    from jadis.errors import JadisWarning, shorten
    from jadis.georef.crs import crs_name, outside_area_of_use

    outside = outside_area_of_use(gcps.world, gcps.crs)
    if outside is None or not outside.any():
        return
    area = gcps.crs.area_of_use
    area_name = shorten(area.name if area else "", 50).rstrip(".")
    names = ", ".join(gcps.name(int(i)) for i in np.flatnonzero(outside)[:5])
    more = ", …" if outside.sum() > 5 else ""
    warnings.warn(JadisWarning(
        f"{shorten(source)}: {int(outside.sum())} of {len(gcps)} GCPs ({names}{more}) lie outside the area of use "
        f"of {shorten(crs_name(gcps.crs), 40)} ({area_name}): X and Y swapped, "
        "or the wrong CRS (see --crs)?"), stacklevel=2)


def write_gcps(path: str | os.PathLike[str], gcps: GcpSet, image: str | os.PathLike[str] | None = None) -> Path:
    """Write GCPs in the format given by the suffix (``image``: the raster a GDAL VRT/GeoTIFF refers to)."""
    kind = format_of(path)
    if kind == "qgis":
        from jadis.georef.formats.qgis_points import write_points

        return write_points(path, gcps)
    if kind == "csv":
        from jadis.georef.formats.csv import write_csv

        return write_csv(path, gcps)
    if kind == "gdal":
        from jadis.georef.formats.gdal import write_gdal_gcps

        if image is None:
            raise JadisError(f"{path}: writing GDAL GCPs needs the image they belong to")
        return write_gdal_gcps(path, gcps, image)
    raise JadisError(f"{path}: write a Georeference (not bare GCPs) as an Allmaps annotation")
